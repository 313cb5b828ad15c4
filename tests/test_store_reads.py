"""Reading a store checks it (docs/reliability.md, "Reading a store"): a hand-added or damaged
part is refused in one line by every command that reads it, before any work; parts are matched
by column name; of two rows with one key the later part's wins, whatever ``created_utc`` says;
compact and migrate refuse a path that holds no store. Everything goes through the command line."""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.errors import BenchNote
from bench.store import Store

runner = CliRunner()
BAD = "part-zz-hand-added.parquet"  # sorts after every part bench names (part-<digits>…)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """Two 32×32 PNGs, a bench.toml of JPEG and WebP at three qualities (PSNR only), run once."""
    root = tmp_path_factory.mktemp("reads")
    (root / "data").mkdir()
    rng = np.random.default_rng(7)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "data" / f"{name}.png")
    (root / "bench.toml").write_text(
        f'[run]\ndatasets = ["{root / "data"}"]\ncodecs = ["jpeg", "webp"]\nmetrics = ["psnr_rgb"]\njobs = 1\n'
        f'results = "{root / "good"}"\n\n[codecs.jpeg]\nrates = [30, 60, 90]\n\n[codecs.webp]\nrates = [30, 60, 90]\n')
    result = runner.invoke(app, ["run", "--config", str(root / "bench.toml")])
    assert result.exit_code == 0, result.output
    return root


def store_with(project: Path, tmp_path: Path, change: Callable[[pa.Table], pa.Table]) -> Path:
    """A copy of the run's store plus one hand-added part: its first part's rows as ``change`` left them."""
    store = tmp_path / "store"
    shutil.copytree(project / "good", store)
    table = pq.read_table(Store(store).parts()[0])
    pq.write_table(change(table), store / BAD)
    return store


def replaced(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.column_names.index(name), name, values)


def first_rows_as(name: str, value: object) -> Callable[[pa.Table], pa.Table]:
    """A change that sets column ``name`` of the first row to ``value`` (None: null)."""
    def change(table: pa.Table) -> pa.Table:
        column = table[name].to_pylist()
        column[0] = value
        return replaced(table, name, pa.array(column, type=table.schema.field(name).type))
    return change


MALFORMED = {
    "all keys null": (lambda t: replaced(t, "key", pa.nulls(t.num_rows, pa.string())),
                      r"column key is null in (\d+) of \1 row\(s\), which bench run never writes; move it out of the results"),
    "key not a digest": (first_rows_as("key", "abc"),
                         r"column key is not a 64-digit lowercase hex SHA-256 in 1 of \d+ row\(s\) \(first: 'abc'\)"),
    "created_utc null": (first_rows_as("created_utc", None), r"column created_utc is null in 1 of \d+ row\(s\)"),
    "generation null": (first_rows_as("generation", None), r"column generation is null in 1 of \d+ row\(s\)"),
    "generation 0": (first_rows_as("generation", 0), r"column generation is below 1 in 1 of \d+ row\(s\) \(first: 0\)"),
    "codec null": (first_rows_as("codec", None), r"column codec is null in 1 of \d+ row\(s\)"),
}


