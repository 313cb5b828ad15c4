"""The HTML report and the per-commit history."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import bench.cli  # noqa: F401
from bench.cli.app import app

BASELINE = Path(__file__).resolve().parents[1] / "results" / "baseline" / "gate"
runner = CliRunner()


def test_report_is_one_self_contained_page(tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--results", str(BASELINE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.count("data:image/png;base64,") >= 1 and "src='http" not in page
    assert "BD against jpeg" in page and "Environment" in page and "Failures (0)" in page
    assert "Pillow" in page and "95 % CI" in page and "Per-image RD points" in page


def test_history_appends_per_commit_and_plots(tmp_path):
    history = tmp_path / "history.jsonl"
    for _ in range(2):
        assert runner.invoke(app, ["history", "append", "--results", str(BASELINE), "--file", str(history)]).exit_code == 0
    entries = [json.loads(line) for line in history.read_text().splitlines()]
    assert len(entries) == 4 and {e["codec"] for e in entries} == {"jpeg", "webp"}
    assert all(e["git_commit"] for e in entries)
    webp = [e for e in entries if e["codec"] == "webp"][0]
    assert webp["bd_rate_psnr"] < 0
    result = runner.invoke(app, ["history", "plot", "--file", str(history), "--out", str(tmp_path / "h.png")])
    assert result.exit_code == 0 and (tmp_path / "h.png").stat().st_size > 1000
