"""``bench plot``: RD curves (dataset means) from the stored rows."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench.cli.app import app, console, stored_rows
from bench.plot import DEFAULT_METRICS, plot_rd


@app.command("plot")
def plot_command(
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Path = typer.Option(Path("results/plots"), "--out", "-o", help="folder for PNG and SVG files"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metric axis (repeatable)"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="config file (default ./bench.toml)"),
) -> None:
    """Draw bpp vs PSNR, MS-SSIM dB and LPIPS per dataset, one line per codec."""
    rows = stored_rows(results, config_path)
    written = plot_rd(rows, out, tuple(metric) if metric else DEFAULT_METRICS)
    for path in written:
        console.print(str(path))