def assert_refused(result, pattern: str) -> None:
    """Exit 2 with exactly one line, ``error: <the hand-added part>: …``, no traceback."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and BAD in lines[0], result.output
    assert re.search(pattern, lines[0]), lines[0]


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_part_is_refused_by_table_run_and_compare(project, tmp_path, case):
    change, pattern = MALFORMED[case]
    store = store_with(project, tmp_path, change)
    parts_before = sorted(p.name for p in Store(store).parts())
    assert_refused(runner.invoke(app, ["table", "--results", str(store), "--out", str(tmp_path / "t")]), pattern)
    assert_refused(runner.invoke(app, ["run", "--config", str(project / "bench.toml"), "--results", str(store)]), pattern)
    assert sorted(p.name for p in Store(store).parts()) == parts_before  # nothing measured again
    assert_refused(runner.invoke(app, ["compare", str(project / "good"), str(store)]), pattern)


@pytest.mark.parametrize("order", ["reordered", "extra"])
def test_parts_are_matched_by_column_name(project, tmp_path, order):
    def change(table: pa.Table) -> pa.Table:
        if order == "reordered":
            return table.select(list(reversed(table.column_names)))
        return table.append_column("comment", pa.array(["hand-added"] * table.num_rows))

    store = store_with(project, tmp_path, change)
    note = f"warning: {store / BAD}: ignored column(s) comment, which schema version"
    table = runner.invoke(app, ["table", "--results", str(store), "--out", str(tmp_path / "t")])
    assert table.exit_code == 0, table.output
    assert (note in table.output) == (order == "extra") and table.output.count("warning:") == (order == "extra")
    rerun = runner.invoke(app, ["run", "--config", str(project / "bench.toml"), "--results", str(store)])
    assert rerun.exit_code == 0 and "12 already stored, 0 to run" in rerun.output, rerun.output
    assert rerun.output.count("warning:") == (order == "extra")  # read twice, noted once
    compare = runner.invoke(app, ["compare", str(project / "good"), str(store)])
    assert compare.exit_code == 0 and "no regression" in compare.output, compare.output
    with pytest.warns(BenchNote, match="ignored column") if order == "extra" else contextlib.nullcontext():
        assert Store(store).read().equals(Store(project / "good").read())


@pytest.mark.parametrize("minutes", [-60, 60])
def test_the_later_part_wins_a_duplicate_key_whatever_its_created_utc(project, tmp_path, minutes):
    def better(table: pa.Table) -> pa.Table:
        shifted = pc.add(table["created_utc"], pa.scalar(minutes * 60_000_000, pa.duration("us")))
        table = replaced(table, "created_utc", shifted)
        return replaced(table, "psnr_rgb", pc.add(table["psnr_rgb"], 5.0))

    store = store_with(project, tmp_path, better)
    good, read = Store(project / "good").read(), Store(store).read()
    first = pq.read_table(Store(store).parts()[0]).to_pandas()
    won = read["key"].isin(first["key"])
    assert won.sum() == len(first) and (read.loc[won, "psnr_rgb"].to_numpy() == good.loc[won, "psnr_rgb"].to_numpy() + 5).all()
    # the same part named to sort first loses, though its rows may be newer
    (store / BAD).rename(store / "part-00000000T000000-hand-added.parquet")
    assert Store(store).read().equals(good)


def test_a_hand_added_duplicate_with_null_created_utc_is_refused_not_preferred(project, tmp_path):
    store = store_with(project, tmp_path, lambda t: replaced(t, "created_utc", pa.nulls(t.num_rows, t["created_utc"].type)))
    assert_refused(runner.invoke(app, ["table", "--results", str(store), "--out", str(tmp_path / "t")]),
                   r"column created_utc is null in (\d+) of \1 row\(s\)")


def test_parts_written_in_one_second_sort_in_write_order(tmp_path):
    store = Store(tmp_path)
    written = [store.write([{"key": f"{n:064x}"}]).name for n in range(20)]
    assert [p.name for p in store.parts()] == written
    # names from before microseconds were added sort before every later one of the same second
    assert f"{written[0][:20]}-ffffffffffff.parquet" < written[0]


@pytest.mark.parametrize("command", ["compact", "migrate"])
@pytest.mark.parametrize("what", ["missing", "file", "no parts"])
def test_compact_and_migrate_refuse_a_path_that_holds_no_store(tmp_path, command, what):
    path = tmp_path / "results"
    if what == "file":
        path.write_text("not a store")
    elif what == "no parts":
        path.mkdir()
        (path / "notes.txt").write_text("x")
    expected = {"missing": f"{path}: no such folder, nothing to {command}; pass the results folder a run wrote",
                "file": f"{path}: is a file, not a results folder; pass the folder that holds the part-*.parquet files",
                "no parts": f"{path}: holds no part-*.parquet files, nothing to {command}; pass the results folder a run wrote"}
    result = runner.invoke(app, [command, str(path)])
    assert result.exit_code == 2 and result.output.strip() == f"error: {expected[what]}", result.output
    assert not (path / ".lock").exists() and (what != "missing" or not path.exists())
