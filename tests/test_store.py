"""The parquet store: atomic parts, one row per key on read, safe against interruption."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.errors import ResultsError
from bench.schema import COLUMN_NAMES, SCHEMA_VERSION
from bench.store import BufferedWriter, Store

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def row(key: str, psnr: float | None = 30.0, error: str | None = None, minutes: int = 0) -> dict:
    return {"key": key, "dataset": "d", "image": "i.png", "codec": "jpeg", "rate": 50.0, "generation": 1,
            "chain": "", "psnr_rgb": psnr, "error": error, "created_utc": T0 + timedelta(minutes=minutes),
            "schema_version": SCHEMA_VERSION}


def test_round_trip_keeps_schema_and_descriptions(tmp_path):
    store = Store(tmp_path)
    part = store.write([row("a"), row("b", 31.0)])
    frame = store.read()
    assert list(frame.columns) == list(COLUMN_NAMES)
    assert sorted(frame["key"]) == ["a", "b"]
    field = pq.read_schema(part).field("bpp")
    assert b"bytes" in field.metadata[b"description"]


def test_success_wins_over_error_then_newest_wins(tmp_path):
    store = Store(tmp_path)
    store.write([row("a", None, "boom", minutes=5), row("b", 30.0, minutes=0)])
    store.write([row("a", 29.0, minutes=1), row("b", 32.0, minutes=2)])
    frame = store.read().set_index("key")
    assert frame.loc["a", "psnr_rgb"] == 29.0 and frame.loc["b", "psnr_rgb"] == 32.0
    assert store.finished_keys() == {"a", "b"}


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
    assert store.read().set_index("key").loc["a", "psnr_rgb"] == 33.0


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

    assert OPTIONAL_COLUMNS == {"target_bpp", "rate_search"}
    write_part_without(tmp_path, [row("old")], tuple(OPTIONAL_COLUMNS))
    store = Store(tmp_path)
    store.write([{**row("new", minutes=1), "target_bpp": 0.5, "rate_search": "{}"}])
    frame = store.read().set_index("key")
    assert list(frame.reset_index().columns) == list(COLUMN_NAMES)
    assert frame["target_bpp"].isna()["old"] and frame.loc["new", "target_bpp"] == 0.5
    assert frame["rate_search"].isna()["old"] and frame.loc["new", "rate_search"] == "{}"
    assert store.finished_keys() == {"old", "new"}
    assert store.compact() == 2 and len(store.read()) == 2


def test_a_part_without_a_required_column_is_one_line_naming_it(tmp_path):
    write_part_without(tmp_path, [row("a")], ("bpp",))
    with pytest.raises(ResultsError, match=r"part-00000000T000000-old.parquet: lacks column\(s\) bpp"):
        Store(tmp_path).read()
