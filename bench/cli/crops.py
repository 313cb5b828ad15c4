"""``bench crops``: the same crop of one image from every codec at (nearly) the same bpp."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click
import typer

from bench import api
from bench.cli.app import app, call, console, err_console, path_option


def print_progress(text: str, done: bool) -> None:
    """One stderr line per codec: its start at once (the work may take minutes), its outcome after."""
    click.echo(text if done else f"{text} ... ", err=True, nl=done)


@app.command("crops")
def crops_command(
    image: str = typer.Option(..., "--image", help="image name in the dataset, e.g. kodim23"),
    box: str = typer.Option(..., "--box", help="crop x,y,width,height in pixels, e.g. 300,120,128,96"),
    bpp: Optional[float] = typer.Option(None, "--bpp", help="show each codec's stored point nearest this bpp"),
    target_bpp: Optional[float] = typer.Option(None, "--target-bpp", help="search each codec's rate to land on this bpp instead"),
    tolerance: float = typer.Option(0.05, "--tolerance", help="relative bpp tolerance (0.05 = ±5 %): --target-bpp searches to it; a panel outside it is framed"),
    anchor: Optional[str] = typer.Option(None, "--anchor", help="codec label shown first after the original (default: jpeg when stored)"),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="dataset of the image (default: the one its rows name)"),
    codec: Optional[list[str]] = typer.Option(None, "--codec", "-c", help="codec label (repeatable; default: every label stored for the image)"),
    where: Optional[list[str]] = typer.Option(None, "--where", help="only rows whose column, decoder option or parameter KEY equals VALUE (repeatable)"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metric under each crop (repeatable; default: psnr_rgb, and lpips where stored)"),
    results: Optional[Path] = path_option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Optional[Path] = path_option(None, "--out", "-o", help="folder for the PNG (default: plots beside the store's folder, e.g. results/plots for results/parts)"),
    data_dir: Optional[Path] = path_option(None, "--data-dir", help="where named datasets live (default $BENCH_DATA_DIR)"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file (default ./bench.toml)"),
) -> None:
    """Crop one image region from every codec's reconstruction at a matched bpp, in one PNG grid."""
    result = call(api.crops, image, box, bpp=bpp, target_bpp=target_bpp, tolerance=tolerance, anchor=anchor,
                  dataset=dataset, codecs=codec, where=where or (), metrics=metric, results=results,
                  out=out or api.Beside("plots"), data_dir=data_dir, config=config_path, progress=print_progress)
    console.print(result.markdown(), highlight=False, soft_wrap=True)
    for note in result.notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(str(result.path))
