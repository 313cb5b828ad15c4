"""One self-contained HTML page per store, laid out as a paper's appendix.

Per dataset: RD figures (with published overlays when asked, spread bands, per-image panels),
BD tables with bootstrap intervals, AUC tables, the RD-point table with spread and timings, the
per-image table (collapsed), visual crops and failures; then the environment. Every figure and
table comes from the same functions as ``bench plot`` and ``bench table``, so the page and the
files agree; every image is inline (base64), so the page works offline and can be attached to CI.
A store of thousands of images keeps the page small: no per-image panels beyond
``PANEL_IMAGES`` images, and per-image tables beyond ``INLINE_ROWS`` rows as CSV files beside it.

A reader who opens only this page must not need the code: metrics are named in words
(:data:`bench.render.style.DISPLAY_NAMES`) and defined once at the top from the store's own column
descriptions (:mod:`bench.schema`), and every caption says what its figure draws and over which
images.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pandas as pd
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from bench.config import environment
from bench.analysis.paper import PaperTables, TableSettings, paper_tables
from bench.errors import AnalysisError
from bench.outputs import output_folder
from bench.render.crops import crops_prefix
from bench.render.figure import DPI, safe_name
from bench.render.rd import per_image_figure, rd_figures
from bench.render.style import codec_colours, display_name, images_text
from bench.schema import COLUMNS
from bench.render.tables import (auc_caption, auc_display, bd_caption, bd_display, images_note, per_image_bd_display,
                                 per_image_display, points_display)
from bench.analysis.curves import Reduced, reduce_rows

#: The eight bytes every PNG file starts with: a crop grid is embedded only when it is one.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Largest crop grid embedded (64 MiB): the page holds it base64-encoded, built in memory.
MAX_CROP_BYTES = 64 * 2 ** 20

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f4f4f4}td{text-align:right}td:first-child{text-align:left}
figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top;max-width:100%}
figure img{max-width:100%;height:auto}figcaption,.caption{font-size:12px;color:#555;max-width:60em}
details{margin:.5em 0 1em}summary{cursor:pointer;font-weight:600}
dl.metrics dt{font-weight:600;margin-top:.4em}dl.metrics dd{margin-left:1.5em;font-size:14px}
"""
DESCRIPTIONS = {column.name: column.description for column in COLUMNS}
#: Most images a dataset's per-image panels are drawn for, and most rows a per-image table is
#: inlined with: beyond them the page grows with the store (12 MB and a minute at 500 images).
#: A longer table is written as CSV into ``ReportSettings.files`` and linked; the RD figures'
#: spread bands summarise the images either way.
PANEL_IMAGES = 48
INLINE_ROWS = 2_000


@dataclass(frozen=True)
class ReportSettings:
    """What the page shows beyond the tables' settings."""

    title: str = "bench report"
    tables: TableSettings = field(default_factory=TableSettings)
    codec_order: tuple[str, ...] = ()
    band: str = "iqr"
    published: pd.DataFrame | None = None
    per_image_metric: str = "psnr_rgb"
    crops: tuple[Path, ...] = ()
    #: Folder beside the page for per-image tables longer than ``INLINE_ROWS`` (linked by its
    #: name); None inlines every table, however long.
    files: Path | None = None


@dataclass(frozen=True)
class ReportFigure:
    dataset: str
    stem: str
    caption: str
    figure: Figure
    metric: str = ""
    #: The figure as a base64 PNG once drawn (``drawn``): the page holds it, the figure is closed.
    png: str = ""

    def drawn(self) -> "ReportFigure":
        """This figure rendered to PNG and closed, so a report of many datasets never holds more
        than one open matplotlib figure at a time."""
        return replace(self, png=_png(self.figure))


def over_images(data: pd.DataFrame, images: str) -> str:
    """Which images one dataset's means are taken over, in words, from :func:`image_rows`' rows."""
    if data.empty:
        return "no images"
    if images == "common":
        return f"the {images_text(int(data['image'].nunique()))} every curve has"
    counts = data.groupby(["codec", "decoder_options"])["image"].nunique()
    return f"each curve's own images ({images_text(int(counts.min()), int(counts.max()))})"


