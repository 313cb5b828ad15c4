"""Rate–distortion figures: dataset-mean curves with their spread over images, and per-image panels.

Each figure says how its means were taken, and never claims an image count that one of its
curves lacks: with ``images="common"`` the title names the images every curve has, with
``"own"`` (or when a metric is missing on some images) each legend entry carries its own count.
"""

from __future__ import annotations

import glob
import math
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.analysis.envelope import envelope_curves
from bench.analysis.curves import DEFAULT_IMAGES, Reduced, dropped_text, image_rows, reduce_rows
from bench.errors import AnalysisError
from bench.render.figure import AXES_SIZE, legend_outside, new_grid, plt, safe_name, save
from bench.render.names import dataset_labels
from bench.render.style import (PUBLISHED_LINE, axis_label, codec_colours, curve_labels, curve_styles, images_text,
                                marker_style)

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


#: Legend entries per panel: beyond about a dozen a legend outgrows its axes and stops being read.
MAX_LEGEND = 12
#: Points kept free between the outermost data point and the frame: the 13-point star reaches
#: 6.5 points from its centre, its edge a little more.
MARKER_ROOM = 8.0
#: Room around an options panel's data (a fraction of each span): its large single-rate markers
#: and the envelope's ring at the extremes stay whole inside the frame.
OPTIONS_MARGIN = 0.12
#: How far (in spans of the main curves) a single point may lie outside them before it is drawn
#: at the edge instead of stretching the axes.
OUTLIER_SPAN = 0.5


@dataclass
class Entry:
    """One legend entry of an RD panel: a measured curve (a codec's own, one decoder option's, or
    a codec's best option per rate), a published curve, or an envelope drawn under the options."""

    curve: pd.DataFrame
    label: str
    style: dict[str, Any]
    kind: str  # "measured" | "published" | "envelope"
    n: tuple[int, int] | None = None
    #: Caption lines on the measurements its curves left out to stay complete.
    left_out: tuple[str, ...] = ()


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


def _ordered(keys: list[Key], styles: dict[Key, dict[str, Any]], colours: dict[str, str]) -> list[Key]:
    """Curves in legend order: codecs in colour order, each codec's variants in style order."""
    order = {name: i for i, name in enumerate(colours)}
    variant = {key: i for i, key in enumerate(styles)}
    return sorted(keys, key=lambda k: (order[k[0]], variant[k]))


def _published_rows(published: pd.DataFrame | None, dataset: str, metric: str) -> pd.DataFrame:
    if published is None or metric not in published.columns:
        return pd.DataFrame(columns=["dataset", "codec", "bpp", metric])
    return published[(published["dataset"] == dataset)].dropna(subset=["bpp", metric])


def _span(values: pd.Series) -> tuple[float, float]:
    """Padded limits of the finite ``values``: a lossless point (infinite PSNR) is drawn at the
    edge by :func:`_mark_off_scale`, never stretching an axis to infinity."""
    values = values[values.abs() < math.inf]
    low, high = float(values.min()), float(values.max())
    pad = 0.05 * (high - low) if high > low else 0.05 * abs(high) or 0.05
    return low - pad, high + pad


def axis_limits(measured: list[Entry], published: list[Entry], metric: str, band: str) -> tuple[tuple, tuple]:
    """(x, y) limits from the main curves: the measured curves with two or more points (every
    measured point when there are none), their bands, the single points near them, and the
    published points within their bpp range. A single point far outside (a sampling decoder at
    9 dB among curves at 30-40) would squash every curve; it is drawn at the edge instead."""
    curves = [e.curve for e in measured if len(e.curve) > 1] or [e.curve for e in measured]
    main = pd.concat(curves)
    singles = pd.concat([e.curve for e in measured if len(e.curve) == 1] or [main.iloc[:0]])
    (x0, x1), (y0, y1) = _span(main["bpp"]), _span(main[metric])
    near = singles[singles["bpp"].between(x0 - OUTLIER_SPAN * (x1 - x0), x1 + OUTLIER_SPAN * (x1 - x0))
                   & singles[metric].between(y0 - OUTLIER_SPAN * (y1 - y0), y1 + OUTLIER_SPAN * (y1 - y0))]
    points = pd.concat([main, near])
    x0, x1 = _span(points["bpp"])
    ys = [points[metric]]
    if BANDS[band] is not None:
        ys += [frame[f"{metric}_{BANDS[band][i]}"] for frame in (main, near) for i in (0, 1)]
    ys += [e.curve.loc[e.curve["bpp"].between(x0, x1), metric] for e in published]
    y0, y1 = _span(pd.concat(ys).dropna())
    (x0, x1), (y0, y1) = (_marker_room(x0, x1, AXES_SIZE[0]), _marker_room(y0, y1, AXES_SIZE[1]))
    return (max(0.0, x0), x1), (y0, y1)


