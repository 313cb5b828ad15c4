"""``bench compare BASELINE CANDIDATE``: exit status 1 when a codec regressed."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.analysis.compare import compare
from bench.cli.app import app, console, err_console
from bench.render.tables import to_markdown
from bench.store import read_rows


@app.command("compare")
def compare_command(
    baseline: Path = typer.Argument(..., help="baseline results folder or parquet file"),
    candidate: Path = typer.Argument(..., help="candidate results folder or parquet file"),
    max_bd_rate: float = typer.Option(0.5, "--max-bd-rate", help="fail above this BD-rate (%) vs the baseline"),
    max_psnr_drop: float = typer.Option(0.05, "--max-psnr-drop", help="fail when a mean PSNR point drops more (dB)"),
    exact: bool = typer.Option(True, "--exact/--no-exact", help="same codec version must give identical output"),
) -> None:
    """Match rows by codec, dataset, rate and image; report deltas; fail on regressions."""
    verdict = compare(read_rows(baseline), read_rows(candidate), max_bd_rate, max_psnr_drop, exact)
    if not verdict.points.empty:
        console.print(to_markdown(verdict.points, "mean per rate point, candidate vs baseline", digits=4), highlight=False)
    for note in verdict.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    for failure in verdict.failures:
        err_console.print(f"[red]FAIL[/] {failure}", highlight=False, soft_wrap=True)
    if not verdict.passed:
        raise typer.Exit(1)
    console.print("[green]no regression[/]")
