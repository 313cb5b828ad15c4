"""``bench run``: plan every task, skip finished ones, execute the rest, store the rows, and
print what the run wrote per codec and what to run next (the work itself is ``bench.execute.runner``).

An interrupted run (SIGINT, SIGTERM) prints one line saying how many rows it stored and exits
128 + the signal number; the runner's notes (RunWarning) are one ``warning:`` line each.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bench import api
from bench.cli.app import app, call, console, count_line, err_console, path_option


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err_console,
    )


def show_run_warnings_on(progress: Progress) -> None:
    """Print each RunWarning as one ``warning:`` line above the progress bar (inside a
    ``warnings.catch_warnings()`` block, which restores the default display); others as usual."""
    default = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, api.RunWarning):
            progress.console.print(f"warning: {message}", highlight=False, markup=False, soft_wrap=True)
        else:
            default(message, category, *args, **kwargs)

    warnings.simplefilter("always", api.RunWarning)
    warnings.showwarning = show


@app.command("run")
def run_command(
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="registered dataset name or image folder (repeatable)"),
    codec: Optional[list[str]] = typer.Option(None, "--codec", "-c", help="codec label from bench.toml or a registered name (repeatable)"),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="worker processes"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file (default ./bench.toml)"),
    results: Optional[Path] = path_option(None, "--results", help="results store folder"),
    data_dir: Optional[Path] = path_option(None, "--data-dir", help="where named datasets live (default $BENCH_DATA_DIR)"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metric to compute (repeatable)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N images of each dataset"),
    image: Optional[list[str]] = typer.Option(None, "--image", help="only this image file name of each dataset, e.g. kodim23.png (repeatable)"),
    rate: Optional[list[float]] = typer.Option(None, "--rate", help="this rate for every selected codec instead of its configured grid (repeatable)"),
    allow_modified: bool = typer.Option(False, "--allow-modified", help="measure dataset files that differ from their "
                                        "pinned SHA-256; rows get image_modified = true"),
    keep_bitstreams: bool = typer.Option(False, "--keep-bitstreams", help="keep every bitstream as <results>/bitstreams/<key>.bin"),
    device: Optional[str] = typer.Option(None, "--device", help="device for the torch metrics: cpu, cuda, cuda:N or auto"),
    backend: Optional[str] = typer.Option(None, "--backend", help="loky (local processes, default) or dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster of --jobs workers)"),
    target_bpp: Optional[float] = typer.Option(None, "--target-bpp", help="matched-rate mode: search each codec's rate so every image lands at this bpp"),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="relative bpp tolerance of --target-bpp (default 0.05 = ±5 %)"),
    check_determinism: Optional[str] = typer.Option(None, "--check-determinism", help="decode twice and compare: first "
                                                    "(the first rate of each image and codec, default), all or off"),
) -> None:
    """Encode, decode and measure every image × codec × rate; rows already stored are skipped."""
    request = dict(config=config_path, datasets=tuple(dataset or ()), codecs=tuple(codec or ()), jobs=jobs,
                   results=results, data_dir=data_dir, metrics=tuple(metric or ()), limit=limit,
                   images=tuple(image or ()), rates=tuple(rate or ()), allow_modified=allow_modified, keep_bitstreams=keep_bitstreams, device=device, backend=backend, scheduler=scheduler,
                   target_bpp=target_bpp, tolerance=tolerance, check_determinism=check_determinism)
    progress = progress_bar()
    bar = progress.add_task("encoding", total=0)

    def started(message: str, total: int) -> None:
        progress.console.print(message, soft_wrap=True, highlight=False, markup=False)
        progress.update(bar, total=total)
        progress.start()  # only now: an error before any work stays one line

    stopped: "api.Interrupted | None" = None
    try:
        with warnings.catch_warnings():
            show_run_warnings_on(progress)
            summary = call(api.run, on_start=started, on_row=lambda row: progress.advance(bar), **request)
    except api.Interrupted as interrupted:
        stopped = interrupted
    finally:
        if progress.live.is_started:  # stopping a bar never started prints a blank line
            progress.stop()
    if stopped is not None:
        err_console.print(str(stopped), highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(stopped.exit_status)
    for line in api.summary_lines(summary):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    for message, count in summary.errors.most_common(10):
        err_console.print(count_line(count, message), highlight=False, soft_wrap=True)
    if summary.errors:
        raise typer.Exit(1)
