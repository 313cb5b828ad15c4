"""``bench sweep-plot``: fidelity against LPIPS over one decoder option at fixed bitstreams."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench.analysis.select import parse_where, select_rows
from bench.analysis.sweep import sweep_points
from bench.cli.app import app, console, fail, results_path, stored_rows
from bench.api import colour_order
from bench.errors import BenchError
from bench.render.figure import safe_name
from bench.render.sweep import FIDELITY, plot_sweep, points_markdown


@app.command("sweep-plot")
def sweep_plot_command(
    codec: str = typer.Option(..., "--codec", help="codec label whose rows differ in a decoder option"),
    knob: str = typer.Option("scale", "--knob", help="decoder option swept (e.g. scale, temperature)"),
    fidelity: str = typer.Option("psnr_rgb", "--fidelity", help="y axis: psnr_rgb or mse"),
    dataset: list[str] = typer.Option([], "--dataset", "-d", help="only this dataset (repeatable; default: every "
                                      "dataset the codec has rows for, one figure each)"),
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Path = typer.Option(Path("results/plots"), "--out", "-o", help="folder for the plot and its table"),
    where: list[str] = typer.Option([], "--where", help="only rows whose decoder option KEY has VALUE, as KEY=VALUE "
                                    "(repeatable), e.g. z=sample for ILC's temperature"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="config file (default ./bench.toml); its "
                                               "codec order fixes the codec's colour"),
) -> None:
    """Plot PSNR (or MSE) against LPIPS for each value of a decoder option (Ma et al. 2021, Fig. 3a)."""
    if fidelity not in FIDELITY:
        fail(f"--fidelity must be psnr_rgb or mse, got {fidelity!r}")
    store = results_path(results, config_path)
    rows = stored_rows(store, config_path)
    try:
        filters = parse_where(where)
        rows = select_rows(rows, datasets=dataset)
    except BenchError as exc:
        fail(str(exc))
    points = sweep_points(rows, codec, knob, filters)
    if points.empty:
        fail(f"no successful rows of codec {codec!r} with decoder option {knob!r}"
             f"{' matching ' + ' '.join(where) if where else ''} in {store}")
    written = plot_sweep(points, codec, knob, out, fidelity, codec_order=colour_order(rows, config_path))
    table = out / f"sweep-{safe_name(codec)}-{safe_name(knob)}.md"
    table.write_text(points_markdown(points, knob))
    for path in [*written, table]:
        console.print(str(path))
