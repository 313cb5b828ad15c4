"""Kodak Lossless True Color Image Suite: 24 PNGs, 768×512 or 512×768.

Canonical source: Rich Franzen's lossless PNG release of Kodak Photo CD PCD0992
(http://r0k.us/graphics/kodak/). The SHA-256 of every file is pinned in ``kodak_sha256.txt``.
"""

from pathlib import Path

from bench.plan.datasets import NamedDataset, RemoteFile

BASE_URL = "http://r0k.us/graphics/kodak/kodak/"


def _pinned_files() -> tuple[RemoteFile, ...]:
    lines = (Path(__file__).with_name("kodak_sha256.txt")).read_text(encoding="utf-8").split("\n")
    pairs = [line.split() for line in lines if line.strip()]
    return tuple(RemoteFile(name, BASE_URL + name, digest) for digest, name in pairs)


KODAK = NamedDataset(
    name="kodak",
    description="Kodak PhotoCD PCD0992, 24 lossless PNGs (r0k.us), SHA-256 pinned",
    files=_pinned_files(),
)
