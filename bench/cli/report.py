"""``bench report`` (one HTML page per store) and ``bench history`` (trend across commits)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench.analysis import history as history_module
from bench.cli.app import app, console, fail, results_path, stored_rows
from bench.render.report import render_report
from bench.store import read_rows

HISTORY = Path("results/history.jsonl")


@app.command("report")
def report_command(
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder"),
    out: Path = typer.Option(Path("results/report.html"), "--out", "-o"),
    anchor: str = typer.Option("jpeg", "--anchor"),
    config_path: Optional[Path] = typer.Option(None, "--config"),
) -> None:
    """A self-contained HTML page: RD plots, BD-rate table, provenance and failures."""
    store = results_path(results, config_path)
    rows = stored_rows(store, config_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(rows, anchor, f"bench report: {store}"))
    console.print(str(out))


history_app = typer.Typer(help="Per-commit history of results summaries.", no_args_is_help=True)
app.add_typer(history_app, name="history")


@history_app.command("append")
def history_append(
    results: Path = typer.Option(..., "--results", help="results store folder"),
    anchor: str = typer.Option("jpeg", "--anchor"),
    history: Path = typer.Option(HISTORY, "--file"),
) -> None:
    """Append this store's summary (BD-rate vs anchor, mean PSNR) keyed by the current git commit."""
    entries = history_module.summarise(read_rows(results), anchor)
    history_module.append(history, entries)
    console.print(f"appended {len(entries)} entries to {history}")


@history_app.command("plot")
def history_plot(
    history: Path = typer.Option(HISTORY, "--file"),
    out: Path = typer.Option(Path("results/plots/history.png"), "--out", "-o"),
    column: str = typer.Option("bd_rate_psnr", "--column", help="bd_rate_psnr, mean_psnr_rgb or mean_bpp"),
) -> None:
    """Plot the trend of a summary column over commits."""
    if history_module.load(history).empty:
        fail(f"{history}: no history yet; run `bench history append` first")
    console.print(str(history_module.plot_trend(history, out, column)))
