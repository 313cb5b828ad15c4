"""``bench sweep-plot``: fidelity against LPIPS over one decoder option at fixed bitstreams."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench import api
from bench.cli.app import app, call, console, path_option


@app.command("sweep-plot")
def sweep_plot_command(
    codec: str = typer.Option(..., "--codec", help="codec label whose rows differ in a decoder option"),
    knob: str = typer.Option("scale", "--knob", help="decoder option swept (e.g. scale, temperature)"),
    fidelity: str = typer.Option("psnr_rgb", "--fidelity", help="y axis: psnr_rgb or mse"),
    dataset: list[str] = typer.Option([], "--dataset", "-d", help="only this dataset (repeatable; default: every "
                                      "dataset the codec has rows for, one figure each)"),
    results: Optional[Path] = path_option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Optional[Path] = path_option(None, "--out", "-o", help="folder for the plot and its table (default: plots beside the store's folder, e.g. results/plots for results/parts)"),
    where: list[str] = typer.Option([], "--where", help="only rows whose decoder option KEY has VALUE, as KEY=VALUE "
                                    "(repeatable), e.g. z=sample for ILC's temperature"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file (default ./bench.toml); its "
                                               "codec order fixes the codec's colour"),
) -> None:
    """Plot PSNR (or MSE) against LPIPS for each value of a decoder option (Ma et al. 2021, Fig. 3a)."""
    written = call(api.sweep_plot, codec, knob=knob, fidelity=fidelity, datasets=dataset, results=results, out=out or api.Beside("plots"),
                   where=where, config=config_path)
    for path in written:
        console.print(str(path))
