"""`bench migrate`: an older store's rows get this schema's keys, so a run resumes over them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

import bench.cli  # noqa: F401
from bench.cli.app import app
from bench.execute.migrate import part_version
from bench.schema import SCHEMA_VERSION
from bench.store import read_rows

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def version_1_store(tmp_path: Path) -> Path:
    """The gate baseline as the last schema-1 commit stored it (before the image name joined the key)."""
    store = tmp_path / "old"
    store.mkdir()
    listing = subprocess.run(["git", "-C", str(REPO), "ls-tree", "--name-only", "e333a3e", "results/baseline/gate/"],
                             capture_output=True, text=True, check=True).stdout.split()
    for name in listing:
        blob = subprocess.run(["git", "-C", str(REPO), "show", f"e333a3e:{name}"], capture_output=True, check=True)
        (store / Path(name).name).write_bytes(blob.stdout)
    return store


def test_migrated_rows_are_found_by_a_new_run(tmp_path):
    store = version_1_store(tmp_path)
    (store / "bitstreams").mkdir()
    old = pq.read_table(next(store.glob("part-*.parquet"))).to_pandas()
    (store / "bitstreams" / f"{old['key'].iloc[0]}.bin").write_bytes(b"kept")
    assert {part_version(p) for p in store.glob("part-*.parquet")} == {1}
    refused = runner.invoke(app, ["table", "--results", str(store), "--out", str(tmp_path / "t")])
    assert refused.exit_code == 2 and "bench migrate" in refused.output

    result = runner.invoke(app, ["migrate", str(store)])
    assert result.exit_code == 0, result.output
    assert f"{len(old)} rows" in result.output and "1 kept bitstream(s) renamed" in result.output
    rows = read_rows(store)
    assert len(rows) == len(old) and (rows["schema_version"] == SCHEMA_VERSION).all()
    assert sorted(rows["bitstream_sha256"]) == sorted(old["bitstream_sha256"])  # nothing re-measured
    assert not (store / "bitstreams" / f"{old['key'].iloc[0]}.bin").exists()
    assert len(list((store / "bitstreams").glob("*.bin"))) == 1

    rerun = runner.invoke(app, ["run", "--config", str(REPO / "benchmarks" / "gate.toml"), "--results", str(store)])
    assert rerun.exit_code == 0, rerun.output
    assert f"{len(old)} already stored, 0 to run" in rerun.output
    again = runner.invoke(app, ["migrate", str(store)])
    assert "already at this schema version" in again.output


def test_a_foreign_version_is_named(tmp_path):
    store = version_1_store(tmp_path)
    part = next(store.glob("part-*.parquet"))
    table = pq.read_table(part)
    pq.write_table(table.replace_schema_metadata({b"bench.schema_version": b"99"}), part)
    result = runner.invoke(app, ["migrate", str(store)])
    assert result.exit_code == 2 and "schema version 99" in result.output and str(part) in result.output
    shutil.rmtree(store)
