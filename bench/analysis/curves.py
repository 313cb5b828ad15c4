"""Rate–distortion curves from stored rows: per image, and dataset means as papers report them.

A dataset-mean point is the mean over images of per-image bpp and per-image metric values at the
same rate parameter (not the metric of the mean MSE); every table and plot caption says so.

Which images enter a mean is a choice every figure and table states:

* ``own`` (the default): each curve over all of its own images, its count shown beside it (the
  legend's ``n=``, the tables' images column); a BD pairs a curve with its anchor over the images
  both have and says how many ("1 of 3"), so no image is dropped without the output saying so;
* ``common``: one intersection, the images that every compared curve of the dataset has, for
  every mean, BD and figure.

Every point of a curve averages the same images. An interrupted run leaves a curve incomplete
(some images at all rates, others at a few), so each curve is reduced to a complete block of
images × rates before anything is averaged (:func:`complete_block`); the measurements outside it
are counted (``n_dropped``) and every note, caption and figure that uses the curve says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd

from bench.config.defaults import IMAGE_SETS
from bench.errors import AnalysisError
from bench.labels import curve_labels, key_order, shown_options  # noqa: F401 - the analyses name curves from here
from bench.schema import METRIC_COLUMNS

CURVE = ["dataset", "codec", "decoder_options"]
CURVE_KEYS = [*CURVE, "rate"]
VALUE_COLUMNS = ["bpp", *METRIC_COLUMNS, "encode_s", "decode_s"]
#: Columns that get spread statistics (``<column>_std``, ``_min``, ``_q25``, ``_q75``, ``_max``).
SPREAD_COLUMNS = ["bpp", *METRIC_COLUMNS]
SPREAD_STATS = ("std", "min", "q25", "q75", "max")
#: Each curve over its own images; a BD pairs a curve with its anchor over the images both have.
DEFAULT_IMAGES = "own"


def successful_single_pass(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows without error from ordinary single-pass coding (generation 1, no drift chain, not a
    matched-rate row: those sit at a per-image searched rate, so they form no curve over rates)."""
    ok = rows["error"].isna() & (rows["generation"] == 1) & (rows["chain"].fillna("") == "")
    if "target_bpp" in rows.columns:
        ok &= rows["target_bpp"].isna()
    return rows[ok]


@dataclass(frozen=True)
class Block:
    """The complete part of one curve: every image in ``images`` is measured at every rate in
    ``rates``; ``dropped`` counts the curve's measurements (image × rate) outside it."""

    images: frozenset[str]
    rates: frozenset[float]
    dropped: int


def _candidates(per_rate: pd.Series, per_image: pd.Series) -> Iterator[tuple[frozenset, frozenset]]:
    """Complete blocks spanned by one rate point's images (with every rate that has them all) or by
    one image's rates (with every image measured at them all)."""
    for images in set(per_rate):
        yield images, frozenset(rate for rate, have in per_rate.items() if images <= have)
    for rates in set(per_image):
        yield frozenset(image for image, have in per_image.items() if rates <= have), rates


def complete_block(curve: pd.DataFrame, images: frozenset[str] | None = None) -> Block:
    """The block of one curve's rows (columns image, rate) that its mean points average over.

    With ``images`` given (the ``common`` set): those images at every rate they all have.
    Otherwise the complete block that keeps the most measurements, ties going to more images:
    an interrupted run leaves a staircase (images finished at all rates, one image part way, or
    every image at the first rates and a few at the last), and the largest block of a staircase
    is one of the candidates :func:`_candidates` spans, so it is found exactly. A run stopped
    after image 24 of a 10-rate sweep keeps 24 images × 10 rates, not 25 × 2; one stopped part
    way through its last rate keeps every image at the finished rates.
    """
    if images is None and _every_image_at_every_rate(curve):
        # the block is the whole curve: the common case, and with 10^5 images the one where a
        # set per image would cost seconds
        whole_images, whole_rates = frozenset(curve["image"].unique()), frozenset(curve["rate"].unique())
        return Block(whole_images, whole_rates, len(curve) - len(whole_images) * len(whole_rates))
    per_rate = curve.groupby("rate")["image"].agg(frozenset)
    if images is None:
        per_image = curve.groupby("image")["rate"].agg(frozenset)
        images, rates = max(_candidates(per_rate, per_image),
                            key=lambda b: (len(b[0]) * len(b[1]), len(b[0]), sorted(b[0]), sorted(b[1])))
    else:
        rates = frozenset(rate for rate, have in per_rate.items() if images <= have)
    return Block(images, rates, len(curve) - len(images) * len(rates))


def _every_image_at_every_rate(curve: pd.DataFrame) -> bool:
    """Whether every image of one curve is measured at every rate the curve has."""
    pairs = curve.groupby(["image", "rate"]).ngroups
    return bool(curve["rate"].notna().all()) and pairs == curve["image"].nunique() * curve["rate"].nunique()


def curve_blocks(rows: pd.DataFrame, common: dict[str, frozenset[str]] | None = None) -> dict[tuple, Block]:
    """Per curve (dataset, codec, decoder options): its :func:`complete_block`, over the
    dataset's ``common`` images when given."""
    return {key: complete_block(curve, common[key[0]] if common else None)
            for key, curve in rows[[*CURVE, "image", "rate"]].groupby(CURVE, dropna=False)}


