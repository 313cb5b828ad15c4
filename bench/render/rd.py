"""Rate–distortion figures: dataset-mean curves with their spread over images, and per-image panels.

Each figure says how its means were taken, and never claims an image count that one of its
curves lacks: with ``images="common"`` the title names the images every curve has, with
``"own"`` (or when a metric is missing on some images) each legend entry carries its own count.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator, Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.analysis.envelope import envelope_curves
from bench.curves import image_rows, mean_curves
from bench.errors import AnalysisError
from bench.render.figure import legend_outside, new_figure, new_grid, safe_name, save
from bench.render.style import PUBLISHED_LINE, axis_label, codec_colours, curve_labels, curve_styles, images_text

DEFAULT_METRICS = ("psnr_rgb", "ms_ssim_db", "lpips")
BANDS = {"iqr": ("q25", "q75", "interquartile range"), "minmax": ("min", "max", "min–max"), "none": None}
LOWER_IS_BETTER = {"lpips"}
Key = tuple[str, str]


def metric_counts(per_image: pd.DataFrame, metric: str) -> dict[Key, tuple[int, int]]:
    """Per curve (codec, decoder options): the fewest and most images with a ``metric`` value at
    one of its rate points — the counts its mean points actually average over."""
    data = per_image.dropna(subset=[metric])
    counts = data.groupby(["codec", "decoder_options", "rate"])["image"].nunique()
    per_curve = counts.groupby(level=[0, 1]).agg(["min", "max"])
    return {key: (int(row["min"]), int(row["max"])) for key, row in per_curve.iterrows()}


def _count_text(low: int, high: int) -> str:
    return f"n={low}" if low == high else f"n={low}–{high}"


def _spread(ax: Axes, curve: pd.DataFrame, metric: str, band: str, color: str) -> None:
    """Shade the spread over images behind a curve, or bar it (both axes) on a single-rate point;
    nothing for one image or ``band="none"``."""
    if BANDS[band] is None or curve["n_images"].max() < 2:
        return
    low, high, _ = BANDS[band]
    if len(curve) > 1:
        ax.fill_between(curve["bpp"], curve[f"{metric}_{low}"], curve[f"{metric}_{high}"], color=color,
                        alpha=0.15, linewidth=0, zorder=1)
    else:
        point = curve.iloc[0]
        ax.vlines(point["bpp"], point[f"{metric}_{low}"], point[f"{metric}_{high}"], color=color, linewidth=1.2)
        ax.hlines(point[metric], point[f"bpp_{low}"], point[f"bpp_{high}"], color=color, linewidth=1.2)


def _draw_envelope(ax: Axes, curve: pd.DataFrame, metric: str, color: str, label: str) -> None:
    """A broad translucent line under the codec's curves (a ring around a single-rate point), so
    the option chosen at each rate shows through it."""
    curve = curve.sort_values("bpp")
    if len(curve) > 1:
        ax.plot(curve["bpp"], curve[metric], color=color, linewidth=5, alpha=0.45, solid_capstyle="round",
                zorder=2.5, label=label)
    else:
        ax.plot(curve["bpp"], curve[metric], linestyle="none", marker="o", markersize=18, markerfacecolor="none",
                markeredgecolor=color, markeredgewidth=2, alpha=0.6, zorder=2.5, label=label)


def _common_count(counts: dict[Key, tuple[int, int]], images: str) -> int | None:
    """The image count every curve's every point has, when the mean is over common images;
    None when a single number would be wrong for some curve (then each legend entry says its own)."""
    values = set(counts.values())
    if images != "common" or len(values) != 1:
        return None
    low, high = values.pop()
    return low if low == high else None


def _title(dataset: str, common: int | None, band_text: str | None, bars: bool, published: bool) -> str:
    curves = "every measured curve" if published else "every curve"
    lines = [f"{dataset}: mean over {images_text(common)} {curves} has" if common is not None
             else f"{dataset}: each curve averaged over its own images (n in legend)"]
    if band_text:
        lines.append(f"band and bars: {band_text} over images" if bars else f"band: {band_text} over images")
    return "\n".join(lines)


def _ordered(keys: list[Key], styles: dict[Key, dict[str, Any]], colours: dict[str, str]) -> list[Key]:
    """Curves in legend order: codecs in colour order, each codec's variants in style order."""
    order = {name: i for i, name in enumerate(colours)}
    variant = {key: i for i, key in enumerate(styles)}
    return sorted(keys, key=lambda k: (order[k[0]], variant[k]))