def _marker_room(low: float, high: float, inches: float) -> tuple[float, float]:
    """``low``–``high`` widened by :data:`MARKER_ROOM` points on an axis ``inches`` long, so a
    marker at an extreme point is drawn whole inside the frame, not cut in half by it."""
    room = MARKER_ROOM / (72 * inches) * (high - low)
    return low - room, high + room


def _mark_off_scale(ax: Axes, entry: Entry, metric: str, xlim: tuple, ylim: tuple) -> bool:
    """Points of a measured entry outside the limits: a triangle at the edge, pointing the way the
    point lies, with its value; returns whether there was any."""
    unit = " dB" if "psnr" in metric or metric.endswith("_db") else ""
    found = False
    for bpp, value in zip(entry.curve["bpp"], entry.curve[metric]):
        x, y = min(max(bpp, xlim[0]), xlim[1]), min(max(value, ylim[0]), ylim[1])
        if (x, y) == (bpp, value):
            continue
        found = True
        marker = "^" if value > ylim[1] else "v" if value < ylim[0] else ">" if bpp > xlim[1] else "<"
        ax.plot([x], [y], marker=marker, color=entry.style["color"], markersize=9, linestyle="none",
                clip_on=False, zorder=4)
        if math.isinf(value):  # lossless: the caption says what the bare triangle means; a value
            continue  # text per lossless point would pile up along the top edge
        ax.annotate(f"{value:.2f}{unit} at {bpp:.3f} bpp", (x, y), xytext=(6, 4 if marker != "v" else -10),
                    textcoords="offset points", fontsize=7, color=entry.style["color"], annotation_clip=False)
    return found


def _captions(dataset: str, measured: list[Entry], published: list[Entry], images: str, band_text: str | None,
              bars: bool, options: list[str]) -> list[str]:
    """What the figure draws, line by line: over which images each mean is taken, the band, the
    decoder-option envelopes, and which measured curves cover fewer images than a published mean."""
    counts = {e.n for e in measured}
    if len(counts) == 1 and (n := counts.pop()) and n[0] == n[1]:
        whose = " every curve has" if images == "common" else ""
        lines = [f"{dataset}: mean over {images_text(n[0])}{whose}"]
    else:
        lines = [f"{dataset}: n differs between curves (each mean over its own images, n in legend)"]
    if band_text:
        lines.append(f"band and bars: {band_text} over images" if bars else f"band: {band_text} over images")
    if options:
        lines.append(f"{', '.join(options)}: best decoder option per rate; every option in the -options figure")
    lines += [line for e in measured for line in e.left_out]
    if published:
        covered = max(int(e.n[1]) for e in published if e.n)
        fewer = [e.label.rsplit(" (", 1)[0] for e in measured if e.n and e.n[1] < covered]
        if fewer:
            lines.append(f"measured over fewer images than the published means ({covered}): {', '.join(fewer)}")
    return lines


def _panel(ax: Axes, entries: list[Entry], context: list[Entry], metric: str, band: str, limits) -> bool:
    """Draw one panel: its entries with legend, ``context`` curves in grey without one; returns
    whether a point was off scale."""
    xlim, ylim = limits
    for entry in context:
        ax.plot(entry.curve["bpp"], entry.curve[metric], color="0.75", linewidth=1, marker="o" if len(entry.curve) > 1 else "*",
                markersize=3 if len(entry.curve) > 1 else 8, linestyle="-" if len(entry.curve) > 1 else "none", zorder=1)
    off = False
    for entry in entries:
        ax.plot(entry.curve["bpp"], entry.curve[metric], label=entry.label, zorder=3 if entry.kind == "measured" else 2,
                **entry.style)
        if entry.kind == "measured":
            _spread(ax, entry.curve, metric, band, entry.style["color"])
            off |= _mark_off_scale(ax, entry, metric, xlim, ylim)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("bits per pixel")
    ax.set_ylabel(axis_label(metric))
    legend_outside(ax)
    return off


