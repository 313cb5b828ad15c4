"""Decoder-option sweeps at a fixed bitstream: points of fidelity against perceptual quality.

For codecs whose decoder has a knob (e.g. the variance scale of probabilistic decoding), rows of
one codec and rate that differ only in ``decoder_options`` decode the same bitstream. This module
groups them by the value of one knob and averages over images (and over any other option, such
as the seed); :mod:`bench.render.sweep` draws the result as in Ma et al. 2021, Fig. 3a.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bench.analysis.curves import successful_single_pass

POINT_COLUMNS = ["dataset", "rate", "bpp", "psnr_rgb", "mse", "lpips", "n_images", "n_rows", "n_bitstreams"]


def sweep_points(rows: pd.DataFrame, codec: str, knob: str, where: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per (dataset, rate, knob value): means over images and other options.

    ``where`` keeps only rows whose decoder options have these values (compared as text), for
    knobs that matter in one decoder mode only: ILC's ``temperature`` acts when ``z=sample``,
    and its ``z=mode`` rows carry the default temperature too.

    Columns: dataset, rate, <knob>, bpp, psnr_rgb, mse, lpips, n_images, n_rows, n_bitstreams.
    ``mse`` is the mean over images of each image's MSE, recovered from its PSNR.
    """
    rows = successful_single_pass(rows)
    rows = rows[rows["codec"] == codec].copy()
    options = [json.loads(o or "{}") for o in rows["decoder_options"]]
    keep = [all(str(o.get(key)) == value for key, value in (where or {}).items()) for o in options]
    rows = rows[keep]
    if rows.empty:
        return pd.DataFrame(columns=[*POINT_COLUMNS[:2], knob, *POINT_COLUMNS[2:]])
    rows[knob] = [json.loads(o or "{}").get(knob) for o in rows["decoder_options"]]
    rows = rows[rows[knob].notna()]
    rows["mse"] = 255.0**2 * np.power(10.0, -rows["psnr_rgb"].astype(float) / 10)
    grouped = rows.groupby(["dataset", "rate", knob])
    points = grouped[["bpp", "psnr_rgb", "mse", "lpips"]].mean()
    points["n_images"] = grouped["image"].nunique()
    points["n_rows"] = grouped.size()
    points["n_bitstreams"] = grouped["bitstream_sha256"].nunique()
    return points.reset_index().sort_values(["dataset", "rate", knob]).reset_index(drop=True)