def _focus_on_measured(ax: Axes, data: pd.DataFrame, metric: str, band: str, published: pd.DataFrame) -> None:
    """Keep the axes on the measured curves' bpp range: a published curve often spans far more
    (CompressAI's BPG runs from 0.07 to 4.7 bpp) and would shrink the curves under study."""
    low, high = float(data["bpp"].min()), float(data["bpp"].max())
    pad = 0.05 * (high - low) if high > low else 0.1 * high
    x0, x1 = max(0.0, low - pad), high + pad
    values = [data[metric], published.loc[published["bpp"].between(x0, x1), metric]]
    if BANDS[band] is not None:
        values += [data[f"{metric}_{BANDS[band][0]}"], data[f"{metric}_{BANDS[band][1]}"]]
    ys = pd.concat(values).dropna()
    margin = 0.05 * (ys.max() - ys.min()) or 0.05 * abs(ys.max()) or 0.05
    ax.set_xlim(x0, x1)
    ax.set_ylim(ys.min() - margin, ys.max() + margin)


def _published_rows(published: pd.DataFrame | None, dataset: str, metric: str) -> pd.DataFrame:
    if published is None or metric not in published.columns:
        return pd.DataFrame(columns=["dataset", "codec", "bpp", metric])
    return published[(published["dataset"] == dataset)].dropna(subset=["bpp", metric])


def rd_figure(curves: pd.DataFrame, counts: dict[Key, tuple[int, int]], metric: str, *, dataset: str,
              colours: dict[str, str], images: str = "common", band: str = "iqr",
              published: pd.DataFrame | None = None, envelope: pd.DataFrame | None = None) -> Figure:
    """One dataset's RD figure for ``metric`` from its mean curves (one dataset's rows of
    :func:`bench.curves.mean_curves`), with optional envelope and published curves."""
    data = curves.dropna(subset=[metric])
    keys: list[Key] = list(dict.fromkeys(zip(data["codec"], data["decoder_options"])))
    n_points = {key: int(len(group)) for key, group in data.groupby(["codec", "decoder_options"])}
    styles = curve_styles(keys, n_points, colours)
    labels = curve_labels(keys)
    published_data = _published_rows(published, dataset, metric)
    band_text = BANDS[band][2] if BANDS[band] and (data["n_images"] > 1).any() else None
    common = _common_count({k: counts[k] for k in keys}, images)
    fig, ax = new_figure()
    ordered = _ordered(keys, styles, colours)
    for i, key in enumerate(ordered):
        curve = data[(data["codec"] == key[0]) & (data["decoder_options"] == key[1])].sort_values("bpp")
        label = labels[key] if common is not None else f"{labels[key]} ({_count_text(*counts[key])})"
        ax.plot(curve["bpp"], curve[metric], label=label, zorder=3, **styles[key])
        _spread(ax, curve, metric, band, styles[key]["color"])
        last_of_codec = i + 1 == len(ordered) or ordered[i + 1][0] != key[0]
        best = envelope[envelope["codec"] == key[0]] if envelope is not None else pd.DataFrame()
        if last_of_codec and not best.empty:
            _draw_envelope(ax, best, metric, colours[key[0]], f"{key[0]} (envelope over decoder options)")
    for codec, curve in published_data.groupby("codec", sort=True):
        text = str(curve["label"].iloc[0]) if "label" in curve.columns else str(codec)
        n = curve["n_images"].iloc[0] if "n_images" in curve.columns else None
        suffix = f", n={int(n)}" if n is not None and pd.notna(n) and int(n) != common else ""
        curve = curve.sort_values("bpp")
        ax.plot(curve["bpp"], curve[metric], color=colours[codec], label=f"{text} (published{suffix})", zorder=2,
                **PUBLISHED_LINE)
    if not published_data.empty:
        _focus_on_measured(ax, data, metric, band, published_data)
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel(axis_label(metric))
    bars = any(n_points[k] == 1 for k in keys) and bool((data.loc[data["n_points"] == 1, "n_images"] > 1).any())
    ax.set_title(_title(dataset, common, band_text, bars, not published_data.empty), fontsize=9, loc="left")
    legend_outside(ax)
    return fig


