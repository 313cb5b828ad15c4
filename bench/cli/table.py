"""``bench table``: BD (with bootstrap intervals), AUC, per-image and RD-point tables per dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench import api
from bench.cli.app import app, call, console, path_option, removed_note


@app.command("table")
def table_command(
    anchor: str = typer.Option("jpeg", "--anchor", help="codec label the BD-rates are measured against, or published:<curve>"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="quality metric (repeatable; default: psnr_rgb, ms_ssim_db and lpips where stored)"),
    method: str = typer.Option("pchip", "--method", help="BD interpolation: pchip (JVET CTC, default) or cubic (VCEG-M33)"),
    mode: str = typer.Option("mean-curve", "--mode", help="mean-curve: BD of the mean curves; per-image: mean of per-image BDs"),
    images: str = typer.Option("own", "--images", help="own: each curve over its own images, a BD over the images it shares with the anchor; common: every mean over the images all curves have"),
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="only this dataset (repeatable)"),
    codec: Optional[list[str]] = typer.Option(None, "--codec", "-c", help="only this codec label (repeatable)"),
    where: Optional[list[str]] = typer.Option(None, "--where", help="only rows whose column, decoder option or parameter KEY equals VALUE (repeatable)"),
    auc_range: Optional[tuple[float, float]] = typer.Option(None, "--auc-range", help="AUC bpp range LOW HIGH (default: common to the curves)"),
    auc_interpolation: str = typer.Option("cubic", "--auc-interpolation", help=f"AUC interpolation: {', '.join(api.INTERPOLATIONS)}"),
    auc_normalise: bool = typer.Option(False, "--auc-normalise", help="divide the AUC by the range width (mean quality) instead of the papers' raw area"),
    published_partial: bool = typer.Option(False, "--published-partial", help="BD against a published:<curve> anchor also for curves measured on fewer images than the published mean covers (the note says so)"),
    resamples: int = typer.Option(1000, "--resamples", min=0, help="bootstrap resamples for the BD intervals (0: none)"),
    seed: int = typer.Option(0, "--seed", help="bootstrap seed"),
    results: Optional[Path] = path_option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Optional[Path] = path_option(None, "--out", "-o", help="folder for the tables, one sub-folder per dataset (default: tables beside the store's folder, e.g. results/tables for results/parts); an earlier run's tables there that this run does not write are removed"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file (default ./bench.toml)"),
) -> None:
    """Write bd-<metric>, auc-<metric>, per-image and rd-points tables (.md, .tex, .csv) per dataset."""
    tables = call(api.table, results, config=config_path, datasets=dataset or (), codecs=codec or (),
                  where=call(api.parse_where, where or []), anchor=anchor, metrics=metric or (), method=method, mode=mode,
                  images=images, auc_range=auc_range, auc_interpolation=auc_interpolation,
                  auc_normalise=auc_normalise, resamples=resamples, seed=seed,
                  published_partial=published_partial, out=out or api.Beside("tables"), on_removed=removed_note)
    for path in tables.files:
        console.print(str(path), highlight=False, soft_wrap=True)
