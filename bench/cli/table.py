"""``bench table``: BD-rate, AUC and per-rate-point tables in Markdown, LaTeX and CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench.analysis.aggregate import auc_table, bd_table
from bench.cli.app import app, console, stored_rows
from bench.curves import mean_curves
from bench.render.tables import write_all

MEAN_NOTE = "dataset means are means over images of per-image values at equal rate parameter"


@app.command("table")
def table_command(
    anchor: str = typer.Option("jpeg", "--anchor", help="codec label the BD-rates are measured against"),
    metric: list[str] = typer.Option(["psnr_rgb"], "--metric", "-m", help="quality metric (repeatable)"),
    method: str = typer.Option("pchip", "--method", help="pchip (JVET CTC, default) or cubic (VCEG-M33)"),
    mode: str = typer.Option("mean-curve", "--mode", help="mean-curve: BD of the mean curves; per-image: mean of per-image BDs"),
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder"),
    out: Path = typer.Option(Path("results/tables"), "--out", "-o"),
    config_path: Optional[Path] = typer.Option(None, "--config"),
) -> None:
    """Write bd-<metric>, auc-<metric> and rd-points tables (.md, .tex, .csv)."""
    rows = stored_rows(results, config_path)
    for name in metric:
        bd = bd_table(rows, anchor, name, method, mode)
        bd = bd.rename(columns={"bd_rate": "BD-rate %", "bd_quality": f"BD-{name}"})
        caption = (f"BD-rate and BD-{name} vs {anchor} ({method}; {'BD of the dataset-mean curves' if mode == 'mean-curve' else 'mean of per-image BDs'}; "
                   f"{MEAN_NOTE}); negative BD-rate = fewer bits")
        digits = 4 if name == "lpips" else 2
        for path in write_all(bd, out / f"bd-{name}", caption, best={"BD-rate %": "min"}, digits=digits):
            console.print(str(path))
        auc = auc_table(rows, name)
        lower = name == "lpips"
        caption = f"AUC of {name} over the common bpp range, normalised by its width (linear interpolation; {MEAN_NOTE})"
        for path in write_all(auc, out / f"auc-{name}", caption, best={"auc": "min" if lower else "max"}, digits=4):
            console.print(str(path))
    points = mean_curves(rows)[["dataset", "codec", "decoder_options", "rate", "bpp", *metric, "n_images"]]
    for path in write_all(points, out / "rd-points", f"RD points ({MEAN_NOTE})", digits=4):
        console.print(str(path))
