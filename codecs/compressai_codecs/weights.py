"""The CompressAI zoo's published weights: which file each model, metric and quality uses, and
a verified copy of it in the user cache.

A zoo file is named in settings as ``zoo:<file name>`` (``zoo:mbt2018-mean-3-723404a8.pth.tar``):
the setting, part of every row key, is the same on every machine, as ``demo:`` settings are for
the INN codecs. The zoo's file names end in the first hex digits of the file's SHA-256, which the
download checks before the file enters the cache; the cached file is trusted after that.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from compressai.zoo import image, image_vbr

from bench.errors import CodecUnavailable
from bench.plan.archives import ArchiveError, download_file

ZOO_PREFIX = "zoo:"
#: ``<name>-<sha256 prefix>.pth.tar``, as every zoo URL ends.
_HASHED_NAME = re.compile(r"^[A-Za-z0-9_.-]+-([0-9a-f]{8,64})\.pth\.tar$")


def _zoo_urls() -> dict[str, str]:
    """File name → URL for every published image model file of this CompressAI (fixed- and variable-rate)."""
    urls = [url for metrics in image.model_urls.values() for qualities in metrics.values() for url in qualities.values()]
    urls += [url for metrics in image_vbr.model_urls.values() for url in metrics.values()]
    return {url.rsplit("/", 1)[1]: url for url in urls}


ZOO_URLS = _zoo_urls()


def zoo_settings(architecture: str, metric: str) -> list[str]:
    """The ``zoo:`` settings of a fixed-rate model's qualities (quality i is item i - 1)."""
    qualities = image.model_urls[architecture][metric]
    return [ZOO_PREFIX + qualities[q].rsplit("/", 1)[1] for q in sorted(qualities)]


def zoo_vbr_setting(architecture: str, metric: str) -> str:
    """The ``zoo:`` setting of a variable-rate model's one file."""
    return ZOO_PREFIX + image_vbr.model_urls[architecture][metric].rsplit("/", 1)[1]


def sha256_prefix(filename: str) -> str:
    """The SHA-256 prefix a zoo file name ends with (``…-723404a8.pth.tar`` → ``723404a8``)."""
    match = _HASHED_NAME.match(filename)
    if not match:
        raise CodecUnavailable(f"{filename!r} does not end in -<sha256 prefix>.pth.tar as the zoo's files do")
    return match.group(1)


def cache_dir() -> Path:
    """Where zoo weights are kept: ``$XDG_CACHE_HOME/bench/compressai`` (``~/.cache/bench/compressai``)."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bench" / "compressai"


def zoo_file(setting: str, where: str) -> Path:
    """The cached file of a ``zoo:`` setting, downloaded and verified on first use.

    ``where`` names the setting to change (``codec 'mbt2018': params.checkpoints``); it ends the
    message of a failed download, since local copies are the way to run offline.
    """
    filename = setting[len(ZOO_PREFIX):]
    url = ZOO_URLS.get(filename)
    if url is None:
        raise CodecUnavailable(f"{where} = {setting!r}: not a file of the CompressAI zoo; "
                               f"e.g. {ZOO_PREFIX}{next(iter(ZOO_URLS))}")
    return fetch(url, cache_dir() / filename, where)


def fetch(url: str, target: Path, where: str) -> Path:
    """``target`` if it exists, else ``url`` downloaded to it once its SHA-256 starts with the
    prefix its name carries. A wrong file is deleted (never cached), so the next run downloads again."""
    if target.is_file():
        return target
    expected = sha256_prefix(target.name)
    staging = target.with_name(target.name + ".download")
    advice = f"download it by hand into {target.parent}, or set {where} to local copies"
    try:
        download_file(url, staging, by_hand=advice)
    except ArchiveError as exc:
        raise CodecUnavailable(str(exc)) from None
    with open(staging, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    if not digest.startswith(expected):
        staging.unlink()
        raise CodecUnavailable(f"{where}: {url} gave a file with SHA-256 {digest[:16]}…, its name says {expected}…; "
                               f"deleted, not cached: run again, or {advice}")
    os.replace(staging, target)
    return target
