"""Dataset registry: named datasets (entry points), or any folder of images.

A dataset resolves to an ordered list of image files under a data directory. Named datasets
can download missing files; downloads verify SHA-256 and land atomically, and tests point the
data directory at local copies (``BENCH_DATA_DIR``) so nothing is fetched.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

from bench.errors import BenchError, ConfigError

ENTRY_POINT_GROUP = "bench.datasets"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp")
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class ImageRef:
    """One image of a dataset: where it is and how the rows name it."""

    dataset: str
    name: str
    path: Path


@dataclass(frozen=True)
class RemoteFile:
    name: str
    url: str
    sha256: str


@dataclass(frozen=True)
class NamedDataset:
    """A dataset with a fixed file list: downloadable files or files found by a callable."""

    name: str
    description: str
    files: tuple[RemoteFile, ...] = ()
    #: For datasets shipped inside an installed package: returns the folder holding them.
    local_root: Callable[[], Path] | None = None
    local_names: tuple[str, ...] = field(default=())

    def root(self, data_dir: Path) -> Path:
        return self.local_root() if self.local_root else data_dir / self.name

    def images(self, data_dir: Path, download: bool = True) -> list[ImageRef]:
        root = self.root(data_dir)
        if self.local_root:
            return [ImageRef(self.name, n, root / n) for n in self.local_names]
        missing = [f for f in self.files if not (root / f.name).is_file()]
        if missing and download:
            for remote in missing:
                fetch(remote, root / remote.name)
        elif missing:
            raise BenchError(
                f"dataset {self.name!r}: {len(missing)} file(s) missing under {root}; "
                f"run `bench datasets fetch {self.name}` or set BENCH_DATA_DIR"
            )
        return [ImageRef(self.name, f.name, root / f.name) for f in self.files]


def fetch(remote: RemoteFile, target: Path) -> None:
    """Download ``remote`` to ``target``: checksum verified, written atomically, one-line errors."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(remote.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise BenchError(
            f"cannot download {remote.name} from {remote.url} ({exc}); offline? put the file in "
            f"{target.parent} or set BENCH_DATA_DIR to a folder that holds it"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != remote.sha256:
        raise BenchError(
            f"{remote.url}: SHA-256 {digest} does not match the pinned {remote.sha256}; not saved"
        )
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def default_data_dir() -> Path:
    """``BENCH_DATA_DIR`` if set, else the user cache (``$XDG_CACHE_HOME/bench/datasets``)."""
    if os.environ.get("BENCH_DATA_DIR"):
        return Path(os.environ["BENCH_DATA_DIR"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "bench" / "datasets"


@lru_cache(maxsize=None)
def registered_datasets() -> dict[str, NamedDataset]:
    return {ep.name: ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP)}


def folder_images(folder: Path) -> list[ImageRef]:
    """Every file with an image suffix under ``folder`` (recursively), in sorted order."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BenchError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)}) found")
    label = str(folder)
    return [ImageRef(label, str(p.relative_to(folder)), p) for p in files]


def resolve(dataset: str, data_dir: Path | None = None, download: bool = True) -> list[ImageRef]:
    """Images of a registered dataset name or of a folder path."""
    named = registered_datasets()
    if dataset in named:
        return named[dataset].images(data_dir or default_data_dir(), download=download)
    folder = Path(dataset).expanduser()
    if folder.is_dir():
        return folder_images(folder)
    raise ConfigError(
        f"unknown dataset {dataset!r}: not a registered name ({', '.join(sorted(named))}) "
        "nor an existing folder"
    )
