"""Paper tables in Markdown, LaTeX (booktabs, best value per column in bold) and CSV.

Analysis functions return frames with machine column names (``bd_rate``, ``bd_rate_low``...);
the ``*_display`` functions here turn them into what a paper prints: headers that read as words
("BD-rate %"), intervals as one "[low, high]" cell, notes where a number cannot exist, and no
"-0.00" for the anchor. Files are written per dataset, so the bold "best" of a column is chosen
among codecs measured on the same images, never across datasets.

Codec labels, decoder options, dataset and image names and notes are user text: a Markdown cell
loses line breaks and control characters and escapes ``|`` (else a name adds a column or splits
a row), a LaTeX cell escapes every special character, and the CSV files quote through the csv
module, so a name reads back unchanged.
"""

from __future__ import annotations

import glob
import math
import re
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from bench.analysis.curves import images_text
from bench.errors import one_line
from bench.render.names import safe_name
from bench.outputs import output_folder

#: How each metric reads in a header.
METRIC_NAMES = {"psnr_rgb": "PSNR RGB", "psnr_y": "PSNR Y", "ms_ssim": "MS-SSIM", "ms_ssim_db": "MS-SSIM",
                "lpips": "LPIPS", "psnr_rgb_float": "PSNR RGB (float reconstruction)"}
METRIC_UNITS = {"psnr_rgb": "dB", "psnr_y": "dB", "ms_ssim": "", "ms_ssim_db": "dB", "lpips": "",
                "psnr_rgb_float": "dB"}


def metric_header(metric: str) -> str:
    unit = METRIC_UNITS.get(metric, "")
    return f"{METRIC_NAMES.get(metric, metric)} ({unit})" if unit else METRIC_NAMES.get(metric, metric)


def metric_digits(metric: str) -> int:
    return 4 if metric in ("lpips", "ms_ssim") else 2


def number(value: object, digits: int) -> str:
    """A cell: rounded, "–" for missing, and never "-0.00"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{round(float(value), digits) + 0.0:.{digits}f}"
    return str(value)


def interval(low: object, high: object, digits: int) -> str:
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high)):
        return "–"
    return f"[{number(low, digits)}, {number(high, digits)}]"


def bd_display(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """BD table columns as a paper prints them; the anchor row shows 0 and no interval."""
    digits = metric_digits(metric)
    quality = f"BD-{metric_header(metric)}"
    return pd.DataFrame({
        "codec": table["curve"],
        "images": [str(n) if n == of else f"{n} of {of}" for n, of in zip(table["images"], table["images_of"])],
        "points": table["points"],
        "BD-rate %": [number(v, 2) for v in table["bd_rate"]],
        "BD-rate 95 % CI": [interval(lo, hi, 2) if n else "–" for lo, hi, n in
                            zip(table["bd_rate_low"], table["bd_rate_high"], table["resamples"])],
        quality: [number(v, digits) for v in table["bd_quality"]],
        f"{quality} 95 % CI": [interval(lo, hi, digits) if n else "–" for lo, hi, n in
                               zip(table["bd_quality_low"], table["bd_quality_high"], table["resamples"])],
        "note": table["note"],
    })


def auc_header(metric: str, normalise: bool) -> str:
    """The raw area's unit is the metric's times bpp; the normalised mean reads in the metric's own."""
    unit = METRIC_UNITS.get(metric, "")
    unit = unit if normalise else (f"{unit}·bpp" if unit else "bpp")
    return f"AUC {METRIC_NAMES.get(metric, metric)} ({unit})"


def auc_display(table: pd.DataFrame, metric: str, normalise: bool = False) -> pd.DataFrame:
    return pd.DataFrame({
        "codec": table["curve"], "images": table["images"], "points": table["points"],
        auc_header(metric, normalise): [number(v, 4) for v in table["auc"]],
        "note": table["note"],
    })


