"""BD and AUC tables from stored rows: of the dataset-mean curve, or the mean of per-image values.

Both conventions appear in the literature; every table says which one it shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.analysis.auc import auc, common_range
from bench.analysis.bd import BDError, bd_quality, bd_rate
from bench.curves import mean_curves, successful_single_pass

#: Metrics and whether higher values are better.
QUALITY_METRICS = {"psnr_rgb": True, "psnr_y": True, "ms_ssim_db": True, "lpips": False}
MODES = ("mean-curve", "per-image")


def _bd_pair(anchor: pd.DataFrame, test: pd.DataFrame, metric: str, method: str) -> tuple[float, float, str]:
    higher = QUALITY_METRICS[metric]
    try:
        rate = bd_rate(anchor["bpp"], anchor[metric], test["bpp"], test[metric], method, higher)
        quality = bd_quality(anchor["bpp"], anchor[metric], test["bpp"], test[metric], method, higher)
        return rate, quality, ""
    except BDError as exc:
        return np.nan, np.nan, str(exc)


def bd_table(rows: pd.DataFrame, anchor: str, metric: str = "psnr_rgb", method: str = "pchip",
             mode: str = "mean-curve") -> pd.DataFrame:
    """BD-rate (%) and BD-quality of every codec against ``anchor``, per dataset.

    ``mean-curve``: one BD of the dataset-mean curves. ``per-image``: the mean over images of
    per-image BDs (images where a BD is undefined are counted in ``failed``).
    """
    if metric not in QUALITY_METRICS:
        raise BDError(f"BD of {metric!r} is not supported; use one of {', '.join(QUALITY_METRICS)}")
    if mode not in MODES:
        raise BDError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    records = []
    if mode == "mean-curve":
        curves = mean_curves(rows)
        curves = curves[curves["decoder_options"] == "{}"]
        for dataset, per_dataset in curves.groupby("dataset"):
            anchor_curve = per_dataset[per_dataset["codec"] == anchor].dropna(subset=[metric])
            if anchor_curve.empty:
                raise BDError(f"anchor codec {anchor!r} has no rows for dataset {dataset!r}")
            for codec, curve in per_dataset.groupby("codec"):
                rate, quality, note = _bd_pair(anchor_curve, curve.dropna(subset=[metric]), metric, method)
                records.append({"dataset": dataset, "codec": codec, "bd_rate": rate, "bd_quality": quality,
                                "images": int(curve["n_images"].max()), "note": note})
    else:
        ok = successful_single_pass(rows)
        ok = ok[ok["decoder_options"] == "{}"]
        for (dataset, image), per_image in ok.groupby(["dataset", "image_sha256"]):
            anchor_curve = per_image[per_image["codec"] == anchor]
            for codec, curve in per_image.groupby("codec"):
                rate, quality, note = _bd_pair(anchor_curve, curve, metric, method)
                records.append({"dataset": dataset, "codec": codec, "bd_rate": rate, "bd_quality": quality, "note": note})
        per = pd.DataFrame(records)
        if per.empty:
            return per
        grouped = per.groupby(["dataset", "codec"])
        records = [{"dataset": d, "codec": c, "bd_rate": g["bd_rate"].mean(), "bd_quality": g["bd_quality"].mean(),
                    "images": int(g["bd_rate"].notna().sum()), "note": f"{int(g['bd_rate'].isna().sum())} images without a BD" if g["bd_rate"].isna().any() else ""}
                   for (d, c), g in grouped]
    return pd.DataFrame(records)


def auc_table(rows: pd.DataFrame, metric: str = "psnr_rgb", codecs: list[str] | None = None,
              bpp_range: tuple[float, float] | None = None, interpolation: str = "linear") -> pd.DataFrame:
    """AUC of each codec's dataset-mean curve over a common bpp range (Table 1 of the IAT paper)."""
    curves = mean_curves(rows)
    curves = curves[curves["decoder_options"] == "{}"]
    if codecs:
        curves = curves[curves["codec"].isin(codecs)]
    records = []
    for dataset, per_dataset in curves.groupby("dataset"):
        groups = {c: g.dropna(subset=[metric]).sort_values("bpp") for c, g in per_dataset.groupby("codec")}
        low, high = bpp_range or common_range([g["bpp"] for g in groups.values()])
        for codec, curve in groups.items():
            records.append({"dataset": dataset, "codec": codec, "auc": auc(curve["bpp"], curve[metric], low, high, interpolation),
                            "bpp_low": low, "bpp_high": high})
    return pd.DataFrame(records)
