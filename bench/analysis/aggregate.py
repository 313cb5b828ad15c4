"""BD, AUC and RD-point tables from stored rows, per dataset, for every curve in the store.

A table never fails as a whole because one curve cannot support a number: a codec measured at
one rate point (a single trained model), a curve with fewer points than a BD needs, or a
dataset without the anchor get their row with a note saying why the cell is empty.

Two BD conventions appear in the literature and every table says which it shows:
``mean-curve`` (one BD of the dataset-mean curves, with a bootstrap interval over images) and
``per-image`` (the mean of per-image BDs, with a bootstrap interval of that mean).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.analysis.auc import (DEFAULT_INTERPOLATION, MIN_POINTS as AUC_MIN_POINTS, auc, check_interpolation,
                                checked_curve, common_range)
from bench.analysis.bd import MIN_POINTS, BDError, bd_of_pairs, bd_rate_and_quality
from bench.analysis.bootstrap import (DEFAULT_RESAMPLES, DEFAULT_SEED, ImageMatrix, bd_intervals, mean_interval,
                                      too_few_images)
from bench.config.defaults import BD_MODES as MODES
from bench.analysis.curves import (CURVE, DEFAULT_IMAGES, Reduced, curve_labels, dropped_text, image_rows,
                                   images_text, mean_curves, reduce_rows)

#: Metrics and whether higher values are better.
QUALITY_METRICS = {"psnr_rgb": True, "psnr_y": True, "ms_ssim_db": True, "lpips": False, "psnr_rgb_float": True}
PUBLISHED_PREFIX = "published:"


def check_metric(metric: str) -> None:
    if metric not in QUALITY_METRICS:
        raise BDError(f"BD of {metric!r} is not supported; use one of {', '.join(QUALITY_METRICS)}")


def points_note(points: int, needed: int, by: str = "") -> str:
    """Why a curve gets no number: the note its table row carries (``by``: what needs more)."""
    if points == 1:
        return "n/a (one rate point)"
    return f"n/a ({points} rate points; {by + ' ' if by else ''}needs {needed})"


def incomplete_note(curve: pd.DataFrame) -> str:
    """What a mean curve (rows of one curve from ``mean_curves``) left out to stay complete."""
    dropped = curve["n_dropped"].max() if "n_dropped" in curve.columns else 0
    if pd.isna(dropped) or not dropped:
        return ""
    return dropped_text(int(dropped), int(curve["n_images"].max()), len(curve))


def _with_labels(curves: pd.DataFrame) -> pd.DataFrame:
    """``curves`` with a ``curve`` column: each row's legend label (``curve_labels``), looked up
    once per distinct (codec, decoder options) rather than once per row."""
    if curves.empty:
        return curves.assign(curve=[])
    pairs = curves[["codec", "decoder_options"]]
    distinct = list(pairs.drop_duplicates().itertuples(index=False, name=None))  # in order of first appearance
    labels = curve_labels(distinct)
    codes = pairs.groupby(["codec", "decoder_options"], sort=False).ngroup().to_numpy()  # numbered in that order
    return curves.assign(curve=np.array([labels[pair] for pair in distinct], dtype=object)[codes])


def _anchor_options(per_dataset: pd.DataFrame, anchor: str) -> str | None:
    """The decoder-options set of the anchor curve: its only one, or the first in sort order."""
    options = sorted(set(per_dataset.loc[per_dataset["codec"] == anchor, "decoder_options"].unique()))
    return options[0] if options else None


def bd_table(rows: pd.DataFrame, anchor: str, metric: str = "psnr_rgb", method: str = "pchip",
             mode: str = "mean-curve", images: str = "own", resamples: int = DEFAULT_RESAMPLES,
             seed: int = DEFAULT_SEED, anchor_curves: pd.DataFrame | None = None,
             published_partial: bool = False, reduced: Reduced | None = None) -> pd.DataFrame:
    """BD-rate (%) and BD-quality of every curve against ``anchor``, per dataset, with 95 %
    bootstrap intervals (``resamples`` draws over images, ``seed``; 0 resamples: no interval).

    A BD compares two curves on the same photos: each curve is paired with the anchor over the
    images both have, so a curve measured on fewer images is never set against an anchor mean over
    others. ``images`` counts the images a BD compares, ``images_of`` the most that either side
    (or the published mean) has: "1 of 3" in a table, with a note naming both sides.

    ``anchor_curves`` holds a published anchor curve (mean-curve shape, codec ``anchor``). A
    published point is a mean over its whole dataset (``n_images``), so a BD against it is taken
    only for a curve measured on at least that many images, unless ``published_partial`` forces
    it (the note then says so). Published curves carry no per-image data: no interval.

    Columns: dataset, curve, codec, decoder_options, images, images_of, points, bd_rate,
    bd_rate_low, bd_rate_high, bd_quality, bd_quality_low, bd_quality_high, resamples, note.
    """
    check_metric(metric)
    if mode not in MODES:
        raise BDError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    reduced = reduced or reduce_rows(rows, images)
    per_image = reduced.per_image.dropna(subset=[metric])
    curves = _with_labels(reduced.curves.dropna(subset=[metric]))
    records = []
    for dataset, per_dataset in curves.groupby("dataset"):
        fixed = None
        if anchor_curves is not None:
            fixed = anchor_curves[anchor_curves["dataset"] == dataset].sort_values("bpp")
        pair = AnchorPair(anchor, _anchor_options(per_dataset, anchor), fixed, published_partial)
        data = per_image[per_image["dataset"] == dataset]
        for (codec, decoder_options), curve in per_dataset.groupby(["codec", "decoder_options"], sort=False):
            own = int(curve["n_images"].max())
            record = {"dataset": dataset, "curve": curve["curve"].iloc[0], "codec": codec,
                      "decoder_options": decoder_options, "images": own, "images_of": own,
                      "points": len(curve), "resamples": 0, "note": ""}
            record.update(_bd_cells(data, curve, pair, metric, method, mode, resamples, seed))
            record["note"] = _join(incomplete_note(curve), record["note"])
            records.append(record)
    return pd.DataFrame(records, columns=BD_COLUMNS)


BD_COLUMNS = ["dataset", "curve", "codec", "decoder_options", "images", "images_of", "points", "bd_rate",
              "bd_rate_low", "bd_rate_high", "bd_quality", "bd_quality_low", "bd_quality_high", "resamples", "note"]


@dataclass(frozen=True)
class AnchorPair:
    """What one dataset's curves are measured against: a stored codec's curve (its label and
    decoder options) or a published mean curve (``fixed``)."""

    codec: str
    options: str | None
    fixed: pd.DataFrame | None = None
    published_partial: bool = False


def _join(*notes: str) -> str:
    return "; ".join(note for note in notes if note)


def _bd_cells(data: pd.DataFrame, curve: pd.DataFrame, pair: AnchorPair, metric: str, method: str, mode: str,
              resamples: int, seed: int) -> dict:
    empty = dict.fromkeys(["bd_rate", "bd_rate_low", "bd_rate_high", "bd_quality", "bd_quality_low",
                           "bd_quality_high"], math.nan)
    higher = QUALITY_METRICS[metric]
    codec, options = curve["codec"].iloc[0], curve["decoder_options"].iloc[0]
    fixed = pair.fixed
    if len(curve) < MIN_POINTS:
        return {**empty, "note": points_note(len(curve), MIN_POINTS)}
    if fixed is None and pair.options is None:
        return {**empty, "note": f"n/a (anchor {pair.codec} not measured on this dataset)"}
    if fixed is not None and fixed.empty:
        return {**empty, "note": f"n/a (no published {pair.codec} curve for this dataset)"}
    if fixed is not None and (metric not in fixed.columns or fixed[metric].isna().all()):
        return {**empty, "note": f"n/a (the published curve {pair.codec} has no {metric} values)"}
    is_anchor = fixed is None and codec == pair.codec and options == pair.options
    if is_anchor:
        return {**dict.fromkeys(empty, 0.0), "note": "anchor"}
    test_rows = data[(data["codec"] == codec) & (data["decoder_options"] == options)]
    own = images_of = test_rows["image"].nunique()
    note = ""
    if fixed is not None:
        anchor_rows = None
        covered = int(fixed["n_images"].max())
        if own < covered:
            partial = f"measured over {own} of the {covered} images the published mean covers"
            images_of = covered
            if not pair.published_partial:
                return {**empty, "images_of": covered,
                        "note": f"n/a ({partial}; --published-partial computes it anyway)"}
            note = f"forced with --published-partial: {partial}"
    else:
        anchor_rows = data[(data["codec"] == pair.codec) & (data["decoder_options"] == pair.options)]
        shared = set(test_rows["image"].unique()) & set(anchor_rows["image"].unique())
        if not shared:
            return {**empty, "images": 0, "images_of": max(own, anchor_rows["image"].nunique()),
                    "note": f"n/a (no image in common with the anchor {pair.codec})"}
        if len(shared) < own or len(shared) < anchor_rows["image"].nunique():
            note = (f"paired with the anchor over {images_text(len(shared))} ({codec} has {own}, "
                    f"{pair.codec} {anchor_rows['image'].nunique()})")
            images_of = max(own, anchor_rows["image"].nunique())
            test_rows = test_rows[test_rows["image"].isin(shared)]
            anchor_rows = anchor_rows[anchor_rows["image"].isin(shared)]
    cells = {"images": test_rows["image"].nunique(), "images_of": images_of, "note": note}
    try:
        if mode == "per-image":
            found = _per_image_mean(anchor_rows, fixed, test_rows, metric, method, higher, resamples, seed)
            return {**cells, **found, "note": _join(note, found["note"])}
        if fixed is not None:
            anchor_curve = (fixed["bpp"].to_numpy(float), fixed[metric].to_numpy(float))
        else:
            anchor_mean = anchor_rows.groupby("rate")[["bpp", metric]].mean()
            anchor_curve = (anchor_mean["bpp"].to_numpy(float), anchor_mean[metric].to_numpy(float))
        test_mean = test_rows.groupby("rate")[["bpp", metric]].mean()
        rate, quality = bd_rate_and_quality(*anchor_curve, test_mean["bpp"], test_mean[metric], method, higher)
        cells.update(bd_rate=rate, bd_quality=quality)
    except BDError as exc:
        return {**empty, **cells, "note": _join(note, f"n/a ({exc})")}
    if resamples and fixed is not None:
        # the published mean covers its own images once; resampling only our side would measure
        # the spread between photos, not the uncertainty of this difference
        cells["note"] = _join(note, "no interval (the published anchor has no per-image data)")
    elif resamples and too_few_images(cells["images"]):
        cells["note"] = _join(note, too_few_images(cells["images"]))
    elif resamples:
        test_matrix = ImageMatrix.from_rows(test_rows, metric, sorted(set(test_rows["image"].unique())))
        anchor_side = ImageMatrix.from_rows(anchor_rows, metric, sorted(set(anchor_rows["image"].unique())))
        try:
            rate_ci, quality_ci = bd_intervals(anchor_side, test_matrix, method, higher, resamples, seed)
        except BDError as exc:
            return {**cells, **dict.fromkeys(["bd_rate_low", "bd_rate_high", "bd_quality_low", "bd_quality_high"], math.nan),
                    "note": _join(note, f"no interval ({exc})")}
        cells.update(bd_rate_low=rate_ci.low, bd_rate_high=rate_ci.high, bd_quality_low=quality_ci.low,
                     bd_quality_high=quality_ci.high, resamples=rate_ci.resamples)
        if rate_ci.failed:
            cells["note"] = _join(note, f"{rate_ci.failed} of {resamples} resamples without a BD")
    return cells


def _per_image_mean(anchor_rows: pd.DataFrame | None, fixed: pd.DataFrame | None, test_rows: pd.DataFrame,
                    metric: str, method: str, higher: bool, resamples: int, seed: int) -> dict:
    def pair(image: str, test: pd.DataFrame) -> tuple:
        reference = fixed if fixed is not None else anchor_rows[anchor_rows["image"] == image]
        return reference["bpp"], reference[metric], test["bpp"], test[metric]

    rates, qualities, failed = bd_of_pairs((pair(image, test) for image, test in test_rows.groupby("image")),
                                           method, higher)
    if not rates:
        raise BDError("no image supports a BD")
    cells = {"bd_rate": float(np.mean(rates)), "bd_quality": float(np.mean(qualities)),
             "note": f"{failed} images without a BD" if failed else ""}
    if resamples and too_few_images(len(rates)):
        cells["note"] = _join(cells["note"], too_few_images(len(rates)))
    elif resamples:
        rate_ci, quality_ci = mean_interval(np.array(rates), resamples, seed), mean_interval(np.array(qualities), resamples, seed)
        cells.update(bd_rate_low=rate_ci.low, bd_rate_high=rate_ci.high, bd_quality_low=quality_ci.low,
                     bd_quality_high=quality_ci.high, resamples=resamples)
    return cells


def auc_table(rows: pd.DataFrame, metric: str = "psnr_rgb", images: str = DEFAULT_IMAGES,
              bpp_range: tuple[float, float] | None = None, interpolation: str = DEFAULT_INTERPOLATION,
              normalise: bool = False, extra_curves: pd.DataFrame | None = None,
              reduced: Reduced | None = None) -> pd.DataFrame:
    """AUC of every dataset-mean curve over one bpp range per dataset, with one interpolation.

    The range is ``bpp_range`` when given, else the range common to every curve that has an AUC;
    a curve without one (fewer points than ``interpolation`` needs, non-finite or non-monotone:
    :func:`bench.analysis.auc.auc`) keeps its row with the reason as its note and does not narrow
    the others' range. ``extra_curves`` (e.g. published curves, mean-curve shape) join the comparison.

    Columns: dataset, curve, codec, decoder_options, images, points, auc, bpp_low, bpp_high, note.
    """
    check_metric(metric)
    check_interpolation(interpolation)
    higher = QUALITY_METRICS[metric]
    curves = reduced.curves if reduced else mean_curves(rows, images)
    if extra_curves is not None and not extra_curves.empty:
        curves = pd.concat([curves, extra_curves[[c for c in extra_curves.columns if c in curves.columns]]], ignore_index=True)
    curves = _with_labels(curves.dropna(subset=[metric]))
    records = []
    for dataset, per_dataset in curves.groupby("dataset"):
        groups = {key: g.sort_values("bpp") for key, g in per_dataset.groupby(["codec", "decoder_options"], sort=False)}
        problems = {key: _auc_problem(curve, metric, interpolation, higher) for key, curve in groups.items()}
        spans = [g["bpp"] for key, g in groups.items() if not problems[key]]
        low = high = math.nan
        range_note = ""
        if bpp_range:
            low, high = bpp_range
        elif spans:
            try:
                low, high = common_range(spans)
            except BDError as exc:
                range_note = f"n/a ({exc})"
        else:
            range_note = "n/a (no curve has an AUC)"
        for key, curve in groups.items():
            record = {"dataset": dataset, "curve": curve["curve"].iloc[0], "codec": key[0],
                      "decoder_options": key[1], "images": int(curve["n_images"].max()),
                      "points": len(curve), "auc": math.nan, "bpp_low": low, "bpp_high": high,
                      "note": problems[key] or range_note}
            if not record["note"]:
                try:
                    record["auc"] = auc(curve["bpp"], curve[metric], low, high, interpolation, normalise, higher)
                except BDError as exc:
                    record["note"] = f"n/a ({exc})"
            record["note"] = _join(incomplete_note(curve), record["note"])
            records.append(record)
    return pd.DataFrame(records, columns=["dataset", "curve", "codec", "decoder_options", "images", "points", "auc",
                                          "bpp_low", "bpp_high", "note"])


def _auc_problem(curve: pd.DataFrame, metric: str, interpolation: str, higher: bool) -> str:
    """Why a curve has no AUC under ``interpolation`` whatever the range, or ""."""
    needed = AUC_MIN_POINTS[interpolation]
    if len(curve) < needed:
        return points_note(len(curve), needed, interpolation if needed > 2 else "")
    try:
        checked_curve(curve["bpp"], curve[metric], interpolation, higher)
    except BDError as exc:
        return f"n/a ({exc})"
    return ""


def incomplete_curves(reduced: Reduced) -> pd.DataFrame:
    """The curves that left measurements out to stay complete: dataset, curve and the note saying
    how many (``bench.analysis.curves.dropped_text``); no rows when every curve is complete."""
    records = []
    curves = reduced.curves
    if not curves.empty:
        for _, curve in _with_labels(curves).groupby(CURVE, sort=True):
            if note := incomplete_note(curve):
                records.append({"dataset": curve["dataset"].iloc[0], "curve": curve["curve"].iloc[0], "note": note})
    return pd.DataFrame(records, columns=["dataset", "curve", "note"])


def rd_points(rows: pd.DataFrame, metrics: list[str], images: str = DEFAULT_IMAGES,
              reduced: Reduced | None = None) -> pd.DataFrame:
    """Dataset-mean RD points with their standard deviation over images, n and mean timings."""
    curves = _with_labels(reduced.curves if reduced else mean_curves(rows, images))
    columns = ["dataset", "curve", "codec", "decoder_options", "rate", "n_images", "bpp", "bpp_std"]
    for metric in metrics:
        columns += [metric, f"{metric}_std"]
    return curves[[*columns, "encode_s", "decode_s"]]


def per_image_points(rows: pd.DataFrame, metrics: list[str], images: str = DEFAULT_IMAGES,
                     reduced: Reduced | None = None) -> pd.DataFrame:
    """Every image's RD point behind the dataset means."""
    data = reduced.per_image if reduced else image_rows(rows, images)
    if data.empty:
        return pd.DataFrame(columns=["dataset", "image", "curve", "rate", "bpp", *metrics, "encode_s", "decode_s"])
    data = _with_labels(data)
    return data[["dataset", "image", "curve", "codec", "decoder_options", "rate", "bpp", *metrics, "encode_s",
                 "decode_s"]].sort_values(["dataset", "image", "curve", "rate"]).reset_index(drop=True)
