"""Append-only parquet store of result rows.

Rows are written in small parts, each to a temporary file that is fsynced and renamed into
place, so a killed run (even ``kill -9``) leaves only complete parts; leftover temporaries are
ignored on read and removed by ``compact``. Reading concatenates every part and keeps one row
per key (a successful row wins over an error row, then the newest), so resuming never needs
to rewrite anything. Every read, resume included, goes through ``read_part``, so a corrupt or
foreign part is one line naming the file.

A store that cannot be written is found before any work (``check_writable``); a write that
fails during a run removes its temporary file and raises ``StoreWriteError``, which keeps the
rows it could not write so the caller can save them elsewhere. ``StoreLock`` keeps two runs
from working on one store at once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import stat
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench.errors import BenchError, ResultsError, one_line
from bench.schema import OPTIONAL_COLUMNS, SCHEMA_VERSION, arrow_schema, version_mismatch

PART_GLOB = "part-*.parquet"
TMP_PREFIX = ".tmp-"
LOCK_NAME = ".lock"
#: Most bytes of a lock file read: what bench writes is under 200.
LOCK_BYTES = 4096
#: Largest process id a lock may name (Linux's limit is 2**22; pids are C ints everywhere).
MAX_PID = 2 ** 31 - 1
#: The metadata key every part written by bench carries (bench/schema.py puts it there).
VERSION_KEY = b"bench.schema_version"


class StoreWriteError(ResultsError):
    """A part could not be written; ``rows`` are the rows it held (none are in the store)."""

    def __init__(self, message: str, rows: list[dict] | None = None) -> None:
        super().__init__(message)
        self.rows = rows or []


class Store:
    """A folder of parquet parts holding rows of one schema."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # -- writing ----------------------------------------------------------------------
    def write(self, rows: list[dict]) -> Path | None:
        """Write ``rows`` as one new part atomically; returns its path (None when empty).

        A failing write raises StoreWriteError carrying ``rows``: none of them is in the store.
        """
        if not rows:
            return None
        try:
            return self.write_table(rows_to_table(rows))
        except StoreWriteError as exc:
            exc.rows = list(rows)
            raise

    def write_table(self, table: pa.Table) -> Path:
        """Write a table of the store schema as one new part: temp file, fsync, rename.

        The part is encoded in memory and written with unbuffered ``os.write``, so a failing
        disk raises once (no buffered close that flushes again) and the temporary file is
        removed whatever stops the write, a signal included.
        """
        name = f"part-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:12]}.parquet"
        final = self.root / name
        tmp = self.root / f"{TMP_PREFIX}{name}"
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_file(tmp, sink.getvalue())
            os.replace(tmp, final)
        except OSError as exc:
            _remove(tmp)
            raise StoreWriteError(f"{self.root}: writing a results part failed ({_reason(exc)}); "
                                  "free space or fix permissions, then run the same command to resume") from None
        except BaseException:
            _remove(tmp)
            raise
        _fsync_dir(self.root)
        return final

    def check_writable(self) -> None:
        """Create the folder and write and remove a probe file, so an unwritable store is one
        line before any work rather than a traceback after it."""
        if self.root.exists() and not self.root.is_dir():
            raise StoreWriteError(f"{self.root}: is a file, not a results folder; pass --results a folder")
        probe = self.root / f"{TMP_PREFIX}probe-{uuid.uuid4().hex[:12]}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_file(probe, b"bench probe\n")
        except OSError as exc:
            _remove(probe)
            raise StoreWriteError(f"{self.root}: cannot write results there ({_reason(exc)}); "
                                  "pass --results a writable folder") from None
        _remove(probe)

    def remove_temporaries(self) -> int:
        """Remove what killed writers left behind (temporary parts and bitstreams, takeover
        markers); only safe while holding the store's lock. Returns how many were removed."""
        leftovers = [*self.root.glob(f"{TMP_PREFIX}*"), *self.root.glob(f"{LOCK_NAME}.takeover-*"),
                     *(self.root / "bitstreams").glob(f"{TMP_PREFIX}*")]
        for path in leftovers:
            _remove(path)
        return len(leftovers)

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
        """Every part, each checked to be a regular file (``check_part_file``) before anyone opens it."""
        if not self.root.is_dir():
            return []
        parts = sorted(self.root.glob(PART_GLOB))
        for part in parts:
            check_part_file(part)
        return parts

    def read(self, include_errors: bool = True) -> pd.DataFrame:
        """All rows, one per key; error rows only where no successful row exists."""
        return deduplicate([read_part(part) for part in self.parts()], include_errors)

    def finished_keys(self) -> set[str]:
        """Keys of rows that succeeded; these tasks are skipped when a run resumes."""
        keys: set[str] = set()
        for part in self.parts():
            table = read_part(part, columns=["key", "error"])
            ok = table.filter(pa.compute.is_null(table["error"]))
            keys.update(ok["key"].to_pylist())
        return keys


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


