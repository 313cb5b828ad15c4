"""The store as a folder: append parts, read them back deduplicated, compact them.

Reading concatenates every part in name order and keeps one row per key (a successful row wins
over an error row, then the row of the later part), so resuming never rewrites anything. A store that cannot be written is
found before any work (``check_writable``).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable, Sequence, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from bench.errors import ResultsError
from bench.outputs import output_folder
from bench.schema import arrow_schema
from bench.store.checks import REQUIRED_VALUES
from bench.store.lock import LOCK_NAME
from bench.store.shortage import shortage
from bench.store.parts import (
    PART_GLOB,
    TMP_PREFIX,
    PartVanished,
    StoreWriteError,
    _fsync_dir,
    _reason,
    _remove,
    check_part_file,
    deduplicate,
    part_name,
    read_part,
    rows_to_table,
    write_file,
)

T = TypeVar("T")


#: What every read reads whatever columns a command asks for: the columns each row must fill
#: (checked in every part, ``REQUIRED_VALUES``), and what deduplication orders and picks by.
ALWAYS_READ = (*REQUIRED_VALUES, "error", "rate")


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
        except MemoryError as exc:  # building the table ran out
            raise self._write_failed(exc, rows) from None

    def write_table(self, table: pa.Table) -> Path:
        """Write a table of the store schema as one new part: temp file, fsync, rename.

        The part is encoded in memory and written with unbuffered ``os.write``, so a failing
        disk raises once (no buffered close that flushes again) and the temporary file is
        removed whatever stops the write, a signal included.
        """
        name = part_name()
        final = self.root / name
        tmp = self.root / f"{TMP_PREFIX}{name}"
        try:
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression="zstd")
            output_folder(self.root, "results store")
            write_file(tmp, sink.getvalue())
            os.replace(tmp, final)
        except (OSError, MemoryError) as exc:
            _remove(tmp)
            raise self._write_failed(exc) from None
        except BaseException:
            _remove(tmp)
            raise
        _fsync_dir(self.root)
        return final

    def _write_failed(self, exc: OSError | MemoryError, rows: list[dict] | None = None) -> StoreWriteError:
        """The one line for a part that could not be written: a full disk, a permission, or the
        process out of file descriptors or memory, each with its own fix."""
        reason, fix = shortage(exc) or (_reason(exc), "free space or fix permissions")
        return StoreWriteError(f"{self.root}: writing a results part failed ({reason}); {fix}, "
                               "then run the same command to resume", rows)

    def check_writable(self) -> None:
        """Create the folder and write and remove a probe file, so an unwritable store is one
        line before any work rather than a traceback after it."""
        if self.root.exists() and not self.root.is_dir():
            raise StoreWriteError(f"{self.root}: is a file, not a results folder; pass --results a folder")
        probe = self.root / f"{TMP_PREFIX}probe-{uuid.uuid4().hex[:12]}"
        try:
            output_folder(self.root, "results store")
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
        parts = sorted(self.root.glob(PART_GLOB), key=lambda part: part.name)  # write order (``part_name``)
        for part in parts:
            check_part_file(part)
        return parts

    def require_parts(self, doing: str) -> None:
        """Refuse, in one line, a path that holds no store for a command that rewrites one
        (``doing``: "compact", "migrate"): a typo'd path must not pass as "nothing to do"."""
        if not self.root.exists():
            raise ResultsError(f"{self.root}: no such folder, nothing to {doing}; pass the results folder a run wrote")
        if not self.root.is_dir():
            raise ResultsError(f"{self.root}: is a file, not a results folder; pass the folder that holds the {PART_GLOB} files")
        if not self.parts():
            raise ResultsError(f"{self.root}: holds no {PART_GLOB} files, nothing to {doing}; "
                               "pass the results folder a run wrote")

    def read(self, include_errors: bool = True, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """All rows, one per key; error rows only where no successful row exists. ``columns``:
        only these (and those deduplication needs): a command that reads a third of the columns
        of a store of 10^6 rows keeps a third of the memory and skips the hashes and commands."""
        wanted = None if columns is None else [*dict.fromkeys([*ALWAYS_READ, *columns])]
        return deduplicate(self._read_parts(lambda part: read_part(part, wanted)), include_errors)

    def _read_parts(self, read: Callable[[Path], T]) -> list[T]:
        """``read`` of every part. A part that vanishes under the reader (a ``bench compact``
        replaced it with the merged part) is not a broken store: the parts are listed again and
        read once more; a store that changes again in that time is one line asking to rerun."""
        try:
            return [read(part) for part in self.parts()]
        except PartVanished:
            pass
        try:
            return [read(part) for part in self.parts()]
        except PartVanished:
            raise ResultsError(f"{self.root}: the store changed while it was read (a compact?); "
                               "run the command again") from None

    def finished_keys(self) -> set[str]:
        """Keys of rows that succeeded; these tasks are skipped when a run resumes. The columns
        every row needs are read and checked too, so a bad part stops the run before any work
        rather than having its rows measured again."""
        def finished(part: Path) -> list[str]:
            table = read_part(part, columns=list(dict.fromkeys(("key", "error", *REQUIRED_VALUES))))
            return table.filter(pa.compute.is_null(table["error"]))["key"].to_pylist()

        return {key for keys in self._read_parts(finished) for key in keys}


def read_rows(path: Path | str, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Rows of a store folder or of a single parquet file, one per key (``columns``: see ``Store.read``)."""
    path = Path(path)
    if path.is_dir():
        return Store(path).read(columns=columns)
    if path.exists():
        return deduplicate([read_part(path, None if columns is None else [*ALWAYS_READ, *columns])])
    raise ResultsError(f"{path}: neither a results folder nor a parquet file; check --results")