def common_images(rows: pd.DataFrame) -> dict[str, frozenset[str]]:
    """Per dataset: the images that are in every curve's complete block."""
    per_dataset: dict[str, list[frozenset[str]]] = {}
    for (dataset, *_), block in curve_blocks(rows).items():
        per_dataset.setdefault(dataset, []).append(block.images)
    common = {}
    for dataset, sets in per_dataset.items():
        shared = frozenset.intersection(*sets)
        if not shared:
            raise AnalysisError(
                f"dataset {dataset!r}: the compared curves have no image in common; narrow them with "
                "--codec, or average each curve over its own images with --images own")
        common[dataset] = shared
    return common


def image_rows(rows: pd.DataFrame, images: str = DEFAULT_IMAGES) -> pd.DataFrame:
    """The successful single-pass rows that enter the dataset means under ``images``, with the
    columns ``n_images`` (images per curve) and ``n_dropped`` (the curve's measurements left out
    of its complete block) — the per-image data behind every mean point."""
    if images not in IMAGE_SETS:
        raise AnalysisError(f"--images {images!r}: use one of {', '.join(IMAGE_SETS)}")
    rows = successful_single_pass(rows)
    if rows.empty:
        return rows.assign(n_images=pd.Series(dtype="int64"), n_dropped=pd.Series(dtype="int64"))
    if images == "common":
        allowed = common_images(rows)
        rows = rows[[name in allowed[d] for d, name in zip(rows["dataset"], rows["image"])]]
        blocks = curve_blocks(rows, allowed)
    else:
        blocks = curve_blocks(rows)
    keep = np.zeros(len(rows), bool)
    n_images, n_dropped = np.zeros(len(rows), np.int64), np.zeros(len(rows), np.int64)
    for key, positions in rows.groupby(CURVE, dropna=False).indices.items():
        block = blocks[key]
        if len(block.images) * len(block.rates) == len(positions):  # the block is every row of the curve
            keep[positions] = True
        else:
            keep[positions] = (rows["image"].iloc[positions].isin(block.images).to_numpy()
                               & rows["rate"].iloc[positions].isin(block.rates).to_numpy())
        n_images[positions], n_dropped[positions] = len(block.images), block.dropped
    rows = rows[keep].copy()
    rows[VALUE_COLUMNS] = rows[VALUE_COLUMNS].astype(float)  # all-null metric columns arrive as object
    rows["n_images"] = n_images[keep]
    rows["n_dropped"] = n_dropped[keep]
    return rows


def dropped_text(dropped: int, images: int, points: int) -> str:
    """How much of an incomplete curve was left out, as a note or caption says it ("" if none)."""
    if not dropped:
        return ""
    return (f"{dropped} of {dropped + images * points} measurements left out so that every point averages "
            f"the same {images_text(images)}")


def mean_curves(rows: pd.DataFrame, images: str = DEFAULT_IMAGES) -> pd.DataFrame:
    """One row per (dataset, codec, decoder options, rate): means over images, their spread
    (``<col>_std`` (sample, ddof 1), ``_min``, ``_q25``, ``_q75``, ``_max``), ``n_images``,
    ``n_points`` (rate points of the curve) and ``n_dropped`` (its measurements left out)."""
    return means_of(image_rows(rows, images))


def means_of(per_image: pd.DataFrame) -> pd.DataFrame:
    """``mean_curves`` of rows ``image_rows`` already chose: a command that needs both reduces
    the store once."""
    spread_names = [f"{c}_{s}" for c in SPREAD_COLUMNS for s in SPREAD_STATS]
    if per_image.empty:
        return pd.DataFrame(columns=[*CURVE_KEYS, *VALUE_COLUMNS, *spread_names, "n_images", "n_points", "n_dropped"])
    grouped = per_image.groupby(CURVE_KEYS, dropna=False)
    means = grouped[VALUE_COLUMNS].mean()
    for column in SPREAD_COLUMNS:
        values = grouped[column]
        means[f"{column}_std"] = values.std(ddof=1)
        means[f"{column}_min"] = values.min()
        means[f"{column}_q25"] = values.quantile(0.25)
        means[f"{column}_q75"] = values.quantile(0.75)
        means[f"{column}_max"] = values.max()
    means["n_images"] = grouped["image"].nunique()
    means["n_dropped"] = grouped["n_dropped"].max()
    means = means.reset_index()
    means["n_points"] = means.groupby(CURVE)["rate"].transform("size")
    return means.sort_values(CURVE_KEYS).reset_index(drop=True)


def images_text(low: int, high: int | None = None) -> str:
    """"1 image", "24 images", or "2–4 images" when points of one line average different counts."""
    high = low if high is None else high
    if low != high:
        return f"{low}–{high} images"
    return f"{low} image" if low == 1 else f"{low} images"


@dataclass(frozen=True)
class Reduced:
    """A selection's rows reduced once under one ``images`` rule: the per-image rows and the
    dataset-mean curves (``image_rows``, ``means_of``). ``paper_tables`` hands one to every table of every
    metric instead of each table recomputing both."""

    per_image: pd.DataFrame
    curves: pd.DataFrame


def reduce_rows(rows: pd.DataFrame, images: str = DEFAULT_IMAGES) -> Reduced:
    """``rows`` reduced under ``images``, once: on a store of 10^6 rows each reduction costs
    seconds, and a report needs it for its tables and its figures alike."""
    per_image = image_rows(rows, images)
    return Reduced(per_image, means_of(per_image))
