"""The history store: a folder of parquet parts, one per (commit, machine).

A part holds every record of one commit measured on one machine (one per dataset, curve and
rate point). Its name is derived from the commit and the machine, so recording a commit again
on the same machine writes the same name: the new part replaces the old one atomically (temporary
file, fsync, rename, as result parts are written), and a history never holds a commit twice
whatever a CI job retries. Reads check every part and name a foreign or damaged file in one line.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import ResultsError, one_line
from bench.outputs import output_folder
from bench.schema import METRIC_COLUMNS
from bench.store.parts import TMP_PREFIX, _fsync_dir, _reason, _remove, check_part_file, write_file

HISTORY_VERSION = "1"
VERSION_KEY = b"bench.history_version"
PART_GLOB = "commit-*.parquet"
#: One record: where and what was measured, then the means over the images of one rate point.
HISTORY_SCHEMA = pa.schema([
    ("commit", pa.string()), ("commit_date", pa.timestamp("us", tz="UTC")), ("subject", pa.string()),
    ("machine", pa.string()), ("device", pa.string()), ("dataset", pa.string()), ("codec", pa.string()),
    ("codec_impl", pa.string()), ("codec_version", pa.string()), ("params", pa.string()),
    ("decoder_options", pa.string()), ("rate", pa.float64()), ("images", pa.int32()), ("bpp", pa.float64()),
    *((metric, pa.float64()) for metric in METRIC_COLUMNS),
    ("encode_s", pa.float64()), ("decode_s", pa.float64()), ("harness_version", pa.string()),
    ("recorded_utc", pa.timestamp("us", tz="UTC")),
])


def part_name(commit: str, machine: str) -> str:
    """The part of (commit, machine); the machine enters as a digest, so any host name is safe."""
    return f"commit-{commit}-{hashlib.sha256(machine.encode()).hexdigest()[:12]}.parquet"


def write_commit(root: Path, records: pd.DataFrame) -> tuple[Path, bool]:
    """Store the records of one commit on one machine, replacing any earlier part of that pair;
    returns the part and whether it replaced one."""
    commits, machines = records["commit"].unique(), records["machine"].unique()
    if len(commits) != 1 or len(machines) != 1:
        raise ValueError("one part holds exactly one commit and one machine")
    final = root / part_name(commits[0], machines[0])
    table = pa.Table.from_pandas(records[HISTORY_SCHEMA.names], schema=HISTORY_SCHEMA, preserve_index=False)
    table = table.replace_schema_metadata({VERSION_KEY: HISTORY_VERSION.encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    tmp = root / f"{TMP_PREFIX}{final.name}"
    replaced = final.exists()
    try:
        output_folder(root, "history of results per commit")
        write_file(tmp, sink.getvalue())
        os.replace(tmp, final)
    except OSError as exc:
        _remove(tmp)
        raise ResultsError(f"{root}: writing a history part failed ({_reason(exc)}); free space or fix "
                           "permissions, then append again") from None
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(root)
    return final, replaced


def read_part(path: Path) -> pa.Table:
    """One history part, checked: a damaged file or a parquet file of another kind is one line.
    Read through one ``ParquetFile`` (no dataset discovery): a long history has a part per commit."""
    check_part_file(path)
    try:
        with pq.ParquetFile(path) as part:
            schema = part.schema_arrow
            version = (schema.metadata or {}).get(VERSION_KEY)
            if version is None:
                raise ResultsError(f"{path}: not a bench history part (no history metadata); move it out of the history")
            if version.decode(errors="replace") != HISTORY_VERSION:
                raise ResultsError(f"{path}: history version {version.decode(errors='replace')}, this bench reads "
                                   f"{HISTORY_VERSION}; use the bench that wrote it")
            if not schema.remove_metadata().equals(HISTORY_SCHEMA):
                raise ResultsError(f"{path}: its columns are not those of history version {HISTORY_VERSION}; "
                                   "move it out of the history")
            return part.read()
    except (OSError, pa.ArrowException) as exc:
        raise ResultsError(f"{path}: not a readable parquet file ({one_line(exc)}); move it out of the history") from None


def read_history(root: Path) -> pd.DataFrame:
    """Every record of the history folder (empty with the schema's columns when there is none)."""
    if root.exists() and not root.is_dir():
        raise ResultsError(f"{root}: a file, not a history folder (a history.jsonl of summaries has no rate points "
                           "to migrate); record runs with `bench history append --history FOLDER`")
    paths = sorted(root.glob(PART_GLOB)) if root.is_dir() else []
    tables = [read_part(path) for path in paths]
    table = pa.concat_tables(tables) if tables else HISTORY_SCHEMA.empty_table()
    return table.to_pandas()