def points_display(points: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """RD points: mean ± standard deviation over images, n, and mean coding seconds."""
    frame = pd.DataFrame({"codec": points["curve"], "rate": [number(v, 4).rstrip("0").rstrip(".") for v in points["rate"]],
                          "images": points["n_images"], "bpp": [number(v, 4) for v in points["bpp"]],
                          "bpp sd": [number(v, 4) for v in points["bpp_std"]]})
    for metric in metrics:
        digits = metric_digits(metric)
        frame[metric_header(metric)] = [number(v, digits) for v in points[metric]]
        frame[f"{metric_header(metric)} sd"] = [number(v, digits) for v in points[f"{metric}_std"]]
    frame["encode s"] = [number(v, 3) for v in points["encode_s"]]
    frame["decode s"] = [number(v, 3) for v in points["decode_s"]]
    return frame


def per_image_display(points: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({"image": points["image"], "codec": points["curve"],
                          "rate": [number(v, 4).rstrip("0").rstrip(".") for v in points["rate"]],
                          "bpp": [number(v, 4) for v in points["bpp"]]})
    for metric in metrics:
        frame[metric_header(metric)] = [number(v, metric_digits(metric)) for v in points[metric]]
    return frame


def per_image_bd_display(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    return pd.DataFrame({"image": table["image"], "codec": table["curve"], "points": table["points"],
                         "BD-rate %": [number(v, 2) for v in table["bd_rate"]],
                         f"BD-{metric_header(metric)}": [number(v, metric_digits(metric)) for v in table["bd_quality"]],
                         "note": table["note"]})


def _line(text: str) -> str:
    """``text`` on one printable line, whole (``one_line`` without its length limit).

    Nearly every cell is already such a line (printable ASCII, single spaces, none at either
    end) and is returned as it is: a per-image table has a million cells."""
    if text.isascii() and text.isprintable() and "  " not in text and text == text.strip():
        return text
    return one_line(text, limit=max(len(text), 1))


def _rows(frame: pd.DataFrame) -> Iterator[tuple]:
    """The frame's rows as tuples of Python values (what ``itertuples`` yields, without its
    per-value cost on Arrow-backed string columns)."""
    return zip(*(frame[column].tolist() for column in frame.columns))


def markdown_cell(text: str) -> str:
    """User text as one Markdown table cell: one line, ``|`` escaped."""
    return _line(text).replace("|", r"\|")


def to_markdown(frame: pd.DataFrame, caption: str, digits: int = 2) -> str:
    header = "| " + " | ".join(markdown_cell(str(c)) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(markdown_cell(number(v, digits)) for v in row) + " |" for row in _rows(frame)]
    title = _line(caption).replace("*", r"\*")  # a "*" in a name would end the italics
    return "\n".join([f"*{title}*", "", header, rule, *body]) + "\n"


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_PATTERN = re.compile("|".join(re.escape(char) for char in _LATEX_SPECIALS))


def _latex_escape(text: str) -> str:
    """User text as LaTeX that prints it: one line, every special character escaped in one pass
    (so the braces an escape adds are not escaped again)."""
    return _LATEX_PATTERN.sub(lambda found: _LATEX_SPECIALS[found.group()], _line(text))


def to_latex(frame: pd.DataFrame, caption: str, best: dict[str, str] | None = None, digits: int = 2) -> str:
    """A booktabs table; ``best`` maps column → "min"/"max" to bold the best value of that column
    (cells are compared as numbers, so preformatted text cells work too)."""
    best = best or {}
    numeric = {c: pd.to_numeric(frame[c], errors="coerce") for c in frame.columns}
    winners = {}
    for column, direction in best.items():
        if column in numeric and numeric[column].notna().any():
            winners[column] = (numeric[column].min() if direction == "min" else numeric[column].max(),
                               numeric[column].to_numpy())
    align = "".join("r" if numeric[c].notna().any() else "l" for c in frame.columns)
    lines = [r"\begin{table}[t]", r"\centering", f"\\caption{{{_latex_escape(caption)}}}",
             f"\\begin{{tabular}}{{{align}}}", r"\toprule",
             " & ".join(_latex_escape(str(c)) for c in frame.columns) + r" \\", r"\midrule"]
    for index, row in enumerate(_rows(frame)):
        cells = []
        for column, value in zip(frame.columns, row):
            text = _latex_escape(number(value, digits))
            if column in winners and winners[column][1][index] == winners[column][0]:
                text = f"\\textbf{{{text}}}"
            cells.append(text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_all(frame: pd.DataFrame, stem: Path, caption: str, best: dict[str, str] | None = None, digits: int = 2,
              data: pd.DataFrame | None = None) -> list[Path]:
    """``stem``.md and .tex from the display ``frame``, .csv from ``data`` (the analysis frame:
    numbers as numbers, an interval as two columns, empty cells where no number exists) or,
    without it, from ``frame``; returns the paths."""
    output_folder(stem.parent, "tables")
    paths = [stem.with_suffix(".md"), stem.with_suffix(".tex"), stem.with_suffix(".csv")]
    paths[0].write_text(to_markdown(frame, caption, digits))
    paths[1].write_text(to_latex(frame, caption, best, digits))
    (frame if data is None else data).to_csv(paths[2], index=False)
    return paths


#: Most rows a per-image table is written with as Markdown and LaTeX; a longer one (a store of
#: thousands of images) is written as CSV only, beside a note in its .md and .tex saying where:
#: no one reads 10^5 lines of Markdown, and formatting them cost most of ``bench table``'s time.
TEXT_ROWS = 20_000


def write_per_image(display: Callable[[], pd.DataFrame], stem: Path, caption: str, data: pd.DataFrame) -> list[Path]:
    """A per-image table as ``write_all`` writes it (``display`` makes its display frame), or,
    beyond ``TEXT_ROWS`` rows, its CSV and a one-line .md and .tex pointing to it (overwriting
    the full tables of an earlier run)."""
    if len(data) <= TEXT_ROWS:
        return write_all(display(), stem, caption, data=data)
    output_folder(stem.parent, "tables")
    paths = [stem.with_suffix(".md"), stem.with_suffix(".tex"), stem.with_suffix(".csv")]
    note = f"{len(data):,} rows, more than {TEXT_ROWS:,}: every row is in {paths[2].name}"
    paths[0].write_text(f"*{_line(caption).replace('*', chr(92) + '*')}*\n\n{note}\n")
    paths[1].write_text(f"% {_latex_escape(caption)}\n% {_latex_escape(note)}\n")
    data.to_csv(paths[2], index=False)
    return paths


def one_image_set(tables, dataset: str) -> bool:
    """Whether every curve of ``dataset`` was measured on the same images (then "own" and
    "common" means are the same, and a caption can say so plainly)."""
    points = tables.per_image_points
    mine = points[points["dataset"] == dataset]
    # every curve's set equals the union exactly when every curve has as many images as the union
    return bool((mine.groupby("curve")["image"].nunique() == mine["image"].nunique()).all())


def images_note(images: str, counts: pd.Series, same_images: bool = False) -> str:
    """How the dataset means were taken, as a caption says it."""
    if images == "common" or same_images:
        n = int(counts.max()) if len(counts) else 0
        return f"means over the {images_text(n)} every curve has, of per-image values at equal rate parameter"
    return ("each curve averaged over its own images (count in the images column; a BD pairs a curve with the "
            "anchor over the images both have), per-image values at equal rate parameter")


def incomplete_caption(tables, dataset: str) -> str:
    """The caption's words on ``dataset``'s curves that left measurements out ("" when none did)."""
    incomplete = tables.incomplete
    if incomplete.empty:
        return ""
    mine = incomplete[incomplete["dataset"] == dataset]
    return "".join(f"; {curve}: {note}" for curve, note in zip(mine["curve"], mine["note"]))


def interval_text(tables, dataset: str, metric: str) -> str:
    """The BD table's interval as computed: a bootstrap only where one of its rows drew one, else
    why there is none (no resamples asked for, a published anchor without per-image values, or
    no curve with enough images; each row's note says which)."""
    s = tables.settings
    bd = tables.bd[metric]
    if (bd.loc[bd["dataset"] == dataset, "resamples"] > 0).any():
        return f"95 % CI: percentile bootstrap over images, {s.resamples} resamples, seed {s.seed}"
    if not s.resamples:
        return "no interval (0 resamples)"
    if s.anchor.startswith("published:"):
        return "no interval (a published anchor has no per-image values to resample)"
    return "no interval (no curve supports a bootstrap here; the notes say why)"


def bd_caption(tables, dataset: str, metric: str, counts: pd.Series) -> str:
    s = tables.settings
    how = "BD of the dataset-mean curves" if s.mode == "mean-curve" else "mean of per-image BDs"
    ci = interval_text(tables, dataset, metric)
    return (f"{dataset}: BD-rate and BD-{metric_header(metric)} against {s.anchor} ({s.method}; {how}; "
            f"{images_note(s.images, counts, one_image_set(tables, dataset))}; {ci}); negative BD-rate = fewer bits")


def auc_caption(tables, dataset: str, metric: str, frame: pd.DataFrame) -> str:
    from bench.analysis.auc import describe

    s = tables.settings
    low, high = frame["bpp_low"].iloc[0], frame["bpp_high"].iloc[0]
    span = f"[{low:.4f}, {high:.4f}] bpp" if not (math.isnan(low) or math.isnan(high)) else "no common range"
    given = "given with --auc-range" if s.auc_range else "common to the curves with an AUC"
    return (f"{dataset}: AUC of {metric_header(metric)}, {describe(s.auc_interpolation, s.auc_normalise)}; "
            f"range {span}, {given}; {images_note(s.images, frame['images'], one_image_set(tables, dataset))}")


def owned_tables(tables) -> list[str]:
    """File-name patterns of the tables ``write_paper_tables`` writes into a dataset folder for
    ``tables``' metrics: those it did not write this time (another anchor's per-image BD, a
    metric without a BD now) are stale (:func:`bench.outputs.remove_stale`)."""
    metrics = [glob.escape(m) for m in tables.metrics]
    return ([f"{name}.*" for m in metrics for name in (f"bd-{m}", f"bd-{m}-per-image", f"auc-{m}")]
            + ["rd-points.*", "rd-points-per-image.*"])


def write_paper_tables(tables, out: Path) -> list[Path]:
    """One folder per dataset: bd-, auc-, per-image BD and RD-point tables in .md/.tex/.csv."""
    written: list[Path] = []
    for dataset in tables.datasets:
        folder = out / safe_name(str(dataset))
        for metric in tables.metrics:
            bd = tables.bd[metric][tables.bd[metric]["dataset"] == dataset]
            if not bd.empty:
                lower_better = metric == "lpips"
                written += write_all(bd_display(bd, metric), folder / f"bd-{metric}",
                                     bd_caption(tables, dataset, metric, bd["images"]),
                                     best={"BD-rate %": "min", f"BD-{metric_header(metric)}": "min" if lower_better else "max"},
                                     data=bd)
            auc = tables.auc[metric][tables.auc[metric]["dataset"] == dataset]
            if not auc.empty:
                normalise = tables.settings.auc_normalise
                written += write_all(auc_display(auc, metric, normalise), folder / f"auc-{metric}",
                                     auc_caption(tables, dataset, metric, auc),
                                     best={auc_header(metric, normalise): "min" if metric == "lpips" else "max"}, data=auc)
            per_image = tables.per_image_bd.get(metric)
            if per_image is not None and not per_image[per_image["dataset"] == dataset].empty:
                frame = per_image[per_image["dataset"] == dataset]
                written += write_per_image(partial(per_image_bd_display, frame, metric), folder / f"bd-{metric}-per-image",
                                     f"{dataset}: BD against {tables.settings.anchor} per image ({tables.settings.method})",
                                     data=frame)
        points = tables.points[tables.points["dataset"] == dataset]
        written += write_all(points_display(points, list(tables.metrics)), folder / "rd-points",
                             f"{dataset}: RD points, mean and standard deviation (sd) over images; "
                             f"{images_note(tables.settings.images, points['n_images'], one_image_set(tables, dataset))}; "
                             f"mean coding seconds per image{incomplete_caption(tables, dataset)}",
                             data=points)
        per_image = tables.per_image_points[tables.per_image_points["dataset"] == dataset]
        written += write_per_image(partial(per_image_display, per_image, list(tables.metrics)), folder / "rd-points-per-image",
                             f"{dataset}: RD point of every image behind the means", data=per_image)
    return written
