"""Kept bitstreams, read back only when they are the bytes their row measured.

``bench run --keep-bitstreams`` writes each row's bitstream as ``<results>/bitstreams/<key>.bin``,
and a drift chain carries its last generations' bitstreams the same way. A file there can be
swapped with another, cut short by a full disk or changed by hand, and a codec decodes most such
bytes without complaint, so a re-measure would store another row's numbers under this row's key.
Every decode of such a file therefore first checks its SHA-256 against the row's
``bitstream_sha256``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import BitstreamMismatch

if TYPE_CHECKING:
    import pandas as pd

#: The fix for a kept bitstream that is not its row's: a run keeping bitstreams re-runs those rows.
RERUN = "re-run those rows: `bench run` with --keep-bitstreams and the same selection"


def kept_path(root: Path, key: str) -> Path:
    """Where ``bench run --keep-bitstreams`` keeps the bitstream of the row ``key`` of store ``root``."""
    return root / "bitstreams" / f"{key}.bin"


def read_checked(path: Path, sha256: str, fix: str = RERUN) -> bytes:
    """The bytes of ``path``, when their SHA-256 is ``sha256`` (the row's ``bitstream_sha256``);
    otherwise BitstreamMismatch naming the file and ``fix``, and nothing is decoded."""
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise BitstreamMismatch(f"{path}: its SHA-256 {actual[:12]}… ({len(data)} bytes) is not the row's "
                                f"bitstream_sha256 {str(sha256)[:12]}… (swapped, truncated or changed); "
                                f"not decoded; {fix}")
    return data


def mismatched_keys(root: Path, rows: pd.DataFrame) -> set[str]:
    """Keys of ``rows`` (key, bitstream_sha256) whose kept bitstream exists under store ``root``
    but is not the row's: the rows a run keeping bitstreams runs again, so its file is right."""
    bad = set()
    for key, sha256 in zip(rows["key"], rows["bitstream_sha256"]):
        path = kept_path(root, key)
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            bad.add(key)
    return bad
