"""The gate's rate points: one curve's matched rows reduced to per-rate means and deltas.

A mean PSNR is infinite as soon as one image is lossless at that rate (a flat image at JPEG
quality 100 beside a photo), and ∞ − ∞ is NaN, which no threshold trips: a 1 dB drop on the
photo would pass unseen. So the quality delta of a point is taken image by image: the mean
change over the images whose PSNR is finite in both stores, plus a count of the images that
were lossless in the baseline and are not any more (a regression whatever the other images do).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Per-point columns, in the order the Markdown table and the JSON verdict show them.
POINT_COLUMNS = ["rate", "bpp_base", "bpp_cand", "psnr_rgb_base", "psnr_rgb_cand", "d_bpp_pct", "d_psnr_db",
                 "lossless_lost", "lossless_gained"]


def rate_points(matched: pd.DataFrame) -> pd.DataFrame:
    """Per rate of the matched rows (``*_base`` / ``*_cand`` columns, one row per image): mean bpp
    and PSNR RGB of each store (infinite where an image is lossless), ``d_bpp_pct`` (mean bpp
    change, %), ``d_psnr_db`` (mean per-image PSNR change over the images finite in both; NaN
    when there is none), ``lossless_lost`` and ``lossless_gained`` (images whose PSNR went from
    infinite to finite and back)."""
    base = matched["psnr_rgb_base"].astype(float)
    cand = matched["psnr_rgb_cand"].astype(float)
    finite = np.isfinite(base) & np.isfinite(cand)
    frame = pd.DataFrame({
        "rate": matched["rate"].astype(float),
        "bpp_base": matched["bpp_base"].astype(float),
        "bpp_cand": matched["bpp_cand"].astype(float),
        "psnr_rgb_base": base,
        "psnr_rgb_cand": cand,
        "delta": (cand - base).where(finite),
        "lossless_lost": (np.isinf(base) & np.isfinite(cand)).astype(int),
        "lossless_gained": (np.isfinite(base) & np.isinf(cand)).astype(int),
    })
    points = frame.groupby("rate").agg(
        bpp_base=("bpp_base", "mean"), bpp_cand=("bpp_cand", "mean"),
        psnr_rgb_base=("psnr_rgb_base", "mean"), psnr_rgb_cand=("psnr_rgb_cand", "mean"),
        d_psnr_db=("delta", "mean"), lossless_lost=("lossless_lost", "sum"),
        lossless_gained=("lossless_gained", "sum")).reset_index()
    points["d_bpp_pct"] = (points["bpp_cand"] / points["bpp_base"] - 1) * 100
    return points[POINT_COLUMNS]


def finite_points(points: pd.DataFrame) -> pd.DataFrame:
    """The points whose mean PSNR is finite in both stores: the ones a BD-rate can be fitted on."""
    return points[np.isfinite(points["psnr_rgb_base"]) & np.isfinite(points["psnr_rgb_cand"])]


def improved_at_every_point(points: pd.DataFrame, bpp_margin: float, psnr_margin: float) -> bool:
    """No point worse (bpp not higher, PSNR not lower, no image lost its losslessness) and one
    at least better by more than the margins: bpp lower by ``bpp_margin`` %, PSNR higher by
    ``psnr_margin`` dB, or an image newly lossless."""
    if points.empty:
        return False
    d_psnr = points["d_psnr_db"].fillna(0.0)
    no_worse = (points["d_bpp_pct"] <= 0).all() and (d_psnr >= 0).all() and (points["lossless_lost"] == 0).all()
    better = ((points["d_bpp_pct"] < -bpp_margin) | (d_psnr > psnr_margin) | (points["lossless_gained"] > 0)).any()
    return bool(no_worse and better)
