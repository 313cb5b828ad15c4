"""The CI regression gate: today's codecs against the committed baseline, and the gate's teeth."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.analysis.compare import compare
from bench.cli.app import app
from bench.store import Store, read_rows

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "results" / "baseline" / "gate"
GATE = REPO / "benchmarks" / "gate.toml"
runner = CliRunner()


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("gate") / "store"
    result = runner.invoke(app, ["run", "--config", str(GATE), "--results", str(results)])
    assert result.exit_code == 0, result.output
    return results


def test_current_codecs_match_the_committed_baseline(fresh_run):
    result = runner.invoke(app, ["compare", str(BASELINE), str(fresh_run)])
    assert result.exit_code == 0, result.output
    assert "no regression" in result.output


def test_changed_rate_grid_fails(fresh_run, tmp_path):
    config = tmp_path / "gate.toml"
    config.write_text(GATE.read_text().replace("[codecs.webp]\nrates = [20, 40, 60, 80, 90]", "[codecs.webp]\nrates = [20, 40, 60, 80, 95]"))
    result = runner.invoke(app, ["run", "--config", str(config), "--results", str(tmp_path / "store"), "--codec", "webp"])
    assert result.exit_code == 0, result.output
    verdict = runner.invoke(app, ["compare", str(BASELINE), str(tmp_path / "store")])
    assert verdict.exit_code == 1
    assert "webp on sample: rate grid changed (removed [90.0], added [95.0])" in verdict.output
    assert "jpeg on sample: 20 of 20 baseline rows missing" in verdict.output


def test_changed_output_at_the_same_version_fails(fresh_run, tmp_path):
    config = tmp_path / "gate.toml"
    config.write_text(GATE.read_text().replace("[codecs.jpeg]\n", "[codecs.jpeg]\nparams = { optimize = true }\n"))
    runner.invoke(app, ["run", "--config", str(config), "--results", str(tmp_path / "store")])
    verdict = compare(read_rows(BASELINE), Store(tmp_path / "store").read())
    assert any("jpeg on sample: output changed in 20 rows at the same codec version" in f for f in verdict.failures)
    assert not any(f.startswith("webp") for f in verdict.failures)


def test_quality_drop_and_nondeterminism_fail():
    base = read_rows(BASELINE)
    worse = base.copy()
    jpeg = worse["codec"] == "jpeg"
    worse.loc[jpeg, "psnr_rgb"] -= 0.2
    worse.loc[jpeg & (worse["rate"] == 60), "deterministic_decode"] = False
    verdict = compare(base, worse, exact=False)
    assert "jpeg on sample: mean PSNR dropped by 0.200 dB at some rate (limit 0.05 dB)" in verdict.failures
    assert "jpeg on sample: decoding is no longer deterministic" in verdict.failures
    assert any(f.startswith("jpeg on sample: BD-rate vs baseline +") for f in verdict.failures)
    assert not any(f.startswith("webp") for f in verdict.failures)


def test_single_parquet_file_is_accepted():
    part = sorted(BASELINE.glob("part-*.parquet"))[0]
    assert compare(read_rows(part), read_rows(BASELINE)).passed
