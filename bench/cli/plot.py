"""``bench plot``: RD curves (dataset means) from the stored rows."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench import config as config_module
from bench.cli.app import app, console, fail
from bench.plot import DEFAULT_METRICS, plot_rd
from bench.store import Store


@app.command("plot")
def plot_command(
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Path = typer.Option(Path("results/plots"), "--out", "-o", help="folder for PNG and SVG files"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metric axis (repeatable)"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="config file (default ./bench.toml)"),
) -> None:
    """Draw bpp vs PSNR, MS-SSIM dB and LPIPS per dataset, one line per codec."""
    store = Store(results or config_module.load(config_path).results)
    rows = store.read()
    if rows.empty:
        fail(f"{store.root}: no rows stored yet; run `bench run` first")
    written = plot_rd(rows, out, tuple(metric) if metric else DEFAULT_METRICS)
    for path in written:
        console.print(str(path))
