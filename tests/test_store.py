"""The parquet store: atomic parts, one row per key on read, safe against interruption."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.errors import ResultsError
from bench.outputs import MARKER
from bench.schema import COLUMN_NAMES, SCHEMA_VERSION
from bench.store import BufferedWriter, Store, StoreWriteError

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def k(name: str) -> str:
    """The key of the row named ``name``: a SHA-256 hex digest, as every key bench writes."""
    return hashlib.sha256(name.encode()).hexdigest()


def row(name: str, psnr: float | None = 30.0, error: str | None = None, minutes: int = 0) -> dict:
    return {"key": k(name), "dataset": "d", "image": "i.png", "codec": "jpeg", "rate": 50.0, "decoder_options": "{}",
            "generation": 1, "chain": "", "psnr_rgb": psnr, "error": error,
            "created_utc": T0 + timedelta(minutes=minutes), "schema_version": SCHEMA_VERSION}


def test_round_trip_keeps_schema_and_descriptions(tmp_path):
    store = Store(tmp_path)
    part = store.write([row("a"), row("b", 31.0)])
    frame = store.read()
    assert list(frame.columns) == list(COLUMN_NAMES)
    assert sorted(frame["key"]) == sorted([k("a"), k("b")])
    field = pq.read_schema(part).field("bpp")
    assert b"bytes" in field.metadata[b"description"]


def test_success_wins_over_error_then_newest_wins(tmp_path):
    store = Store(tmp_path)
    store.write([row("a", None, "boom", minutes=5), row("b", 30.0, minutes=0)])
    store.write([row("a", 29.0, minutes=1), row("b", 32.0, minutes=2)])
    frame = store.read().set_index("key")
    assert frame.loc[k("a"), "psnr_rgb"] == 29.0 and frame.loc[k("b"), "psnr_rgb"] == 32.0
    assert store.finished_keys() == {k("a"), k("b")}


def test_error_rows_are_not_finished(tmp_path):
    store = Store(tmp_path)
    store.write([row("a", None, "boom")])
    assert store.finished_keys() == set()
    assert store.read(include_errors=False).empty


def test_leftover_temporary_files_are_ignored_and_compacted_away(tmp_path):
    store = Store(tmp_path)
    store.write([row("a")])
    (tmp_path / ".tmp-part-x.parquet").write_bytes(b"half a file")
    store.write([row("a", 33.0, minutes=3), row("b")])
    assert len(store.read()) == 2
    assert store.compact() == 2
    assert len(store.parts()) == 1 and not list(tmp_path.glob(".tmp-*"))
    assert store.read().set_index("key").loc[k("a"), "psnr_rgb"] == 33.0


def test_buffered_writer_flushes_by_count(tmp_path):
    store = Store(tmp_path)
    with BufferedWriter(store, max_rows=2, max_seconds=1e9) as writer:
        for key in "abcde":
            writer.add(row(key))
        assert len(store.parts()) == 2
    assert len(store.parts()) == 3 and writer.written == 5


def test_parts_of_another_schema_version_are_refused(tmp_path):
    table = pa.table({"key": ["a"]}).replace_schema_metadata({"bench.schema_version": "0"})
    pq.write_table(table, tmp_path / "part-old.parquet")
    with pytest.raises(ResultsError, match="schema version 0"):
        Store(tmp_path).read()


@pytest.mark.parametrize("content", ["written by another tool", "not parquet at all"])
def test_a_foreign_or_corrupt_results_file_is_one_line_for_the_cli(tmp_path, content):
    path = tmp_path / "rows.parquet"
    if content == "written by another tool":
        pq.write_table(pa.table({"key": ["a"]}), path)
    else:
        path.write_bytes(b"PAR1 this is not a parquet file")
    result = subprocess.run([sys.executable, "-c", "from bench.cli import main; main()", "plot", "--results", str(path),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert path.name in result.stderr and "Traceback" not in result.stderr


def write_part_without(tmp_path, rows: list[dict], dropped: tuple[str, ...]) -> None:
    """A part as an older harness of the same schema version wrote it: ``dropped`` columns absent."""
    from bench.store import rows_to_table

    table = rows_to_table(rows)
    table = table.drop_columns(list(dropped)).replace_schema_metadata(table.schema.metadata)
    pq.write_table(table, tmp_path / "part-00000000T000000-old.parquet")


def test_a_part_without_the_optional_columns_reads_with_them_null(tmp_path):
    from bench.schema import OPTIONAL_COLUMNS

    assert OPTIONAL_COLUMNS == {"target_bpp", "rate_search", "determinism_check", "psnr_rgb_float"}
    write_part_without(tmp_path, [row("old")], tuple(OPTIONAL_COLUMNS))
    store = Store(tmp_path)
    store.write([{**row("new", minutes=1), "target_bpp": 0.5, "rate_search": "{}"}])
    frame = store.read().set_index("key")
    assert list(frame.reset_index().columns) == list(COLUMN_NAMES)
    assert frame["target_bpp"].isna()[k("old")] and frame.loc[k("new"), "target_bpp"] == 0.5
    assert frame["rate_search"].isna()[k("old")] and frame.loc[k("new"), "rate_search"] == "{}"
    assert store.finished_keys() == {k("old"), k("new")}
    assert store.compact() == 2 and len(store.read()) == 2


def test_a_part_without_a_required_column_is_one_line_naming_it(tmp_path):
    write_part_without(tmp_path, [row("a")], ("bpp",))
    with pytest.raises(ResultsError, match=r"part-00000000T000000-old.parquet: lacks column\(s\) bpp"):
        Store(tmp_path).read()


def test_a_foreign_part_is_named_on_resume_too(tmp_path):
    Store(tmp_path).write([row("a")])
    pq.write_table(pa.table({"key": ["x"], "error": [None]}), tmp_path / "part-foreign.parquet")
    for read in (Store(tmp_path).finished_keys, Store(tmp_path).read):
        with pytest.raises(ResultsError, match=r"part-foreign.parquet: not a bench results part \(parquet without bench metadata\)"):
            read()


def test_a_corrupt_part_is_named_on_resume_too(tmp_path):
    Store(tmp_path).write([row("a")])
    (tmp_path / "part-broken.parquet").write_bytes(b"PAR1 this is not a parquet file")
    with pytest.raises(ResultsError, match=r"part-broken.parquet: not a readable parquet file .*; move it out of the results"):
        Store(tmp_path).finished_keys()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused_before_any_work(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(StoreWriteError, match=r"ro: cannot write results there \(Permission denied\); pass --results a writable folder"):
            Store(folder).check_writable()
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs Linux sysfs, which refuses new folders")
def test_a_folder_no_one_may_create_is_refused_even_for_root():
    with pytest.raises(StoreWriteError, match=r"/sys/bench-results: cannot write results there \(Operation not permitted\)"):
        Store("/sys/bench-results").check_writable()


def test_a_results_path_that_is_a_file_or_below_one_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreWriteError, match=r"file: is a file, not a results folder"):
        Store(tmp_path / "file").check_writable()
    with pytest.raises(StoreWriteError, match=r"file/sub: cannot write results there \(Not a directory\)"):
        Store(tmp_path / "file" / "sub").check_writable()
    Store(tmp_path / "new" / "store").check_writable()
    assert [p.name for p in (tmp_path / "new" / "store").iterdir()] == [MARKER]  # the probe is gone


def fail_writes_after(monkeypatch, good: int, folder, code: int = errno.ENOSPC) -> None:
    """Let ``good`` writes into ``folder`` succeed, then fail as a full disk does: half the bytes written."""
    import bench.store
    import bench.store.folder

    real = bench.store.folder.write_file
    calls = {"n": 0}
    monkeypatch.setattr(bench.store, "write_calls", calls, raising=False)

    def write_file(path, data):
        if path.parent != folder:
            return real(path, data)
        calls["n"] += 1
        if calls["n"] > good:
            path.write_bytes(bytes(memoryview(data)[: len(data) // 2]))
            raise OSError(code, os.strerror(code))
        real(path, data)

    monkeypatch.setattr(bench.store.folder, "write_file", write_file)  # where Store.write looks it up


def test_a_failing_write_raises_once_keeps_its_rows_and_leaves_no_temporary(tmp_path, monkeypatch):
    store = Store(tmp_path)
    fail_writes_after(monkeypatch, good=1, folder=tmp_path)
    with pytest.raises(StoreWriteError, match=r"writing a results part failed \(No space left on device\)") as caught:
        with BufferedWriter(store, max_rows=2, max_seconds=1e9) as writer:
            for key in "abcde":
                writer.add(row(key))
    assert [r["key"] for r in caught.value.rows] == [k("c"), k("d")] and [r["key"] for r in writer.pending] == [k("c"), k("d")]
    import bench.store

    assert bench.store.write_calls["n"] == 2  # no second flush while the error propagated
    assert writer.written == 2 and len(store.parts()) == 1 and not list(tmp_path.glob(".tmp-*"))


def test_rows_a_store_cannot_take_are_saved_to_a_recovery_part(tmp_path, monkeypatch):
    from bench.store import read_rows, save_recovery

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    saved = save_recovery([row("a"), row("b")], "run1")
    assert saved == tmp_path / "recovered-run1.parquet"
    assert sorted(read_rows(saved)["key"]) == sorted([k("a"), k("b")])
