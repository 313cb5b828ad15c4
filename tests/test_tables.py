"""Paper tables: LaTeX that balances, Markdown that renders, bold best values, honest captions."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import bench.cli  # noqa: F401
from bench.analysis.aggregate import auc_table, bd_table
from bench.cli.app import app
from bench.render.tables import to_latex, to_markdown
from bench.store import read_rows

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "results" / "baseline" / "gate"


def test_bd_table_from_stored_rows_has_zero_for_the_anchor():
    rows = read_rows(BASELINE)
    for mode in ("mean-curve", "per-image"):
        table = bd_table(rows, "jpeg", "psnr_rgb", mode=mode).set_index("codec")
        assert table.loc["jpeg", "bd_rate"] == 0.0
        assert table.loc["webp", "bd_rate"] < 0  # WebP beats JPEG in PSNR on these photos
    auc = auc_table(rows).set_index("codec")
    assert auc.loc["webp", "auc"] > auc.loc["jpeg", "auc"]


def test_latex_is_balanced_and_bolds_the_best():
    frame = pd.DataFrame({"codec": ["a_b", "c"], "BD-rate %": [-3.5, 2.0]})
    tex = to_latex(frame, "caption with 50% & more", best={"BD-rate %": "min"})
    assert tex.count(r"\begin{tabular}") == tex.count(r"\end{tabular}") == 1
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 1
    assert all(r in tex for r in (r"\toprule", r"\midrule", r"\bottomrule"))
    body = tex.split(r"\midrule")[1].split(r"\bottomrule")[0].strip().splitlines()
    columns = re.search(r"\\begin\{tabular\}\{(\w+)\}", tex).group(1)
    assert all(line.count(" & ") == len(columns) - 1 and line.endswith(r"\\") for line in body)
    assert r"\textbf{-3.50}" in tex and r"a\_b" in tex and r"50\% \& more" in tex


def test_markdown_rows_match_the_header():
    md = to_markdown(pd.DataFrame({"x": [1.0, float("nan")], "y": ["a", "b"]}), "cap")
    lines = [l for l in md.splitlines() if l.startswith("|")]
    assert len({l.count("|") for l in lines}) == 1 and "–" in md


def test_table_command_writes_three_formats(tmp_path):
    result = CliRunner().invoke(app, ["table", "--results", str(BASELINE), "--out", str(tmp_path), "--anchor", "jpeg"])
    assert result.exit_code == 0, result.output
    for stem in ("bd-psnr_rgb", "auc-psnr_rgb", "rd-points", "rd-points-per-image", "bd-psnr_rgb-per-image"):
        for suffix in (".md", ".tex", ".csv"):
            assert (tmp_path / "sample" / f"{stem}{suffix}").stat().st_size > 0
    assert "means over the 4 images every curve has" in (tmp_path / "sample" / "bd-psnr_rgb.md").read_text()
