"""Rate–distortion curves from stored rows: per image, and dataset means as papers report them.

A dataset-mean point is the mean over images of per-image bpp and per-image metric values at the
same rate parameter (not the metric of the mean MSE); every table and plot caption says so.
"""

from __future__ import annotations

import pandas as pd

from bench.schema import METRIC_COLUMNS

CURVE_KEYS = ["dataset", "codec", "decoder_options", "rate"]
VALUE_COLUMNS = ["bpp", *METRIC_COLUMNS, "encode_s", "decode_s"]


def successful_single_pass(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows without error from ordinary single-pass coding (generation 1, no drift chain)."""
    ok = rows["error"].isna() & (rows["generation"] == 1) & (rows["chain"].fillna("") == "")
    return rows[ok]


def mean_curves(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, codec, decoder options, rate): means over images, with ``n_images``.

    Only rates measured on every image of the codec's dataset enter, so a mean never mixes
    different image sets along one curve.
    """
    rows = successful_single_pass(rows)
    if rows.empty:
        return pd.DataFrame(columns=[*CURVE_KEYS, *VALUE_COLUMNS, "n_images"])
    grouped = rows.groupby(CURVE_KEYS, dropna=False)
    means = grouped[VALUE_COLUMNS].mean()
    means["n_images"] = grouped["image_sha256"].nunique()
    means = means.reset_index()
    full = means.groupby(["dataset", "codec", "decoder_options"])["n_images"].transform("max")
    return means[means["n_images"] == full].sort_values(CURVE_KEYS).reset_index(drop=True)