def _rd_stem(stem: str, metrics: Sequence[str]) -> tuple[str, str, bool]:
    """(dataset file name, metric, whether it is the decoder-options figure) of an RD figure's
    stem, ``<dataset>-<metric>`` or ``<dataset>-<metric>-options``; a dataset name may hold ``-``,
    so the stem is matched against the metrics drawn, the longest first."""
    for suffix, options in (("-options", True), ("", False)):
        for metric in sorted(metrics, key=len, reverse=True):
            tail = f"-{metric}{suffix}"
            if stem.endswith(tail):
                return stem[:-len(tail)], metric, options
    raise AnalysisError(f"RD figure {stem!r}: its name ends in none of the metrics {', '.join(metrics)}")


def report_figures(rows: pd.DataFrame, settings: ReportSettings, reduced: Reduced | None = None) -> Iterator[ReportFigure]:
    """Every figure of the page, in order: RD per metric, then per-image panels, per dataset
    (``reduced``: ``rows`` already reduced under the tables' ``images``)."""
    images = settings.tables.images
    reduced = reduced or reduce_rows(rows, images)
    per_image = reduced.per_image
    over = {safe_name(str(d)): over_images(data, images) for d, data in per_image.groupby("dataset", sort=True)}
    spread = {"iqr": "interquartile range", "minmax": "min–max", "none": ""}[settings.band]
    metrics = settings.tables.metrics or ("psnr_rgb", "ms_ssim_db", "lpips")
    for stem, fig in rd_figures(rows, metrics, images, settings.codec_order, settings.band, settings.published,
                                reduced=reduced):
        dataset, metric, options = _rd_stem(stem, metrics)
        what = ("every decoder option of the codecs run with several (the figure before draws each such "
                "codec's best option per rate)" if options else "for each codec")
        caption = (f"{display_name(metric)} against bits per pixel, {what}: the mean bpp and mean "
                   f"{display_name(metric)} over {over.get(dataset, 'its images')} at each rate parameter"
                   + "".join(f"; {item}" for item in drawn_key(fig, spread)))
        yield ReportFigure(dataset, stem, caption, fig, metric)
    colours = _colours(rows, settings)
    metric = settings.per_image_metric
    for dataset, data in per_image.groupby("dataset", sort=True):
        if data[metric].notna().any() and data["image"].nunique() <= PANEL_IMAGES:
            fig = per_image_figure(data, metric, dataset=str(dataset), colours=colours, images=images)
            name = safe_name(str(dataset))
            caption = (f"{display_name(metric)} against bits per pixel on each image, one panel per image "
                       f"({images_text(int(data['image'].nunique()))}): every codec's curve over its rate "
                       "parameters, the data behind the means")
            yield ReportFigure(name, f"{name}-{metric}-per-image", caption, fig, metric)


def drawn_key(fig: Figure, spread: str) -> list[str]:
    """The marks a caption explains, read from what ``fig`` draws, so a caption never mentions a
    star, band, bar or dashed curve the figure does not have: stars (single-rate codecs), shaded
    bands and bars (``spread`` over images), dashed lines (published curves)."""
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    collections = [c for ax in fig.axes for c in ax.collections]
    key = []
    if any(line.get_marker() == "*" for line in lines):
        key.append("stars: codecs measured at one rate point")
    band = any(isinstance(c, PolyCollection) for c in collections)
    bars = any(isinstance(c, LineCollection) for c in collections)
    if band or bars:
        marks = " and ".join(name for name, shown in (("shaded band", band), ("bars", bars)) if shown)
        key.append(f"{marks}: {spread} over those images")
    if any(line.get_linestyle() == "--" for line in lines):
        key.append("dashed: published curves (the papers' dataset means, as published)")
    return key


def _colours(rows: pd.DataFrame, settings: ReportSettings) -> dict[str, str]:
    labels = set(rows["codec"].unique().astype(str))
    if settings.published is not None:
        labels |= set(settings.published["codec"].astype(str))
    return codec_colours(sorted(labels), settings.codec_order)


