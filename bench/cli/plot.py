"""``bench plot``: RD curves (dataset means) from the stored rows."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from bench import config as config_module
from bench.analysis.select import parse_where, select_rows
from bench.cli.app import app, console, stored_rows
from bench.render.rd import DEFAULT_METRICS, plot_per_image, plot_rd


def config_codec_order(config_path: Path | None) -> list[str]:
    """The ``[codecs.*]`` section order of the config file, which fixes each codec's colour;
    empty when there is no config file."""
    path = config_path or config_module.DEFAULT_CONFIG
    return list(config_module.load(path).codec_specs) if path.exists() else []


def colour_order(rows: pd.DataFrame, config_path: Path | None) -> list[str]:
    """Configured codecs first, then every label in the whole store, so narrowing a plot with
    ``--codec`` or ``--dataset`` never recolours the codecs that remain."""
    order = config_codec_order(config_path)
    return [*order, *sorted(set(rows["codec"].astype(str)) - set(order))]


@app.command("plot")
def plot_command(
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Path = typer.Option(Path("results/plots"), "--out", "-o", help="folder for PNG and SVG files"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metric axis (repeatable; default "
                                               "psnr_rgb, ms_ssim_db, lpips)"),
    dataset: list[str] = typer.Option([], "--dataset", "-d", help="only this dataset (repeatable)"),
    codec: list[str] = typer.Option([], "--codec", "-c", help="only this codec label (repeatable)"),
    where: list[str] = typer.Option([], "--where", help="only rows whose column, decoder option or parameter KEY "
                                    "has VALUE, as KEY=VALUE (repeatable); rows without KEY stay"),
    images: str = typer.Option("common", "--images", help="common: every curve of a dataset averaged over the "
                               "images all its curves have; own: each curve over its own images, n in the legend"),
    band: str = typer.Option("iqr", "--band", help="spread over images shaded around each mean curve: iqr "
                             "(interquartile range), minmax or none"),
    per_image: bool = typer.Option(False, "--per-image", help="also draw one panel per image "
                                   "(<dataset>-<metric>-per-image files)"),
    envelope: bool = typer.Option(False, "--envelope", help="add, for codecs with several decoder option sets, the "
                                  "curve of the best option at each rate (Ma et al. 2021's 'Ours-LPIPS')"),
    published: list[str] = typer.Option([], "--published", help="overlay published curves, dashed: a set "
                                        "(compressai, invcompress, iat, ilc) or a curve such as published:vtm "
                                        "(repeatable)"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="config file (default ./bench.toml); its "
                                               "codec order fixes the colours"),
) -> None:
    """Draw bpp vs PSNR, MS-SSIM dB and LPIPS per dataset, one line per codec and decoder option set."""
    stored = stored_rows(results, config_path)
    rows = select_rows(stored, datasets=dataset, codecs=codec, where=parse_where(where))
    metrics = tuple(metric) if metric else DEFAULT_METRICS
    order = colour_order(stored, config_path)
    overlay = None
    if published:
        from bench.analysis.published import published_curves

        overlay = published_curves(published)
    written = plot_rd(rows, out, metrics, images=images, codec_order=order, band=band, published=overlay,
                      envelope=envelope)
    if per_image:
        for name in metrics:
            written += plot_per_image(rows, out, name, images=images, codec_order=order)
    for path in written:
        console.print(str(path))
