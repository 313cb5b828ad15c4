"""One BD per (dataset, image, curve) against the anchor's curve on the same image, in one pass.

A store of 10^5 images holds 10^5 × curves pairs. Finding each pair's anchor rows by masking the
whole dataset made the time grow with images × rows; here the rows are sorted once, every
(image, curve) is a run of consecutive rows, and each image's anchor run is found by a lookup.
The BDs of all pairs whose curves have the same numbers of points are one ``bd_many`` call: the
same arithmetic as ``bd_rate_and_quality`` row by row, so every number is the one a pair-by-pair
loop gives (tests/test_per_image_bd.py holds that loop as the reference). A pair without a BD is
passed once to ``bd_rate_and_quality`` for the reason its note gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.analysis.aggregate import QUALITY_METRICS, _anchor_options, _with_labels, check_metric, points_note
from bench.analysis.bd import MIN_POINTS, BDError, bd_many, bd_rate_and_quality
from bench.analysis.curves import CURVE, DEFAULT_IMAGES, Reduced, image_rows

COLUMNS = ["dataset", "image", "curve", "codec", "decoder_options", "points", "bd_rate", "bd_quality", "note"]
#: The order of the pairs: the groupby order of the loop this replaces (within a dataset).
PAIR = ["image", *CURVE[1:]]


def per_image_bd(rows: pd.DataFrame, anchor: str, metric: str = "psnr_rgb", method: str = "pchip",
                 images: str = DEFAULT_IMAGES, reduced: Reduced | None = None) -> pd.DataFrame:
    """One BD per (dataset, image, curve) against the anchor's curve on the same image.

    Columns: dataset, image, curve, codec, decoder_options, points, bd_rate, bd_quality, note.
    """
    check_metric(metric)
    data = (reduced.per_image if reduced else image_rows(rows, images))[[*CURVE, "image", "bpp", metric]]
    data = data.dropna(subset=[metric])  # the columns this needs alone: each sort moves every column
    if data.empty:
        return pd.DataFrame(columns=COLUMNS)
    data = _with_labels(data)
    frames = [_one_dataset(dataset, per_dataset, anchor, metric, method) for dataset, per_dataset in data.groupby("dataset")]
    return pd.concat(frames, ignore_index=True)


def _one_dataset(dataset: str, rows: pd.DataFrame, anchor: str, metric: str, method: str) -> pd.DataFrame:
    """The pairs of one dataset, in (image, codec, decoder options) order."""
    rows = rows.sort_values(PAIR, kind="stable")  # stable: each run keeps the rows' own order
    keys = rows[PAIR].to_numpy(object)
    new_run = np.ones(len(rows), bool)
    new_run[1:] = (keys[1:] != keys[:-1]).any(axis=1)
    starts = np.flatnonzero(new_run)
    counts = np.diff(np.append(starts, len(rows)))
    first = rows.iloc[starts]
    options = _anchor_options(rows, anchor)
    is_anchor = ((first["codec"] == anchor) & (first["decoder_options"] == options)).to_numpy()
    anchor_run = dict(zip(first["image"].to_numpy(object)[is_anchor], np.flatnonzero(is_anchor)))
    reference = np.array([anchor_run.get(image, -1) for image in first["image"].to_numpy(object)], dtype=int)
    bd_rate, bd_quality = np.full(len(starts), np.nan), np.full(len(starts), np.nan)
    notes = np.full(len(starts), "", dtype=object)
    few = counts < MIN_POINTS
    notes[few] = [points_note(int(n), MIN_POINTS) for n in counts[few]]
    notes[~few & (reference < 0)] = f"n/a (anchor {anchor} not measured on this image)"
    bpp, quality = rows["bpp"].to_numpy(float), rows[metric].to_numpy(float)
    todo = np.flatnonzero(~few & (reference >= 0))
    shapes = pd.DataFrame({"test": counts[todo], "anchor": counts[reference[todo]]})
    for (test_points, anchor_points), members in shapes.groupby(["test", "anchor"]).indices.items():
        runs = todo[members]
        test_rows = starts[runs][:, None] + np.arange(test_points)
        anchor_rows = starts[reference[runs]][:, None] + np.arange(anchor_points)
        rates, deltas, supported = bd_many(bpp[anchor_rows], quality[anchor_rows], bpp[test_rows], quality[test_rows],
                                           method, QUALITY_METRICS[metric])
        bd_rate[runs], bd_quality[runs] = rates, deltas
        for k in np.flatnonzero(~supported):
            try:
                bd_rate[runs[k]], bd_quality[runs[k]] = bd_rate_and_quality(
                    bpp[anchor_rows[k]], quality[anchor_rows[k]], bpp[test_rows[k]], quality[test_rows[k]], method,
                    QUALITY_METRICS[metric])
            except BDError as exc:
                notes[runs[k]] = f"n/a ({exc})"
    return pd.DataFrame({"dataset": dataset, "image": first["image"].to_numpy(object),
                         "curve": first["curve"].to_numpy(object), "codec": first["codec"].to_numpy(object),
                         "decoder_options": first["decoder_options"].to_numpy(object), "points": counts,
                         "bd_rate": bd_rate, "bd_quality": bd_quality, "note": notes}, columns=COLUMNS)
