"""``bench plot``: RD curves (dataset means) from the stored rows."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench import api
from bench.cli.app import app, call, console, path_option, removed_note


@app.command("plot")
def plot_command(
    results: Optional[Path] = path_option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Optional[Path] = path_option(None, "--out", "-o", help="folder for PNG and SVG files (default: plots beside the store's folder, e.g. results/plots for results/parts); an earlier run's figures of the datasets and metrics drawn that this run does not draw are removed"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metric axis (repeatable; default "
                                               "psnr_rgb, ms_ssim_db, lpips)"),
    dataset: list[str] = typer.Option([], "--dataset", "-d", help="only this dataset (repeatable)"),
    codec: list[str] = typer.Option([], "--codec", "-c", help="only this codec label (repeatable)"),
    where: list[str] = typer.Option([], "--where", help="only rows whose column, decoder option or parameter KEY "
                                    "has VALUE, as KEY=VALUE (repeatable); rows without KEY stay"),
    images: str = typer.Option("own", "--images", help="own: each curve over its own images (n in the legend); "
                               "common: every curve of a dataset averaged over the images all its curves have"),
    band: str = typer.Option("iqr", "--band", help="spread over images shaded around each mean curve: iqr "
                             "(interquartile range), minmax or none"),
    per_image: bool = typer.Option(False, "--per-image", help="also draw one panel per image "
                                   "(<dataset>-<metric>-per-image files)"),
    envelope: bool = typer.Option(False, "--envelope", help="add, for codecs with several decoder option sets, the "
                                  "curve of the best option at each rate (Ma et al. 2021's 'Ours-LPIPS')"),
    published: list[str] = typer.Option([], "--published", help="overlay published curves, dashed: a set "
                                        "(compressai, invcompress, iat, ilc) or a curve such as published:vtm "
                                        "(repeatable)"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file (default ./bench.toml); its "
                                               "codec order fixes the colours"),
) -> None:
    """Draw bpp vs PSNR, MS-SSIM dB and LPIPS per dataset, one line per codec and decoder option set."""
    written = call(api.plot, results, config=config_path, datasets=dataset, codecs=codec, where=call(api.parse_where, where),
                   metrics=metric or (), images=images, band=band, per_image=per_image, envelope=envelope,
                   published_curves=published, out=out or api.Beside("plots"), on_removed=removed_note)
    for path in written:
        console.print(str(path), highlight=False, soft_wrap=True)