def _png(fig: Figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _table(frame: pd.DataFrame, caption: str = "") -> str:
    body = frame.to_html(index=False, na_rep="–", border=0, escape=True)
    return (f"<p class='caption'>{html.escape(caption)}</p>" if caption else "") + body


def _per_image_table(summary: str, display: Callable[[], pd.DataFrame], data: pd.DataFrame, files: Path | None,
                     stem: str) -> str:
    """A per-image table, collapsed: inline, or, beyond ``INLINE_ROWS`` rows with a ``files``
    folder, written there as CSV (the analysis frame, as ``bench table`` writes it) and linked."""
    if files is None or len(data) <= INLINE_ROWS:
        return f"<details><summary>{summary}</summary>" + _table(display()) + "</details>"
    output_folder(files, "report tables")
    data.to_csv(files / f"{stem}.csv", index=False)
    link = html.escape(f"{files.name}/{stem}.csv")
    return (f"<p><b>{summary}</b>: {len(data):,} rows, more than this page shows (at most {INLINE_ROWS:,}): "
            f"<a href='{link}'>{link}</a></p>")


def _section(dataset: str, tables: PaperTables, figures: list[ReportFigure], crops: list[Path],
             failures: pd.DataFrame, files: Path | None = None) -> list[str]:
    name = safe_name(str(dataset))
    parts = [f"<h2 id='{html.escape(name)}'>{html.escape(dataset)}</h2>"]
    for item in figures:
        parts.append(f"<figure><img alt='{html.escape(item.stem)}' src='data:image/png;base64,{item.png}'>"
                     f"<figcaption>{html.escape(item.caption)}</figcaption></figure>")
    per_image = tables.per_image_points[tables.per_image_points["dataset"] == dataset]
    count = int(per_image["image"].nunique())
    if count > PANEL_IMAGES:
        parts.append(f"<p class='caption'>No per-image panels: {images_text(count)}, more than the {PANEL_IMAGES} "
                     "drawn; the bands of the figures above show their spread, and every image's points are in "
                     "the per-image table below.</p>")
    for metric in tables.metrics:
        bd = tables.bd[metric][tables.bd[metric]["dataset"] == dataset]
        if not bd.empty:
            parts.append(f"<h3>BD against {html.escape(tables.settings.anchor)}: {html.escape(display_name(metric))}</h3>")
            parts.append(_table(bd_display(bd, metric), bd_caption(tables, dataset, metric, bd["images"])))
        auc = tables.auc[metric][tables.auc[metric]["dataset"] == dataset]
        if not auc.empty:
            parts.append(f"<h3>AUC: {html.escape(display_name(metric))}</h3>")
            parts.append(_table(auc_display(auc, metric, tables.settings.auc_normalise), auc_caption(tables, dataset, metric, auc)))
    points = tables.points[tables.points["dataset"] == dataset]
    parts.append("<h3>RD points</h3>")
    parts.append(_table(points_display(points, list(tables.metrics)),
                        f"Mean and standard deviation (sd) over images at each rate parameter; "
                        f"{images_note(tables.settings.images, points['n_images'])}; mean coding seconds per image"))
    parts.append(_per_image_table(f"Per-image RD points ({images_text(count)})",
                                  partial(per_image_display, per_image, list(tables.metrics)), per_image, files,
                                  f"{name}-rd-points-per-image"))
    for metric, frame in tables.per_image_bd.items():
        frame = frame[frame["dataset"] == dataset]
        if not frame.empty:
            parts.append(_per_image_table(f"Per-image BD against {html.escape(tables.settings.anchor)}: "
                                          f"{html.escape(display_name(metric))}", partial(per_image_bd_display, frame, metric),
                                          frame, files, f"{name}-bd-{metric}-per-image"))
    if crops:
        parts.append("<h3>Visual comparison</h3>")
    for crop in crops:
        data = base64.b64encode(crop.read_bytes()).decode()
        parts.append(f"<figure><img alt='{html.escape(crop.stem)}' src='data:image/png;base64,{data}'><figcaption>"
                     f"{html.escape(crop.name)}: the same region of one image from every codec at (nearly) the same "
                     "bpp, written by bench crops; the grid's caption names the image, the box and how each "
                     "point was chosen, and a framed panel is off the target bpp</figcaption></figure>")
    parts.append(f"<h3>Failures ({len(failures)})</h3>")
    if len(failures):
        parts.append(_table(failures.groupby(["codec", "error"]).size().reset_index(name="tasks")))
    return parts


def _metrics(tables: PaperTables, figures: list[ReportFigure]) -> list[str]:
    """What every number on the page is, in the words of the store's schema."""
    shown = dict.fromkeys([*tables.metrics, *(f.metric for f in figures if f.metric)])
    items = [("bpp (bits per pixel)", DESCRIPTIONS["bpp"] + ", the complete bitstream counted")]
    for metric in shown:
        text = DESCRIPTIONS.get(metric, "")
        if metric == "ms_ssim_db":
            text += f", where MS-SSIM is {DESCRIPTIONS['ms_ssim']}; higher is better"
        items.append((display_name(metric), text))
    items.append(("BD-rate", "Bjøntegaard delta rate: the mean difference in bpp (%) of a curve against the "
                             "anchor at equal quality, over the quality range both cover; negative = fewer bits"))
    return (["<h2 id='metrics'>Metrics</h2>",
             "<p class='caption'>Each metric is measured per image on the whole decoded image against the "
             "original; figures and tables average these per-image values.</p><dl class='metrics'>"]
            + [f"<dt>{html.escape(name)}</dt><dd>{html.escape(text)}</dd>" for name, text in items] + ["</dl>"])


def crops_by_dataset(crops: Sequence[Path], datasets: Sequence[str]) -> dict[str, list[Path]]:
    """Each crop grid under the dataset whose :func:`crops_prefix` its file name starts with (the
    longest wins: ``kodak-crops`` before ``kodak``). A grid that matches no dataset of the report,
    or two of them, is an error: embedding it nowhere would drop it without a word."""
    placed: dict[str, list[Path]] = {d: [] for d in datasets}
    for crop in crops:
        matches = [d for d in datasets if crop.name.startswith(crops_prefix(d))]
        longest = max((len(crops_prefix(d)) for d in matches), default=0)
        best = [d for d in matches if len(crops_prefix(d)) == longest]
        if not best:
            raise AnalysisError(f"--crops {crop}: its name matches no dataset of this report (expected a name "
                                f"starting {' or '.join(crops_prefix(d) for d in datasets)}); write it with "
                                "`bench crops` from this store, or select its dataset with --dataset")
        if len(best) > 1:
            raise AnalysisError(f"--crops {crop}: matches datasets {', '.join(best)}, whose folders share a name; "
                                "report them one at a time with --dataset")
        placed[best[0]].append(crop)
    return placed


def _environment(rows: pd.DataFrame) -> list[str]:
    machine = pd.DataFrame(list(environment.machine().items()), columns=["item", "version"])
    recorded = environment.recorded(rows)
    return ["<h2 id='environment'>Environment</h2>",
            _table(machine, "The machine and libraries that wrote this report"),
            _table(recorded["codecs"], "Codec versions, binaries and checkpoint hashes recorded in the rows"),
            _table(recorded["runs"], "Harness versions, commits, hosts and devices recorded in the rows")]


def render_report(rows: pd.DataFrame, settings: ReportSettings) -> str:
    """The report as one HTML string; images embedded, no external resource but the CSV files of
    per-image tables too long to inline (``ReportSettings.files``)."""
    reduced = reduce_rows(rows, settings.tables.images)  # once, for the tables and the figures
    tables = paper_tables(rows, settings.tables, reduced)
    figures = [item.drawn() for item in report_figures(rows, settings, reduced)]
    datasets = sorted(set(rows["dataset"].unique().astype(str)))
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             f"<title>{html.escape(settings.title)}</title><style>{STYLE}</style></head><body>",
             f"<h1>{html.escape(settings.title)}</h1>",
             "<p>" + " · ".join(f"<a href='#{html.escape(safe_name(str(d)))}'>{html.escape(d)}</a>" for d in datasets)
             + " · <a href='#metrics'>metrics</a> · <a href='#environment'>environment</a></p>"]
    parts += _metrics(tables, figures)
    crops = crops_by_dataset(settings.crops, datasets)
    for dataset in datasets:
        failures = rows[(rows["dataset"].astype(str) == dataset) & rows["error"].notna()]
        parts += _section(dataset, tables, [f for f in figures if f.dataset == safe_name(str(dataset))],
                          crops[dataset], failures, settings.files)
    parts += _environment(rows)
    parts.append("</body></html>")
    return "\n".join(parts)


def crop_files(paths: Sequence[Path]) -> tuple[Path, ...]:
    """Crop grids to embed, checked before any work: each an existing PNG (by its signature, not
    its name) of at most MAX_CROP_BYTES, since the page carries it base64-encoded in memory."""
    from bench.config.options import input_file

    for path in paths:
        if not path.exists():
            raise AnalysisError(f"--crops {path}: no such file; write it with `bench crops` first")
        input_file(path, "--crops", max_bytes=MAX_CROP_BYTES, signature=PNG_SIGNATURE, kind="PNG file")
    return tuple(paths)