def _chunks(entries: list[Entry]) -> list[list[Entry]]:
    return [entries[i:i + MAX_LEGEND] for i in range(0, len(entries), MAX_LEGEND)] if entries else []


def rd_figure(measured: list[Entry], published: list[Entry], metric: str, *, dataset: str,
              images: str = DEFAULT_IMAGES, band: str = "iqr", options: Sequence[str] = ()) -> Figure:
    """One dataset's RD figure: the measured entries (one per codec), then published curves, at
    most :data:`MAX_LEGEND` legend entries per panel; panels below the first share its axes and
    show the measured curves in grey."""
    limits = axis_limits(measured, published, metric, band)
    if len(measured) + len(published) <= MAX_LEGEND:
        panels = [(measured + published, [])]
    else:
        panels = [(chunk, []) for chunk in _chunks(measured)] + [(chunk, measured) for chunk in _chunks(published)]
    width, height = AXES_SIZE
    fig = plt.figure(figsize=(width + 1.0, (height + 0.9) * len(panels) + 0.6))
    off = False
    for index, (chunk, context) in enumerate(panels):
        bottom = 1 - (0.6 + (height + 0.9) * index + height) / fig.get_figheight()
        ax = fig.add_axes((0.8 / fig.get_figwidth(), bottom, width / fig.get_figwidth(), height / fig.get_figheight()))
        ax.grid(True, alpha=0.3)
        off |= _panel(ax, chunk, context, metric, band, limits)
        if context:
            ax.set_title("published curves (measured curves in grey)", fontsize=8, loc="left")
    data = pd.concat([e.curve for e in measured])
    band_text = BANDS[band][2] if BANDS[band] and (data["n_images"] > 1).any() else None
    bars = any(len(e.curve) == 1 and e.curve["n_images"].max() > 1 for e in measured)
    lines = _captions(dataset, measured, published, images, band_text, bars, list(options))
    if off:
        lines.append("▲▼◀▶ points outside the axes, drawn at the edge with their value (a lossless point, "
                     "value ∞, without)")
    fig.axes[0].set_title("\n".join(lines), fontsize=9, loc="left")  # the first panel: measured curves
    return fig


def options_figure(variants: dict[str, list[Entry]], metric: str, *, dataset: str, band: str = "iqr") -> Figure:
    """One panel per codec with several decoder options: every option's curve (or point), in the
    codec's colour, told apart by line style and marker; the envelope, when drawn, underneath."""
    names = list(variants)
    fig, axes = new_grid(len(names), min(2, len(names)), (AXES_SIZE[0] * 0.8, AXES_SIZE[1] * 0.8))
    for ax, codec in zip(axes, names):
        ax.margins(OPTIONS_MARGIN)
        entries = [e for e in variants[codec] if e.kind == "measured"]
        for entry in variants[codec]:
            if entry.kind == "envelope":
                _draw_envelope(ax, entry.curve, metric, entry.style["color"], entry.label)
        for entry in entries:
            ax.plot(entry.curve["bpp"], entry.curve[metric], label=entry.label, zorder=3, **entry.style)
            _spread(ax, entry.curve, metric, band, entry.style["color"])
        ax.set_title(f"{codec}: decoder options", fontsize=9, loc="left")
        ax.set_xlabel("bits per pixel", fontsize=8)
        ax.set_ylabel(axis_label(metric), fontsize=8)
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.22), fontsize=7, frameon=False, ncol=1)
    fig.suptitle(f"{dataset}: decoder options of one bitstream per image and rate (n = images per curve)",
                 fontsize=10, x=0.01, horizontalalignment="left")
    return fig


