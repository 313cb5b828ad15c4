"""Rate–distortion curves from stored rows: per image, and dataset means as papers report them.

A dataset-mean point is the mean over images of per-image bpp and per-image metric values at the
same rate parameter (not the metric of the mean MSE); every table and plot caption says so.

Which images enter a mean is a choice every figure states:

* ``common`` (the default): the images that every compared curve of the dataset has, so two
  curves in one figure or table are always averaged over the same photos;
* ``own``: each curve over all of its own images, with the count shown beside the curve.

A curve's own images are those measured at every one of its rate points (a rate that an
interrupted run left on fewer images is dropped rather than averaged over a different set).
"""

from __future__ import annotations

import json

import pandas as pd

from bench.errors import AnalysisError
from bench.schema import METRIC_COLUMNS

CURVE = ["dataset", "codec", "decoder_options"]
CURVE_KEYS = [*CURVE, "rate"]
VALUE_COLUMNS = ["bpp", *METRIC_COLUMNS, "encode_s", "decode_s"]
#: Columns that get spread statistics (``<column>_std``, ``_min``, ``_q25``, ``_q75``, ``_max``).
SPREAD_COLUMNS = ["bpp", *METRIC_COLUMNS]
SPREAD_STATS = ("std", "min", "q25", "q75", "max")
IMAGE_SETS = ("common", "own")


def successful_single_pass(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows without error from ordinary single-pass coding (generation 1, no drift chain, not a
    matched-rate row: those sit at a per-image searched rate, so they form no curve over rates)."""
    ok = rows["error"].isna() & (rows["generation"] == 1) & (rows["chain"].fillna("") == "")
    if "target_bpp" in rows.columns:
        ok &= rows["target_bpp"].isna()
    return rows[ok]


def own_images(rows: pd.DataFrame) -> dict[tuple, frozenset[str]]:
    """Per curve (dataset, codec, decoder options): the images measured at every kept rate point.

    Rate points measured on fewer images than the curve's best-covered point are not kept.
    """
    sets: dict[tuple, frozenset[str]] = {}
    for key, curve in rows.groupby(CURVE, dropna=False):
        per_rate = curve.groupby("rate")["image"].agg(lambda s: frozenset(s))
        widest = max(len(s) for s in per_rate)
        kept = [s for s in per_rate if len(s) == widest]
        sets[key] = frozenset.intersection(*kept)
    return sets


def common_images(rows: pd.DataFrame) -> dict[str, frozenset[str]]:
    """Per dataset: the images that every curve of that dataset has at all its kept rate points."""
    per_dataset: dict[str, list[frozenset[str]]] = {}
    for (dataset, *_), images in own_images(rows).items():
        per_dataset.setdefault(dataset, []).append(images)
    common = {}
    for dataset, sets in per_dataset.items():
        shared = frozenset.intersection(*sets)
        if not shared:
            raise AnalysisError(
                f"dataset {dataset!r}: the compared curves have no image in common; narrow them with "
                "--codec, or average each curve over its own images with --images own")
        common[dataset] = shared
    return common


def image_rows(rows: pd.DataFrame, images: str = "common") -> pd.DataFrame:
    """The successful single-pass rows that enter the dataset means under ``images``, with the
    column ``n_images`` (images per curve) — the per-image data behind every mean point."""
    if images not in IMAGE_SETS:
        raise AnalysisError(f"--images {images!r}: use one of {', '.join(IMAGE_SETS)}")
    rows = successful_single_pass(rows)
    if rows.empty:
        return rows.assign(n_images=pd.Series(dtype="int64"))
    if images == "common":
        allowed = common_images(rows)
        keep = [name in allowed[d] for d, name in zip(rows["dataset"], rows["image"])]
        rows = rows[keep]
    sets = own_images(rows)
    keep = [name in sets[(d, c, o)] for d, c, o, name in
            zip(rows["dataset"], rows["codec"], rows["decoder_options"], rows["image"])]
    rows = rows[keep].copy()
    rows[VALUE_COLUMNS] = rows[VALUE_COLUMNS].astype(float)  # all-null metric columns arrive as object
    rows["n_images"] = [len(sets[(d, c, o)]) for d, c, o in zip(rows["dataset"], rows["codec"], rows["decoder_options"])]
    return rows


def mean_curves(rows: pd.DataFrame, images: str = "common") -> pd.DataFrame:
    """One row per (dataset, codec, decoder options, rate): means over images, their spread
    (``<col>_std`` (sample, ddof 1), ``_min``, ``_q25``, ``_q75``, ``_max``), ``n_images`` and
    ``n_points`` (rate points of the curve)."""
    per_image = image_rows(rows, images)
    spread_names = [f"{c}_{s}" for c in SPREAD_COLUMNS for s in SPREAD_STATS]
    if per_image.empty:
        return pd.DataFrame(columns=[*CURVE_KEYS, *VALUE_COLUMNS, *spread_names, "n_images", "n_points"])
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
    means = means.reset_index()
    means["n_points"] = means.groupby(CURVE)["rate"].transform("size")
    return means.sort_values(CURVE_KEYS).reset_index(drop=True)


def curve_labels(curves: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Readable name per (codec, decoder-options JSON): the codec plus the options that tell its
    curves apart, and no more.

    Options are split one key at a time, mode-like keys (text values such as ILC's ``z``)
    before numeric knobs, and a knob is named only within the group where it varies: ILC's
    ``{"z": "mode"}`` reads ``ilc (z=mode)``, not with the temperature its decoder ignores,
    while its sampling curves read ``ilc (z=sample, temperature=0.5)``. A codec drawn once
    reads as its bare name.
    """
    options = {key: json.loads(key[1] or "{}") for key in curves}
    labels: dict[tuple[str, str], str] = {}
    for codec in dict.fromkeys(codec for codec, _ in curves):
        keys = [key for key in options if key[0] == codec]
        for key, parts in _distinguishing_parts(keys, options).items():
            labels[key] = f"{codec} ({', '.join(parts)})" if parts else codec
    return labels


def _distinguishing_parts(keys: list[tuple[str, str]], options: dict) -> dict[tuple[str, str], list[str]]:
    values = {name: {json.dumps(options[key].get(name)) for key in keys} for key in keys for name in options[key]}
    varying = [name for name, seen in values.items() if len(seen) > 1]
    if not varying:
        return {key: [] for key in keys}

    def order(name: str) -> tuple[bool, int, str]:
        numeric = all(isinstance(options[key].get(name), (int, float)) for key in keys)
        return numeric, len(values[name]), name

    split = min(varying, key=order)
    groups: dict[str, list[tuple[str, str]]] = {}
    for key in keys:
        groups.setdefault(json.dumps(options[key].get(split)), []).append(key)
    parts = {}
    for group in groups.values():
        value = options[group[0]].get(split)
        for key, rest in _distinguishing_parts(group, options).items():
            parts[key] = [f"{split}={value}", *rest]
    return parts
