"""``bench drift run`` (N-fold re-encoding studies) and ``bench drift report`` (plots, tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench import api
from bench.cli.app import app, call, console, count_line, err_console, path_option, removed_note, warn
from bench.cli.run import progress_bar

drift_app = typer.Typer(help="Generation-loss (re-encoding) studies.", no_args_is_help=True)
app.add_typer(drift_app, name="drift")


@drift_app.command("run")
def drift_run(
    schedule: Optional[list[str]] = typer.Option(None, "--schedule", "-s", help="label:rate, label:a..b:n or a comma-separated chain (repeatable)"),
    generations: Optional[int] = typer.Option(None, "--generations", "-n", min=1, max=api.MAX_GENERATIONS, help="re-encodings per chain (default drift.generations in bench.toml, else 10)"),
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="registered dataset name or image folder (repeatable; default from bench.toml)"),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="worker processes (one chain per task)"),
    results: Optional[Path] = path_option(None, "--results", help="results store folder (default from bench.toml)"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metric to compute each generation (repeatable; default from bench.toml)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N images of each dataset"),
    carry: Optional[str] = typer.Option(None, "--carry", help="what the next generation encodes: uint8 (the decoded 8-bit image, default) or float (a learned codec's unrounded reconstruction)"),
    device: Optional[str] = typer.Option(None, "--device", help="device for the torch metrics: cpu, cuda, cuda:N or auto"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file (default ./bench.toml)"),
) -> None:
    """Re-encode every image N times per schedule; resumes from the last stored generation of each chain."""
    progress = progress_bar()
    bar = progress.add_task("chains", total=0)

    def started(message: str, total: int) -> None:
        console.print(message)
        progress.update(bar, total=total)
        progress.start()  # only now: an error before any work stays one line

    try:
        summary = call(api.drift_run, config=config_path, schedules=schedule or (), generations=generations,
                       datasets=dataset or (), jobs=jobs, results=results, metrics=metric or (), limit=limit,
                       carry=carry, device=device, on_start=started, on_chain=lambda _: progress.advance(bar),
                       on_note=warn)
    finally:
        if progress.live.is_started:
            progress.stop()
    console.print(f"wrote {summary.written} generation rows to {summary.root}")
    for message, count in summary.errors.most_common(10):
        err_console.print(count_line(count, message), highlight=False, soft_wrap=True)
    if summary.errors:
        raise typer.Exit(1)


@drift_app.command("report")
def drift_report(
    results: Optional[Path] = path_option(None, "--results", help="results store folder (default from bench.toml)"),
    metric: str = typer.Option("psnr_rgb", "--metric", "-m", help="metric plotted against generation"),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="drop (metric units) whose first crossing is reported"),
    out: Optional[Path] = path_option(None, "--out", "-o", help="folder for the plots and the drift table (default: drift beside the store's folder, e.g. results/drift for results/parts); an earlier run's files of the metric that this run does not write are removed"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file (default ./bench.toml); also holds drift.threshold_db"),
) -> None:
    """Plot metric vs generation and write the drift table (Markdown, LaTeX, CSV)."""
    for path in call(api.drift_report, results, metric=metric, threshold=threshold, out=out or api.Beside("drift"),
                     config=config_path, on_removed=removed_note):
        console.print(str(path))
