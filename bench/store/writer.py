"""Buffered writing during a run, and where rows go when the store cannot take them."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from bench.store.folder import Store
from bench.store.parts import TMP_PREFIX, StoreWriteError, _remove, rows_to_table, write_file


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
    the system temporary folder; None when that fails too (out of space, descriptors or memory)."""
    if not rows:
        return None
    target = Path(tempfile.gettempdir()) / f"recovered-{run_id}.parquet"
    tmp = target.with_name(f"{TMP_PREFIX}{target.name}")
    try:
        sink = pa.BufferOutputStream()
        pq.write_table(rows_to_table(rows), sink, compression="zstd")
        write_file(tmp, sink.getvalue())
        os.replace(tmp, target)
    except (OSError, MemoryError):
        _remove(tmp)
        return None
    return target