def rd_figures(rows: pd.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS, images: str = "common",
               codec_order: Sequence[str] = (), band: str = "iqr", published: pd.DataFrame | None = None,
               envelope: bool = False) -> Iterator[tuple[str, Figure]]:
    """(file stem, figure) per dataset and metric that has values; the caller saves or closes them."""
    if band not in BANDS:
        raise AnalysisError(f"--band {band!r}: use one of {', '.join(BANDS)}")
    curves = mean_curves(rows, images)
    per_image = image_rows(rows, images)
    labels = [*curves["codec"].astype(str)]
    if published is not None:
        labels += list(published["codec"].astype(str))
    colours = codec_colours(sorted(set(labels)), codec_order)
    for dataset, per_dataset in curves.groupby("dataset", sort=True):
        dataset_rows = per_image[per_image["dataset"] == dataset]
        for metric in metrics:
            if per_dataset[metric].isna().all():
                continue
            best = None
            if envelope:
                best = envelope_curves(per_dataset, metric, higher_is_better=metric not in LOWER_IS_BETTER)
            fig = rd_figure(per_dataset, metric_counts(dataset_rows, metric), metric, dataset=str(dataset),
                            colours=colours, images=images, band=band, published=published, envelope=best)
            yield f"{safe_name(str(dataset))}-{metric}", fig


def plot_rd(rows: pd.DataFrame, out_dir: Path, metrics: Sequence[str] = DEFAULT_METRICS, images: str = "common",
            codec_order: Sequence[str] = (), band: str = "iqr", published: pd.DataFrame | None = None,
            envelope: bool = False, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Draw mean RD curves, one file per dataset, metric and format (``<dataset>-<metric>.<fmt>``);
    returns the files written."""
    written: list[Path] = []
    for stem, fig in rd_figures(rows, metrics, images, codec_order, band, published, envelope):
        written += save(fig, out_dir, stem, formats)
    return written


def _columns(n_panels: int) -> int:
    """Grid width: about 3 columns per 2 rows (24 Kodak images → 6 × 4)."""
    return max(1, min(n_panels, round(math.sqrt(1.5 * n_panels))))


def per_image_figure(per_image: pd.DataFrame, metric: str, *, dataset: str, colours: dict[str, str],
                     images: str = "common") -> Figure:
    """Small multiples of one dataset: one panel per image, every curve measured on it."""
    data = per_image.dropna(subset=[metric])
    keys: list[Key] = list(dict.fromkeys(zip(data["codec"], data["decoder_options"])))
    n_points = {key: int(group["rate"].nunique()) for key, group in data.groupby(["codec", "decoder_options"])}
    styles = curve_styles(keys, n_points, colours)
    labels = curve_labels(keys)
    names = sorted(data["image"].astype(str).unique())
    fig, axes = new_grid(len(names), _columns(len(names)), (2.4, 1.9) if len(names) > 4 else (3.2, 2.5))
    handles: dict[Key, Any] = {}
    for ax, name in zip(axes, names):
        panel = data[data["image"].astype(str) == name]
        for key, curve in panel.groupby(["codec", "decoder_options"], sort=False):
            curve = curve.sort_values("bpp")
            line, = ax.plot(curve["bpp"], curve[metric], **{**styles[key], "markersize": styles[key]["markersize"] * 0.7})
            handles.setdefault(key, line)
        ax.set_title(Path(name).stem, fontsize=8)
    chosen = "images every curve has" if images == "common" else "each curve on its own images"
    fig.suptitle(f"{dataset}, per image: {images_text(len(names))} ({chosen})", fontsize=10, x=0.01,
                 horizontalalignment="left")
    fig.supxlabel("bits per pixel", fontsize=9)
    fig.supylabel(axis_label(metric), fontsize=9)
    ordered = _ordered(list(handles), styles, colours)
    # right of the first row, outside the laid-out area: saving with tight bounds keeps it whole,
    # however many entries it has, and the panels keep their size
    top_right = axes[min(len(axes), _columns(len(names))) - 1]
    fig.legend([handles[k] for k in ordered], [labels[k] for k in ordered], loc="upper left",
               bbox_to_anchor=(1.04, 1.0), bbox_transform=top_right.transAxes, fontsize=8, frameon=False)
    return fig


def plot_per_image(rows: pd.DataFrame, out_dir: Path, metric: str = "psnr_rgb", images: str = "common",
                   codec_order: Sequence[str] = (), formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """One small-multiples figure per dataset (``<dataset>-<metric>-per-image.<fmt>``): where a
    mean curve hides an image on which a codec behaves differently."""
    per_image = image_rows(rows, images)
    colours = codec_colours(sorted(set(per_image["codec"].astype(str))), codec_order)
    written: list[Path] = []
    for dataset, data in per_image.groupby("dataset", sort=True):
        if data[metric].isna().all():
            continue
        fig = per_image_figure(data, metric, dataset=str(dataset), colours=colours, images=images)
        written += save(fig, out_dir, f"{safe_name(str(dataset))}-{metric}-per-image", formats)
    return written