def rd_figures(rows: pd.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS, images: str = DEFAULT_IMAGES,
               codec_order: Sequence[str] = (), band: str = "iqr", published: pd.DataFrame | None = None,
               envelope: bool = False, reduced: Reduced | None = None) -> Iterator[tuple[str, Figure]]:
    """(file stem, figure) per dataset and metric that has values, and a ``-options`` figure where
    a codec has several decoder options; the caller saves or closes them.

    The main figure draws one entry per codec: its curve, or for a codec with several decoder
    options its envelope (best option per rate); the options figure draws every option, with the
    envelope underneath when ``envelope`` is set. ``reduced``: ``rows`` already reduced under
    ``images`` (``bench.analysis.curves.reduce_rows``), by a caller that needs it too."""
    if band not in BANDS:
        raise AnalysisError(f"--band {band!r}: use one of {', '.join(BANDS)}")
    reduced = reduced or reduce_rows(rows, images)
    curves, per_image = reduced.curves, reduced.per_image
    measured_names = sorted(set(curves["codec"].unique().astype(str)))
    labels = [*measured_names, *(published["codec"].astype(str) if published is not None else [])]
    # measured codecs take the palette's first colours, so two of them never share one
    colours = codec_colours(sorted(set(labels)), [*codec_order, *measured_names])
    titles = dataset_labels([str(d) for d in curves["dataset"].unique()])  # a folder by its name
    for dataset, per_dataset in curves.groupby("dataset", sort=True):
        dataset_rows = per_image[per_image["dataset"] == dataset]
        for metric in metrics:
            if per_dataset[metric].isna().all():
                continue
            counts = metric_counts(dataset_rows, metric)
            data = per_dataset.dropna(subset=[metric])
            measured, variants = _measured_entries(data, counts, metric, colours, envelope)
            pub = _published_entries(_published_rows(published, str(dataset), metric), colours)
            yield f"{safe_name(str(dataset))}-{metric}", rd_figure(measured, pub, metric, dataset=titles[str(dataset)],
                                                                  images=images, band=band, options=list(variants))
            if variants:
                yield (f"{safe_name(str(dataset))}-{metric}-options",
                       options_figure(variants, metric, dataset=titles[str(dataset)], band=band))


def _measured_entries(data: pd.DataFrame, counts: dict[Key, tuple[int, int]], metric: str, colours: dict[str, str],
                      envelope: bool) -> tuple[list[Entry], dict[str, list[Entry]]]:
    """The main figure's entries (one per codec) and, per codec with several decoder options,
    the entries of its options panel."""
    keys: list[Key] = list(dict.fromkeys(zip(data["codec"], data["decoder_options"])))
    n_points = {key: int(len(group)) for key, group in data.groupby(["codec", "decoder_options"])}
    variant_styles = curve_styles(keys, n_points, colours)
    labels = curve_labels(keys)
    measured: list[Entry] = []
    variants: dict[str, list[Entry]] = {}
    ordered = _ordered(keys, variant_styles, colours)
    for codec in dict.fromkeys(k[0] for k in ordered):
        mine = [k for k in ordered if k[0] == codec]
        curve_of = {k: data[(data["codec"] == k[0]) & (data["decoder_options"] == k[1])].sort_values("bpp") for k in mine}
        left_out = tuple(f"{labels[k]}: {text}" for k in mine if (text := _left_out(curve_of[k])))
        if len(mine) == 1:
            key = mine[0]
            style = {"color": colours[codec], **marker_style(n_points[key])}
            measured.append(Entry(curve_of[key], f"{labels[key]} ({_count_text(*counts[key])})", style, "measured",
                                  counts[key], left_out))
            continue
        best = envelope_curves(pd.concat(curve_of.values()), metric, higher_is_better=metric not in LOWER_IS_BETTER)
        chosen = [counts[(codec, options)] for options in best["best_options"]]
        n = (min(c[0] for c in chosen), max(c[1] for c in chosen)) if chosen else counts[mine[0]]
        if not best.empty:
            style = {"color": colours[codec], **marker_style(len(best))}
            measured.append(Entry(best.sort_values("bpp"), f"{codec} (best of {len(mine)} decoder options, "
                                  f"{_count_text(*n)})", style, "measured", n, left_out))
        variants[codec] = [Entry(curve_of[k], f"{labels[k]} ({_count_text(*counts[k])})", variant_styles[k],
                                 "measured", counts[k]) for k in mine]
        if envelope and not best.empty:
            variants[codec].append(Entry(best, f"{codec} (envelope over decoder options)",
                                         {"color": colours[codec]}, "envelope", n))
    return measured, variants