def read_rows(path: Path | str) -> pd.DataFrame:
    """Rows of a store folder or of a single parquet file, one per key."""
    path = Path(path)
    if path.is_dir():
        return Store(path).read()
    if path.exists():
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
    """Collects rows and writes a part every ``max_rows`` rows or ``max_seconds`` seconds.

    Rows leave the buffer only once their part is in place, so after a failed write
    ``pending`` still holds every row not in the store. Leaving the ``with`` block on a
    StoreWriteError writes nothing (flushing again would only fail again); on another
    exception the buffered rows are still written, and a write failure then does not hide
    the exception that ended the block.
    """

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

    @property
    def pending(self) -> list[dict]:
        """Rows added but not yet in the store."""
        return list(self._rows)

    def flush(self) -> None:
        self.store.write(self._rows)
        self.written += len(self._rows)
        self._rows = []
        self._last_flush = time.monotonic()

    def __enter__(self) -> "BufferedWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.flush()
        elif not issubclass(exc_type, StoreWriteError):
            with contextlib.suppress(StoreWriteError):
                self.flush()


def save_recovery(rows: list[dict], run_id: str) -> Path | None:
    """Write rows a full or unwritable store could not take to ``recovered-<run>.parquet`` in
    the system temporary folder; None when that fails too."""
    if not rows:
        return None
    target = Path(tempfile.gettempdir()) / f"recovered-{run_id}.parquet"
    sink = pa.BufferOutputStream()
    pq.write_table(rows_to_table(rows), sink, compression="zstd")
    tmp = target.with_name(f"{TMP_PREFIX}{target.name}")
    try:
        write_file(tmp, sink.getvalue())
        os.replace(tmp, target)
    except OSError:
        _remove(tmp)
        return None
    return target


class StoreInUse(BenchError):
    """Another live ``bench run`` holds the store's lock."""


