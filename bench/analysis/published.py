"""Published rate–distortion points (CompressAI's reference results, the INN papers' tables) as
curves in the shape of :func:`bench.analysis.curves.mean_curves`, so they can be drawn beside a run's own
curves or serve as a table's anchor.

The points ship read-only inside the package, one CSV per dataset (``bench/published/kodak.csv``,
``clic2020-professional-valid.csv``, ``tecnick.csv``; sources and caveats in
``bench/published/SOURCES.md``) and are read through :mod:`importlib.resources`, so an installed
wheel finds them without the source tree. A curve id belongs to one dataset (``vtm`` is Kodak's,
``vtm-clic`` CLIC's), so every curve's ``n_images`` is one number.

Names:

* a **set** (``compressai``, ``invcompress``, ``iat``, ``ilc``) selects all of its curves;
* a **curve** is named ``published:<curve>`` (the ``codec`` value it gets, e.g. ``published:vtm``)
  or by its bare id (``vtm``) when no set has that name: ``ilc`` is the set (ILC and its baseline),
  ``published:ilc`` the ILC curve alone.

``rate`` of a published point is the codec's own parameter where the source gives one (QP for
VTM and BPG, JPEG quality, a learned model's quality index 1…8), otherwise the point's 1-based
index in bpp order (IAT's Table 2 points). ``ms_ssim_db`` is the published value where the source
gives MS-SSIM in dB (IAT), otherwise −10·log10(1 − ms_ssim) of the published mean MS-SSIM.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Iterable

import numpy as np
import pandas as pd

from bench.analysis.curves import CURVE, SPREAD_COLUMNS, SPREAD_STATS, VALUE_COLUMNS
from bench.errors import AnalysisError

#: ``codec`` prefix of every published curve, which keeps them apart from a store's codec labels.
PREFIX = "published:"
PACKAGE = "bench.published"
DATA_FILES = ("kodak.csv", "clic2020-professional-valid.csv", "tecnick.csv")
CSV_COLUMNS = ("set", "curve", "dataset", "label", "point", "bpp", "psnr_rgb", "ms_ssim", "ms_ssim_db",
               "n_images", "source")
SPREAD_NAMES = [f"{c}_{s}" for c in SPREAD_COLUMNS for s in SPREAD_STATS]
COLUMNS = [*CURVE, "rate", *VALUE_COLUMNS, *SPREAD_NAMES, "n_images", "n_points", "label", "source"]
SET_DESCRIPTIONS = {
    "compressai": "CompressAI's published Kodak and CLIC 2020 professional results: VTM 8.2, BPG 4:4:4, JPEG "
                  "and three of its learned models",
    "invcompress": "InvCompress (Xie et al. 2021), the authors' Kodak, CLIC and Tecnick results for the MSE models q1-q8",
    "iat": "IAT (Cai et al. 2022), Table 2: two clusters of fine variable-rate points on Kodak",
    "ilc": "ILC and its Ballé 2017 teacher (Wang et al. 2020), Table III with quantisation",
}


@lru_cache(maxsize=1)
def _points() -> pd.DataFrame:
    """Every published point as shipped, all datasets' files in one frame (read once; callers get copies)."""
    frames = []
    for name in DATA_FILES:
        with resources.files(PACKAGE).joinpath(name).open("r", encoding="utf-8") as handle:
            # round_trip: pandas' default parser can be one ulp off the JSON value the CSV holds
            points = pd.read_csv(handle, dtype={"point": str}, keep_default_na=False, na_values=[""],
                                 float_precision="round_trip")
        missing = set(CSV_COLUMNS) - set(points.columns)
        if missing:
            raise AnalysisError(f"{PACKAGE}/{name} lacks columns {sorted(missing)}; reinstall bench")
        frames.append(points)
    return pd.concat(frames, ignore_index=True)


def _curve_descriptions(points: pd.DataFrame) -> dict[str, str]:
    descriptions = {}
    for curve, group in points.groupby("curve", sort=True):
        bpp = group["bpp"]
        descriptions[PREFIX + curve] = (f"{group['label'].iloc[0]}: {len(group)} points, "
                                        f"{bpp.min():.3f}-{bpp.max():.3f} bpp ({group['set'].iloc[0]} set)")
    return descriptions


def available() -> dict[str, str]:
    """Name → one-line description: the sets (bare names) and the curves (``published:<curve>``)."""
    return {**SET_DESCRIPTIONS, **_curve_descriptions(_points())}


def published_datasets() -> tuple[str, ...]:
    """The datasets that have published points (a plot overlays them only on these)."""
    return tuple(sorted(_points()["dataset"].unique()))