def _left_out(curve: pd.DataFrame) -> str:
    """What one mean curve left out to stay complete (``mean_curves``' ``n_dropped``), or ""."""
    dropped = int(curve["n_dropped"].max()) if "n_dropped" in curve.columns and len(curve) else 0
    return dropped_text(dropped, int(curve["n_images"].max()), len(curve)) if dropped else ""


def _published_entries(published: pd.DataFrame, colours: dict[str, str]) -> list[Entry]:
    entries = []
    for codec, curve in published.groupby("codec", sort=True):
        text = str(curve["label"].iloc[0]) if "label" in curve.columns else str(codec)
        n = int(curve["n_images"].iloc[0]) if "n_images" in curve.columns and pd.notna(curve["n_images"].iloc[0]) else None
        suffix = f", n={n}" if n is not None else ""
        entries.append(Entry(curve.sort_values("bpp"), f"{text} (published{suffix})",
                             {"color": colours[codec], **PUBLISHED_LINE}, "published", (n, n) if n else None))
    return entries


def plot_rd(rows: pd.DataFrame, out_dir: Path, metrics: Sequence[str] = DEFAULT_METRICS, images: str = DEFAULT_IMAGES,
            codec_order: Sequence[str] = (), band: str = "iqr", published: pd.DataFrame | None = None,
            envelope: bool = False, formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Draw mean RD curves, one file per dataset, metric and format (``<dataset>-<metric>.<fmt>``,
    and ``<dataset>-<metric>-options.<fmt>`` for decoder options); returns the files written."""
    written: list[Path] = []
    for stem, fig in rd_figures(rows, metrics, images, codec_order, band, published, envelope):
        written += save(fig, out_dir, stem, formats)
    return written


def owned_figures(datasets: Iterable[str], metrics: Sequence[str]) -> list[str]:
    """File-name patterns of the RD figures ``bench plot`` draws of ``datasets`` and ``metrics``
    (``<dataset>-<metric>``, ``-options``, ``-per-image``): those a run did not draw are stale
    (:func:`bench.outputs.remove_stale`). Crop grids and sweeps in the same folder match none."""
    return [f"{glob.escape(safe_name(str(d)))}-{glob.escape(m)}{tail}.*"
            for d in datasets for m in metrics for tail in ("", "-options", "-per-image")]


def _columns(n_panels: int) -> int:
    """Grid width: about 3 columns per 2 rows (24 Kodak images → 6 × 4)."""
    return max(1, min(n_panels, round(math.sqrt(1.5 * n_panels))))


def per_image_figure(per_image: pd.DataFrame, metric: str, *, dataset: str, colours: dict[str, str],
                     images: str = DEFAULT_IMAGES) -> Figure:
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


def plot_per_image(rows: pd.DataFrame, out_dir: Path, metric: str = "psnr_rgb", images: str = DEFAULT_IMAGES,
                   codec_order: Sequence[str] = (), formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """One small-multiples figure per dataset (``<dataset>-<metric>-per-image.<fmt>``): where a
    mean curve hides an image on which a codec behaves differently."""
    per_image = image_rows(rows, images)
    colours = codec_colours(sorted(set(per_image["codec"].unique().astype(str))), codec_order)
    written: list[Path] = []
    titles = dataset_labels([str(d) for d in per_image["dataset"].unique()])
    for dataset, data in per_image.groupby("dataset", sort=True):
        if data[metric].isna().all():
            continue
        fig = per_image_figure(data, metric, dataset=titles[str(dataset)], colours=colours, images=images)
        written += save(fig, out_dir, f"{safe_name(str(dataset))}-{metric}-per-image", formats)
    return written