class StoreLock:
    """``<store>/.lock``: one writer per store at a time (``bench run``, ``bench drift run``,
    ``bench measure``; the lock names which).

    The file is created with O_CREAT|O_EXCL and holds the holder's PID, host and start time.
    A lock whose holder is gone (same host, PID not alive) is taken over: the taker first
    creates a marker named after that exact lock content with O_EXCL, so of several runs that
    find the same stale lock only one replaces it, and it checks the content again before it
    does. A lock from another host is never taken over: its PID cannot be checked from here.
    """

    def __init__(self, root: Path, command: str = "bench run") -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_NAME
        self.note: str | None = None
        self._content = json.dumps({"pid": os.getpid(), "host": platform.node(), "command": command,
                                    "since": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")})

    def acquire(self) -> "StoreLock":
        """Take the lock or raise StoreInUse naming the holder; ``note`` says if a stale one was replaced."""
        for _ in range(50):
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                held = self._read()
                if held is None:
                    continue  # released meanwhile
                if lock_problem(held) is not None:
                    held = self._settled(held)
                    if held is None:
                        continue
                if not self._stale(held):
                    raise StoreInUse(self._in_use(held)) from None
                if self._take_over(held):
                    return self
                time.sleep(0.05)  # another run is taking it over: look again at what it wrote
                continue
            except OSError as exc:
                raise StoreWriteError(f"{self.path}: cannot create the lock file ({_reason(exc)}); "
                                      "pass --results a writable folder") from None
            try:
                os.write(fd, self._content.encode())
            finally:
                os.close(fd)
            return self
        raise StoreInUse(f"{self.root} is in use: its lock changed hands 50 times; try again")

    def release(self) -> None:
        """Remove the lock if it is still this run's (a lock replaced by something else is left)."""
        try:
            if self._read() == self._content:
                _remove(self.path)
        except StoreInUse:
            pass

    def __enter__(self) -> "StoreLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _read(self) -> str | None:
        """The lock's content (None when there is none), read only once ``lstat`` says it is a
        regular file: a FIFO named ``.lock`` would block, a directory is not a lock at all."""
        try:
            mode = self.path.lstat().st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreInUse(f"{self.path}: cannot read the lock ({_reason(exc)}); fix permissions or remove it "
                             f"if no bench command is using {self.root}") from None
        if not stat.S_ISREG(mode):
            raise StoreInUse(f"{self.path}: {_kind(mode) if not stat.S_ISLNK(mode) else 'a symbolic link'}, not a lock "
                             f"file; remove it if no bench command is using {self.root}")
        try:
            with open(self.path, "rb") as handle:
                return handle.read(LOCK_BYTES).decode(errors="replace")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreInUse(f"{self.path}: cannot read the lock ({_reason(exc)}); fix permissions or remove it "
                             f"if no bench command is using {self.root}") from None

    def _settled(self, held: str) -> str | None:
        """A lock whose content is not a lock bench wrote may be one being written this instant
        (created, not yet filled, which takes microseconds): look again for half a second; then
        it is one line naming it."""
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            time.sleep(0.05)
            again = self._read()
            if again is None or lock_problem(again) is None:
                return again
            held = again
        raise StoreInUse(f"{self.path}: not a lock bench wrote ({lock_problem(held)}); remove it if no bench "
                         f"command is using {self.root}")

    def _take_over(self, held: str) -> bool:
        """Replace the stale lock whose content is ``held``; False when another run got there first."""
        marker = self.root / f"{LOCK_NAME}.takeover-{uuid.uuid5(uuid.NAMESPACE_OID, held).hex[:16]}"
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            if time.time() - _mtime(marker) > 60:  # the taker died mid-way; the next run retries
                _remove(marker)
            return False
        try:
            if self._read() != held:
                return False
            tmp = self.root / f"{TMP_PREFIX}lock-{os.getpid()}"
            write_file(tmp, self._content.encode())
            os.replace(tmp, self.path)
        finally:
            _remove(marker)
        info = _holder(held)
        self.note = (f"took over the lock of {self.root}: {info.get('command', 'bench run')} pid {info.get('pid', '?')} "
                     f"(since {info.get('since', '?')}) is gone")
        return True

    @staticmethod
    def _stale(held: str) -> bool:
        info = _holder(held)
        if info.get("host") != platform.node() or not isinstance(info.get("pid"), int):
            return False
        try:
            os.kill(info["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another user's
        return False

    def _in_use(self, held: str) -> str:
        info = _holder(held)
        return (f"{self.root} is in use by {info.get('command', 'bench run')} (pid {info.get('pid', '?')} on {info.get('host', '?')} "
                f"since {info.get('since', '?')}); wait for it or remove {self.path} if that process is gone")


def lock_problem(content: str) -> str | None:
    """What is wrong with a lock's content, or None when it is what ``StoreLock`` writes: JSON
    with a host and a PID a process can have (``os.kill`` takes no bigger number)."""
    if not content.strip():
        return "it is empty"
    info = _holder(content)
    if not info:
        return "its content is not the JSON bench writes"
    pid = info.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= MAX_PID:
        return f"pid {one_line(json.dumps(pid), 40)} is not a process id"
    if not isinstance(info.get("host"), str):
        return "it names no host"
    return None


def _holder(content: str) -> dict:
    """The lock file's fields; empty when it is not the JSON a lock holds (e.g. half written)."""
    try:
        info = json.loads(content)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


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
