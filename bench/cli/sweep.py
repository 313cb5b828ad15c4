"""``bench sweep-plot``: fidelity against LPIPS over one decoder option at fixed bitstreams."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench.cli.app import app, console, fail, results_path, stored_rows
from bench.sweep_plot import plot_sweep, points_markdown, sweep_points


@app.command("sweep-plot")
def sweep_plot_command(
    codec: str = typer.Option(..., "--codec", help="codec label whose rows differ in a decoder option"),
    knob: str = typer.Option("scale", "--knob", help="decoder option swept (e.g. scale, temperature)"),
    fidelity: str = typer.Option("psnr_rgb", "--fidelity", help="y axis: psnr_rgb or mse"),
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Path = typer.Option(Path("results/plots"), "--out", "-o", help="folder for the plot and its table"),
    where: list[str] = typer.Option([], "--where", help="only rows whose decoder option KEY has VALUE, as KEY=VALUE "
                                    "(repeatable), e.g. z=sample for ILC's temperature"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="config file (default ./bench.toml)"),
) -> None:
    """Plot PSNR (or MSE) against LPIPS for each value of a decoder option (Ma et al. 2021, Fig. 3a)."""
    store = results_path(results, config_path)
    rows = stored_rows(store, config_path)
    malformed = [item for item in where if "=" not in item]
    if malformed:
        fail(f"--where {malformed[0]!r}: write KEY=VALUE, e.g. --where z=sample")
    filters = dict(item.split("=", 1) for item in where)
    points = sweep_points(rows, codec, knob, filters)
    if points.empty:
        fail(f"no successful rows of codec {codec!r} with decoder option {knob!r}"
             f"{' matching ' + ' '.join(where) if where else ''} in {store}")
    if fidelity not in ("psnr_rgb", "mse"):
        fail(f"--fidelity must be psnr_rgb or mse, got {fidelity!r}")
    written = plot_sweep(points, codec, knob, out, fidelity)
    table = out / f"sweep-{codec}-{knob}.md"
    table.write_text(points_markdown(points, knob))
    for path in [*written, table]:
        console.print(str(path))
