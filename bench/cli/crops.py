"""``bench crops``: the same crop of one image from every codec at (nearly) the same bpp."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click
import pandas as pd
import typer

from bench.analysis.select import parse_where, select_rows
from bench.cli.app import app, console, err_console, results_path, stored_rows
from bench.crops import Box, crop_grid, find_image
from bench.errors import ConfigError


def stored_dataset(rows: pd.DataFrame, image: str) -> str:
    """The one dataset whose stored rows hold ``image``, so ``--dataset`` can be left out."""
    names = rows["image"].astype(str)
    found = sorted(set(rows.loc[(names == image) | (names.map(lambda n: Path(n).stem) == image), "dataset"]))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(f"--image {image}: no stored rows for an image of that name; "
                          f"stored: {', '.join(sorted(set(names))[:6])}…")
    raise ConfigError(f"--image {image}: stored in several datasets ({', '.join(found)}); name one with --dataset")


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
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Path = typer.Option(Path("results/plots"), "--out", "-o", help="folder for the PNG"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="where named datasets live (default $BENCH_DATA_DIR)"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="config file (default ./bench.toml)"),
) -> None:
    """Crop one image region from every codec's reconstruction at a matched bpp, in one PNG grid."""
    if (bpp is None) == (target_bpp is None):
        raise ConfigError("give exactly one of --bpp (nearest stored point) or --target-bpp (rate search)")
    crop_box = Box.parse(box)
    rows = stored_rows(results, config_path)
    rows = select_rows(rows, codecs=codec, where=parse_where(where or []))
    ref = find_image(image, dataset or stored_dataset(rows, image), data_dir)
    result = crop_grid(rows, ref, crop_box, codec, target_bpp or bpp, search=target_bpp is not None,
                       tolerance=tolerance, results_dir=results_path(results, config_path), out_dir=out,
                       metrics=metric, anchor=anchor, progress=print_progress)
    console.print(result.markdown(), highlight=False, soft_wrap=True)
    for note in result.notes:
        err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(str(result.path))
