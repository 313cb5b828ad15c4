"""Bring a store written by an older schema version to this one without measuring anything again.

A schema bump changes what a key hashes (version 2 added the image name), not what was measured:
an old row's bytes, metrics and provenance stay true. ``migrate`` recomputes each old row's key
from its own columns, marks it with this schema version, writes the rows as one new part and only
then removes the old parts (a crash in between leaves old parts that a rerun migrates again; equal
keys are deduplicated on read). Kept bitstreams are renamed to their new keys.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from bench.errors import ResultsError
from bench.plan.tasks import identity, key_of
from bench.schema import SCHEMA_VERSION
from bench.store import Store, rows_to_table

#: Schema versions this harness can rekey, with what changed.
MIGRATABLE = {1: "keys gain the image name"}


@dataclass(frozen=True)
class Migration:
    parts: int
    rows: int
    bitstreams: int


def part_version(path: Path) -> int | None:
    metadata = pq.read_schema(path).metadata or {}
    version = metadata.get(b"bench.schema_version")
    return int(version) if version is not None and version.isdigit() else None


def new_key(row: dict) -> str:
    """The key this schema gives an old row."""
    target = None
    if row.get("target_bpp") is not None and not pd.isna(row["target_bpp"]):
        target = (row["target_bpp"], json.loads(row["rate_search"])["tolerance"])
    return key_of(identity(
        dataset=row["dataset"], image=row["image"], image_sha256=row["image_sha256"], codec=row["codec"],
        codec_impl=row["codec_impl"], codec_version=row["codec_version"], params=row["params"], rate=row["rate"],
        decoder_options=row["decoder_options"], generation=row["generation"], chain=row["chain"] or "",
        reference=row["reference"], target=target))


def migrate(root: Path) -> Migration:
    """Rekey every part of ``root`` older than this schema; parts already current are left alone."""
    store = Store(root)
    old: list[Path] = []
    for part in store.parts():
        try:
            version = part_version(part)
        except Exception as exc:  # noqa: BLE001 - any unreadable part is named, nothing is changed
            raise ResultsError(f"{part}: not a readable parquet file ({exc}); move it out of the results") from None
        if version == SCHEMA_VERSION:
            continue
        if version not in MIGRATABLE:
            raise ResultsError(f"{part}: schema version {version}, which this harness cannot migrate "
                               f"(it migrates {', '.join(map(str, MIGRATABLE))}); move it out of the results")
        old.append(part)
    if not old:
        return Migration(0, 0, 0)
    rows = pd.concat([pq.read_table(part).to_pandas() for part in old], ignore_index=True)
    records = rows.to_dict("records")
    renamed = 0
    folder = root / "bitstreams"
    for record in records:
        key = new_key(record)
        bitstream = folder / f"{record['key']}.bin"
        if bitstream.is_file():
            os.replace(bitstream, folder / f"{key}.bin")
            renamed += 1
        record.update(key=key, schema_version=SCHEMA_VERSION)
    store.write_table(rows_to_table(records))
    for part in old:
        part.unlink()
    return Migration(len(old), len(records), renamed)
