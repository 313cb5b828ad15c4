"""``bench report`` (one HTML page per store) and ``bench history`` (trend across commits)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench import api
from bench.cli.app import app, call, console, path_option

HISTORY = api.HISTORY


@app.command("report")
def report_command(
    results: Optional[Path] = path_option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Path = path_option(Path("results/report.html"), "--out", "-o", help="HTML file to write"),
    anchor: str = typer.Option("jpeg", "--anchor", help="codec label the BD-rates are measured against, or published:<curve>"),
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="only this dataset (repeatable)"),
    codec: Optional[list[str]] = typer.Option(None, "--codec", "-c", help="only this codec label (repeatable)"),
    where: Optional[list[str]] = typer.Option(None, "--where", help="only rows whose column, decoder option or parameter KEY equals VALUE (repeatable)"),
    images: str = typer.Option("own", "--images", help="own: each curve over its own images, a BD over the images it shares with the anchor; common: every mean over the images all curves have"),
    published: Optional[list[str]] = typer.Option(None, "--published", help="overlay published curves: a set (compressai, invcompress, iat, ilc) or published:<curve> (repeatable)"),
    band: str = typer.Option("iqr", "--band", help="spread band on mean curves: iqr, minmax or none"),
    crops: Optional[list[Path]] = path_option(None, "--crops", help="crop grid PNG written by `bench crops` to embed (repeatable)"),
    resamples: int = typer.Option(1000, "--resamples", min=0, help="bootstrap resamples for the BD intervals (0: none)"),
    published_partial: bool = typer.Option(False, "--published-partial", help="BD against a published:<curve> anchor also for curves measured on fewer images than the published mean covers (the note says so)"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file (default ./bench.toml)"),
) -> None:
    """A self-contained HTML page per store: per dataset RD plots, BD/AUC/RD-point tables, per-image data, crops, failures; environment."""
    path = call(api.report, results, config=config_path, datasets=dataset or (), codecs=codec or (),
                where=call(api.parse_where, where or []), anchor=anchor, images=images, band=band,
                published_curves=published or (), crops=crops or (), resamples=resamples,
                published_partial=published_partial, out=out)
    console.print(str(path), highlight=False, soft_wrap=True)


history_app = typer.Typer(help="Per-commit history of results summaries.", no_args_is_help=True)
app.add_typer(history_app, name="history")


@history_app.command("append")
def history_append(
    results: Path = path_option(..., "--results", help="results store folder"),
    anchor: str = typer.Option("jpeg", "--anchor", help="codec label the BD-rates are measured against"),
    history: Path = path_option(HISTORY, "--file", help="history file (JSON lines)"),
) -> None:
    """Append this store's summary (BD-rate vs anchor, mean PSNR) keyed by the current git commit."""
    count = call(api.history_append, results, anchor=anchor, history=history)
    console.print(f"appended {count} entries to {history}")


@history_app.command("plot")
def history_plot(
    history: Path = path_option(HISTORY, "--file", help="history file (JSON lines)"),
    out: Path = path_option(Path("results/plots/history.png"), "--out", "-o", help="PNG to write"),
    column: str = typer.Option("bd_rate_psnr", "--column", help="bd_rate_psnr, mean_psnr_rgb or mean_bpp"),
) -> None:
    """Plot the trend of a summary column over commits."""
    console.print(str(call(api.history_plot, history, out=out, column=column)))