def codec_of(curve: str) -> str:
    """The codec a published curve id measures, the same on every dataset: a curve of another
    dataset carries that dataset's tag (``jpeg-clic``, ``invcompress-tecnick``); where the id
    without its last ``-tag`` is a published curve of another dataset, that is its codec
    (``jpeg``). ``ilc-baseline`` stays itself: ``ilc`` is a curve of the same dataset."""
    datasets = _points().groupby("curve")["dataset"].first()
    stem, _, _ = curve.rpartition("-")
    if stem in datasets.index and curve in datasets.index and datasets[stem] != datasets[curve]:
        return stem
    return curve


def published_codecs() -> tuple[str, ...]:
    """Every codec with a published curve on some dataset (:func:`codec_of`), sorted: figures
    give each a colour before any is overlaid, so one keeps its colour whichever are drawn."""
    return tuple(sorted({codec_of(curve) for curve in _points()["curve"].unique()}))


def is_published(codec: str) -> bool:
    """Whether a ``codec`` value names a published curve rather than a stored codec label."""
    return codec.startswith(PREFIX)


def _resolve(name: str, points: pd.DataFrame) -> list[str]:
    """The curve ids a set, bare curve id or ``published:<curve>`` stands for."""
    curves = set(points["curve"])
    if name.startswith(PREFIX):
        curve = name[len(PREFIX):]
        return [curve] if curve in curves else []
    if name in set(points["set"]):
        return sorted(points.loc[points["set"] == name, "curve"].unique())
    return [name] if name in curves else []


def _rates(points: pd.DataFrame) -> pd.Series:
    """Per curve: the numeric point id (QP, quality, model index), else the index in bpp order."""
    numeric = pd.to_numeric(points["point"], errors="coerce")
    rates = numeric.copy()
    for _, group in points.groupby("curve"):
        if numeric[group.index].isna().any():
            rates[group.index] = group["bpp"].rank(method="first").to_numpy()
    return rates.astype(float)


def _as_curves(points: pd.DataFrame) -> pd.DataFrame:
    """Published points → the columns of :func:`bench.analysis.curves.mean_curves` plus ``label``, ``source``."""
    frame = pd.DataFrame(index=points.index, columns=COLUMNS, dtype=float)
    frame["dataset"] = points["dataset"]
    frame["codec"] = PREFIX + points["curve"]
    frame["decoder_options"] = "{}"
    frame["rate"] = _rates(points)
    for column in ("bpp", "psnr_rgb", "ms_ssim"):
        frame[column] = points[column].astype(float)
    converted = -10 * np.log10(1 - points["ms_ssim"].astype(float))
    frame["ms_ssim_db"] = points["ms_ssim_db"].astype(float).fillna(converted)
    frame["n_images"] = points["n_images"].astype("int64")
    frame["n_points"] = points.groupby("curve")["bpp"].transform("size").astype("int64")
    frame["label"] = points["label"]
    frame["source"] = points["source"]
    return frame.sort_values(["dataset", "codec", "bpp"]).reset_index(drop=True)


def _unknown(names: list[str]) -> AnalysisError:
    return AnalysisError(f"unknown published curve or set {', '.join(map(repr, names))}; "
                         f"available: {', '.join(available())}")


def published_curves(names: Iterable[str], dataset: str | None = None) -> pd.DataFrame:
    """The named published curves (sets expand to their curves), optionally of one dataset, as
    dataset-mean curves sorted by dataset, codec and bpp.

    Unknown names, or a dataset without published points, raise :class:`AnalysisError`.
    """
    points = _points()
    names = list(names)
    resolved = {name: _resolve(name, points) for name in names}
    unknown = [name for name, curves in resolved.items() if not curves]
    if unknown:
        raise _unknown(unknown)
    chosen = points[points["curve"].isin({c for curves in resolved.values() for c in curves})]
    if dataset is not None:
        if dataset not in published_datasets():
            raise AnalysisError(f"no published points for dataset {dataset!r}; published data cover "
                                f"{', '.join(published_datasets())}")
        chosen = chosen[chosen["dataset"] == dataset]
    return _as_curves(chosen)


def published_anchor(name: str, dataset: str | None = None) -> pd.DataFrame:
    """One published curve to serve as a BD anchor (``bench table --anchor published:vtm``).

    ``name`` is a curve (``published:vtm`` or ``vtm``); a set of several curves is an error,
    since an anchor is one curve. Without ``dataset``, every dataset the curve was published for.
    """
    curves = published_curves([name], dataset)
    codecs = sorted(curves["codec"].unique())
    if len(codecs) != 1:
        raise AnalysisError(f"anchor {name!r} names {len(codecs)} published curves ({', '.join(codecs)}); "
                            "name one of them")
    return curves
