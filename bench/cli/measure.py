"""``bench measure``: add or recompute metrics from kept bitstreams, without re-encoding."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench import api
from bench.cli.app import app, call, console, err_console, path_option, warn


@app.command("measure")
def measure_command(
    metric: list[str] = typer.Option(..., "--metric", "-m", help="metric to (re)compute (repeatable)"),
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="datasets whose images the rows refer to"),
    results: Optional[Path] = path_option(None, "--results", help="results store folder"),
    data_dir: Optional[Path] = path_option(None, "--data-dir", help="where named datasets live"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file (default ./bench.toml)"),
    device: str = typer.Option("cpu", "--device", help="device for the torch metrics"),
) -> None:
    """Decode kept bitstreams (`bench run --keep-bitstreams`) and store the requested metrics."""
    done = call(api.measure, metric, datasets=dataset or (), results=results, data_dir=data_dir, config=config_path,
                device=device, on_note=warn)
    console.print(f"re-measured {done.written} rows in {done.root}")
    for problem in done.problems[:10]:
        err_console.print(f"  {problem}", highlight=False, soft_wrap=True)
    if done.problems:
        raise typer.Exit(1)
