"""``bench measure``: add or recompute metrics from kept bitstreams, without re-encoding."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench import config as config_module
from bench import datasets, metrics
from bench.cli.app import app, console, err_console, store_locked
from bench.images import file_sha256
from bench.provenance import new_provenance
from bench.remeasure import remeasure
from bench.store import Store


@app.command("measure")
def measure_command(
    metric: list[str] = typer.Option(..., "--metric", "-m", help="metric to (re)compute (repeatable)"),
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="datasets whose images the rows refer to"),
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="where named datasets live"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="config file (default ./bench.toml)"),
    device: str = typer.Option("cpu", "--device", help="device for the torch metrics"),
) -> None:
    """Decode kept bitstreams (`bench run --keep-bitstreams`) and store the requested metrics."""
    config = config_module.load(config_path)
    store = Store(results or config.results)
    images = {}
    for name in dataset or config.datasets:
        for ref in datasets.resolve(name, data_dir or config.data_dir, download=False):
            images[file_sha256(ref.path)] = ref.path
    names = metrics.validate(metric)
    with store_locked(store, "bench measure"):
        written, problems = remeasure(store, images, names, new_provenance(), device)
    console.print(f"re-measured {written} rows in {store.root}")
    for problem in problems[:10]:
        err_console.print(f"  {problem}", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(1)
