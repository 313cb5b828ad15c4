"""Append-only parquet store of result rows.

Rows are written in small parts, each to a temporary file that is fsynced and renamed into
place, so a killed run (even ``kill -9``) leaves only complete parts; leftover temporaries are
ignored on read and removed by ``compact``. Reading concatenates every part and keeps one row
per key (a successful row wins over an error row, then the newest), so resuming never needs
to rewrite anything.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import ResultsError
from bench.schema import OPTIONAL_COLUMNS, SCHEMA_VERSION, arrow_schema

PART_GLOB = "part-*.parquet"
TMP_PREFIX = ".tmp-"


class Store:
    """A folder of parquet parts holding rows of one schema."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # -- writing ----------------------------------------------------------------------
    def write(self, rows: list[dict]) -> Path | None:
        """Write ``rows`` as one new part atomically; returns its path (None when empty)."""
        return self.write_table(rows_to_table(rows)) if rows else None

    def write_table(self, table: pa.Table) -> Path:
        """Write a table of the store schema as one new part: temp file, fsync, rename."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:12]}.parquet"
        final = self.root / name
        tmp = self.root / f"{TMP_PREFIX}{name}"
        with open(tmp, "wb") as handle:
            pq.write_table(table, handle, compression="zstd")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        _fsync_dir(self.root)
        return final

    def compact(self) -> int:
        """Merge every part into one deduplicated part; returns the number of rows kept."""
        parts = self.parts()
        frame = self.read()
        if frame.empty:
            return 0
        self.write_table(pa.Table.from_pandas(frame, schema=arrow_schema(), preserve_index=False))
        for part in parts:
            part.unlink()
        for tmp in self.root.glob(f"{TMP_PREFIX}*"):
            tmp.unlink()
        return len(frame)

    # -- reading ----------------------------------------------------------------------
    def parts(self) -> list[Path]:
        return sorted(self.root.glob(PART_GLOB)) if self.root.is_dir() else []

    def read(self, include_errors: bool = True) -> pd.DataFrame:
        """All rows, one per key; error rows only where no successful row exists."""
        return deduplicate([read_part(part) for part in self.parts()], include_errors)

    def finished_keys(self) -> set[str]:
        """Keys of rows that succeeded; these tasks are skipped when a run resumes."""
        keys: set[str] = set()
        for part in self.parts():
            table = pq.read_table(part, columns=["key", "error"])
            ok = table.filter(pa.compute.is_null(table["error"]))
            keys.update(ok["key"].to_pylist())
        return keys


def read_part(path: Path) -> pa.Table:
    """One parquet file of the store schema; refuses other schema versions in one line."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise ResultsError(f"{path}: not a readable parquet file ({exc}); move it out of the results") from None
    version = (table.schema.metadata or {}).get(b"bench.schema_version", b"?").decode()
    if version != str(SCHEMA_VERSION):
        raise ResultsError(
            f"{path}: schema version {version}, this harness reads {SCHEMA_VERSION}; "
            "use a matching bench version or move the old results aside"
        )
    return with_optional_columns(table, path)


def with_optional_columns(table: pa.Table, path: Path) -> pa.Table:
    """``table`` with every optional column it predates added as nulls, in schema order.

    Optional columns join a schema version without bumping it (bench/schema.py), so parts
    written before them must still read, and concatenate with newer parts. A missing column
    that is not optional means the part is not this harness's: one line naming the file.
    """
    schema = arrow_schema()
    missing = [f.name for f in schema if f.name not in table.column_names]
    if not missing:
        return table
    required = [name for name in missing if name not in OPTIONAL_COLUMNS]
    if required:
        raise ResultsError(
            f"{path}: lacks column(s) {', '.join(required)} of schema version {SCHEMA_VERSION}; "
            "it was not written by bench run: move it out of the results"
        )
    columns = [table[f.name] if f.name in table.column_names else pa.nulls(table.num_rows, f.type) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def read_rows(path: Path | str) -> pd.DataFrame:
    """Rows of a store folder or of a single parquet file, one per key."""
    path = Path(path)
    if path.is_dir():
        return Store(path).read()
    if path.is_file():
        return deduplicate([read_part(path)])
    raise ResultsError(f"{path}: neither a results folder nor a parquet file; check --results")


def deduplicate(tables: list[pa.Table], include_errors: bool = True) -> pd.DataFrame:
    """Concatenate tables and keep one row per key (success over error, then newest)."""
    if not tables:
        return rows_to_table([]).to_pandas()
    frame = pa.concat_tables(tables).to_pandas()
    frame["_ok"] = frame["error"].isna()
    frame = frame.sort_values(["_ok", "created_utc"]).drop_duplicates("key", keep="last")
    frame = frame.drop(columns="_ok").sort_values(["dataset", "codec", "image", "rate", "generation"])
    if not include_errors:
        frame = frame[frame["error"].isna()]
    return frame.reset_index(drop=True)


class BufferedWriter:
    """Collects rows and writes a part every ``max_rows`` rows or ``max_seconds`` seconds."""

    def __init__(self, store: Store, max_rows: int = 16, max_seconds: float = 2.0) -> None:
        self.store = store
        self.max_rows = max_rows
        self.max_seconds = max_seconds
        self._rows: list[dict] = []
        self._last_flush = time.monotonic()
        self.written = 0

    def add(self, row: dict) -> None:
        self._rows.append(row)
        if len(self._rows) >= self.max_rows or time.monotonic() - self._last_flush >= self.max_seconds:
            self.flush()

    def flush(self) -> None:
        self.store.write(self._rows)
        self.written += len(self._rows)
        self._rows = []
        self._last_flush = time.monotonic()

    def __enter__(self) -> "BufferedWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


def rows_to_table(rows: Iterable[dict]) -> pa.Table:
    """Rows (dicts) as a table of exactly the store schema; missing columns become null."""
    rows = list(rows)
    schema = arrow_schema()
    columns = {}
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if not pa.types.is_floating(field.type):  # rows read back through pandas carry NaN for null
            values = [None if isinstance(v, float) and v != v else v for v in values]
        columns[field.name] = values
    return pa.Table.from_pydict(columns, schema=schema)


def _fsync_dir(path: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
