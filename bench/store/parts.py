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
import uuid
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from bench.errors import BenchNote, ResultsError, one_line
from bench.outputs import PART_GLOB
from bench.schema import SCHEMA_VERSION, arrow_schema, version_mismatch
from bench.store.checks import check_columns, conform

TMP_PREFIX = ".tmp-"


#: The metadata key every part written by bench carries (bench/schema.py puts it there).
VERSION_KEY = b"bench.schema_version"


class StoreWriteError(ResultsError):
    """A part could not be written; ``rows`` are the rows it held (none are in the store)."""

    def __init__(self, message: str, rows: list[dict] | None = None) -> None:
        super().__init__(message)
        self.rows = rows or []


class PartVanished(ResultsError):
    """A part listed a moment ago is gone: the store changed while it was read (``bench compact``
    replaces every part by one), which is not a broken store."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: removed while it was read")


def check_part_file(path: Path) -> None:
    """Refuse a part that is not a regular file, from ``lstat`` alone: opening a FIFO named like
    a part would block for ever (signals included, inside the parquet reader), a directory or a
    device is a traceback or worse. A symbolic link is followed only to a regular file."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        raise PartVanished(path) from None
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({_reason(exc)}); move it out of the results") from None
    try:
        if stat.S_ISLNK(mode):
            mode = path.stat().st_mode
    except OSError as exc:  # a dangling link stays what it is: a broken entry
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
    """One parquet file of the store schema (or ``columns`` of it), columns matched by name.

    A corrupt file, a parquet file bench did not write, another schema version, a missing
    column, a column of the wrong type and a null or malformed value in a column every row
    needs are each one line naming the file (``bench.store.checks``); columns the schema does
    not have are dropped with one ``BenchNote`` warning, which commands print as a line."""
    check_part_file(path)
    try:
        with pq.ParquetFile(path) as part:  # one open, one footer parse: a store has thousands of parts
            schema = part.schema_arrow
            metadata = schema.metadata or {}
            if VERSION_KEY not in metadata:
                raise ResultsError(f"{path}: not a bench results part (parquet without bench metadata); "
                                   "move it out of the results")
            version = metadata[VERSION_KEY].decode(errors="replace")
            if version != str(SCHEMA_VERSION):
                raise ResultsError(f"{path}: {version_mismatch(version)}")
            extra = check_columns(schema, path)
            table = part.read(columns=[name for name in schema.names if name not in extra and (columns is None or name in columns)])
    except FileNotFoundError:  # it passed ``check_part_file`` a moment ago
        raise PartVanished(path) from None
    except (OSError, pa.ArrowException) as exc:
        raise ResultsError(f"{path}: not a readable parquet file ({one_line(exc)}); move it out of the results") from None
    if extra:
        warnings.warn(BenchNote(f"{path}: ignored column(s) {', '.join(extra)}, which schema version "
                                f"{SCHEMA_VERSION} does not have"), stacklevel=2)
    return conform(table, path)


def deduplicate(tables: list[pa.Table], include_errors: bool = True) -> pd.DataFrame:
    """Concatenate tables (in part name order) and keep one row per key: a successful row over an
    error row, then the later one, i.e. the row of the part whose name sorts last (``part_name``).

    The order is the store's own, never a column's: ``created_utc`` could be null or edited in a
    hand-added part, and a rule built on it let such a part beat the real rows."""
    if not tables:
        return rows_to_table([]).to_pandas()
    frame = pa.concat_tables(tables).to_pandas()
    failed = frame["error"].notna().to_numpy()
    frame = frame.iloc[np.argsort(~failed, kind="stable")].drop_duplicates("key", keep="last")
    frame = frame.sort_values(["dataset", "codec", "image", "rate", "generation"])
    if not include_errors:
        frame = frame[frame["error"].isna()]
    return frame.reset_index(drop=True)


def part_name() -> str:
    """A new part's name: ``part-`` and the UTC time to the microsecond, then a random suffix.

    Names sort in the order parts were written, and that order decides which of two rows with
    one key is read (``deduplicate``). Within a process the time never repeats or goes back;
    the names of parts written before microseconds were added (``part-YYYYmmddTHHMMSS-…``) sort
    before any part of a later second and of the same one."""
    global _last_stamp
    _last_stamp = max(time.time_ns() // 1000, _last_stamp + 1)
    seconds, micros = divmod(_last_stamp, 1_000_000)
    return f"part-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(seconds))}.{micros:06d}-{uuid.uuid4().hex[:12]}.parquet"


#: The last microsecond ``part_name`` used in this process.
_last_stamp = 0


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
