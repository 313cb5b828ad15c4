"""One self-contained HTML page per results store: RD plots, BD table, provenance, failures."""

from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

import pandas as pd

from bench.analysis.aggregate import bd_table
from bench.analysis.bd import BDError
from bench.plot import plot_rd

STYLE = "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}" \
        "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}img{max-width:49%}"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="–", border=0)


def render_report(rows: pd.DataFrame, anchor: str, title: str) -> str:
    """The report as one HTML string, plots embedded as base64 PNG."""
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style>",
             f"<h1>{html.escape(title)}</h1>"]
    with tempfile.TemporaryDirectory() as tmp:
        for path in plot_rd(rows, Path(tmp), formats=("png",)):
            data = base64.b64encode(path.read_bytes()).decode()
            parts.append(f"<img alt='{html.escape(path.stem)}' src='data:image/png;base64,{data}'>")
    parts.append(f"<h2>BD-rate vs {html.escape(anchor)}</h2><p>pchip (JVET CTC); BD of the dataset-mean curves; "
                 "dataset means are means over images of per-image values at equal rate parameter.</p>")
    for metric in ("psnr_rgb", "ms_ssim_db", "lpips"):
        if rows[metric].notna().any():
            try:
                parts.append(f"<h3>{metric}</h3>" + _table(bd_table(rows, anchor, metric)))
            except BDError as exc:
                parts.append(f"<h3>{metric}</h3><p>{html.escape(str(exc))}</p>")
    provenance = rows.groupby(["codec", "codec_version"]).size().reset_index(name="rows")
    parts.append("<h2>Provenance</h2>" + _table(provenance))
    runs = rows.groupby(["run_id", "git_commit", "harness_version", "host", "device"]).size().reset_index(name="rows")
    parts.append(_table(runs))
    failures = rows[rows["error"].notna()]
    parts.append(f"<h2>Failures ({len(failures)})</h2>")
    if len(failures):
        parts.append(_table(failures.groupby(["codec", "error"]).size().reset_index(name="tasks")))
    return "\n".join(parts)
