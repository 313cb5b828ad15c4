"""Parts: the parquet files a store is made of, and the file operations every writer shares.

A part is written to a temporary file that is fsynced and renamed into place (``write_file``,
``fsync_dir``), so only complete parts ever exist. Every read goes through ``read_part``, which
checks the entry's type before opening it (a FIFO named like a part would block an open
forever) and names the file in one line when it is corrupt, foreign or of another schema.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from bench.errors import ResultsError, one_line
from bench.outputs import PART_GLOB
from bench.schema import OPTIONAL_COLUMNS, SCHEMA_VERSION, arrow_schema, version_mismatch

TMP_PREFIX = ".tmp-"


#: The metadata key every part written by bench carries (bench/schema.py puts it there).
VERSION_KEY = b"bench.schema_version"


class StoreWriteError(ResultsError):
    """A part could not be written; ``rows`` are the rows it held (none are in the store)."""

    def __init__(self, message: str, rows: list[dict] | None = None) -> None:
        super().__init__(message)
        self.rows = rows or []


def check_part_file(path: Path) -> None:
    """Refuse a part that is not a regular file, from ``lstat`` alone: opening a FIFO named like
    a part would block for ever (signals included, inside the parquet reader), a directory or a
    device is a traceback or worse. A symbolic link is followed only to a regular file."""
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            mode = path.stat().st_mode
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({_reason(exc)}); move it out of the results") from None
    if not stat.S_ISREG(mode):
        raise ResultsError(f"{path}: {_kind(mode)}, not a results part; move it out of the results")


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def read_part(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One parquet file of the store schema (or ``columns`` of it); a corrupt file, a parquet
    file bench did not write, another schema version and a column of the wrong type are each
    one line naming the file."""
    check_part_file(path)
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise ResultsError(f"{path}: not a readable parquet file ({one_line(exc)}); move it out of the results") from None
    metadata = schema.metadata or {}
    if VERSION_KEY not in metadata:
        raise ResultsError(f"{path}: not a bench results part (parquet without bench metadata); "
                           "move it out of the results")
    version = metadata[VERSION_KEY].decode(errors="replace")
    if version != str(SCHEMA_VERSION):
        raise ResultsError(f"{path}: {version_mismatch(version)}")
    missing_required(schema.names, path)
    check_types(schema, path)
    try:
        table = pq.read_table(path, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise ResultsError(f"{path}: not a readable parquet file ({one_line(exc)}); move it out of the results") from None
    return table if columns is not None else with_optional_columns(table, path)


def check_types(schema: pa.Schema, path: Path) -> None:
    """Refuse a part whose column has another type than the store schema's: a ``bpp`` of
    strings would otherwise reach the analysis (a traceback, or a gate that passes). Only
    bench's own type or an all-null column is accepted."""
    expected = {f.name: f.type for f in arrow_schema()}
    if len(set(schema.names)) != len(schema.names):
        raise ResultsError(f"{path}: a column name appears twice; it was not written by bench run: "
                           "move it out of the results")
    for field in schema:
        want = expected.get(field.name)
        if want is not None and field.type != want and not pa.types.is_null(field.type):
            raise ResultsError(f"{path}: column {field.name} is {field.type}, schema version {SCHEMA_VERSION} "
                               f"has {want}; it was not written by bench run: move it out of the results")


def with_optional_columns(table: pa.Table, path: Path) -> pa.Table:
    """``table`` with every optional column it predates added as nulls, in schema order.

    Optional columns join a schema version without bumping it (bench/schema.py), so parts
    written before them must still read, and concatenate with newer parts. A missing column
    that is not optional means the part is not this harness's: one line naming the file.
    """
    schema = arrow_schema()
    missing_required(table.column_names, path)
    if all(f.name in table.column_names and table.schema.field(f.name).type == f.type for f in schema):
        return table
    columns = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in schema]  # cast: an all-null column (checked by check_types) takes the schema's type
    return pa.Table.from_arrays(columns, schema=schema)


def missing_required(names: list[str], path: Path) -> None:
    """Refuse a part that lacks a column which is not optional: it is not this harness's."""
    required = [f.name for f in arrow_schema() if f.name not in names and f.name not in OPTIONAL_COLUMNS]
    if required:
        raise ResultsError(
            f"{path}: lacks column(s) {', '.join(required)} of schema version {SCHEMA_VERSION}; "
            "it was not written by bench run: move it out of the results"
        )


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


def write_file(path: Path, data: bytes | pa.Buffer) -> None:
    """Create ``path`` with ``data``, fsynced, through unbuffered writes: an error is raised
    once, where it happens, and never again by a flush on close."""
    view = memoryview(data)
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
    try:
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    """Remove ``path`` if it is there; cleaning up must never hide the error being reported."""
    try:
        path.unlink()
    except OSError:
        pass


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _reason(exc: OSError) -> str:
    """An OSError's reason without the path (the message names the folder already)."""
    return exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)


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
