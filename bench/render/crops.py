"""A grid of image crops, one panel per codec: the figure papers put beside their RD curves.

Crops are enlarged by whole-number pixel repetition (nearest neighbour) and drawn one figure
pixel per enlarged pixel, so block edges, ringing and learned-codec smoothing stay as the codec
made them: a resampling filter would blur exactly what the reader is meant to judge.

The text above a crop is wrapped by its measured width (the font's own extents, not a guess of
characters per inch), so no title runs into its neighbour however long a codec label or its
decoder options are. A panel whose rate is off the target by more than the tolerance is framed
in red and says by how much: set beside panels at the target, it would otherwise look like a
better (or worse) codec rather than a different rate.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle

from bench.render.figure import DPI, plt, safe_name, save

#: Crops smaller than this (longer side, pixels) are enlarged to at least it, by an integer factor.
MIN_DISPLAY_PX = 300
MAX_FACTOR = 8
MAX_COLUMNS = 6
TITLE_LINE_IN = 0.17
GAP_IN = 0.16
TITLE_PT, LINE_PT, CAPTION_PT = 9, 8, 8
#: Colour of the frame and the offset line of a panel outside the bpp tolerance.
OFF_TARGET_COLOUR = "#d62728"
FRAME_PT = 2.5


@dataclass(frozen=True)
class Panel:
    """One crop and the lines printed above it (title bold: what it is)."""

    pixels: np.ndarray
    title: str
    lines: tuple[str, ...] = ()
    #: Set for a panel outside the bpp tolerance ("+54 % off 0.75 bpp"): printed first, in
    #: ``OFF_TARGET_COLOUR``, and the panel is framed in that colour.
    off_target: str = ""


def crops_prefix(dataset: str) -> str:
    """The start of every crop file name of ``dataset``: ``bench crops`` writes it and ``bench
    report --crops`` matches it, so the two can never disagree. A folder dataset (a path) is
    named by its folder, as its rows' captions name it."""
    return f"crops-{safe_name(Path(dataset).name)}-"


def crops_stem(dataset: str, image: str, bpp: float) -> str:
    """``crops-<dataset>-<image>-<bpp>``: the file name (without suffix) of one crop grid."""
    return f"{crops_prefix(dataset)}{safe_name(Path(image).stem)}-{bpp:g}"


def enlargement(height: int, width: int) -> int:
    """The integer factor that brings the crop's longer side to at least ``MIN_DISPLAY_PX``."""
    return max(1, min(MAX_FACTOR, math.ceil(MIN_DISPLAY_PX / max(height, width))))


class _Measure:
    """Widths of text in figure pixels, from the Agg renderer that will draw it."""

    def __init__(self) -> None:
        self.renderer = RendererAgg(1, 1, DPI)
        self.fonts: dict[tuple[float, str], FontProperties] = {}

    def width(self, text: str, size: float, weight: str = "normal") -> float:
        prop = self.fonts.setdefault((size, weight), FontProperties(size=size, weight=weight))
        return self.renderer.get_text_width_height_descent(text, prop, ismath=False)[0]


def wrap(text: str, width_px: float, size: float, weight: str = "normal", measure: _Measure | None = None) -> list[str]:
    """``text`` in lines no wider than ``width_px`` when drawn at ``size`` points.

    Breaks at spaces; a word wider than the line breaks after ``-``, ``,``, ``=`` or ``/``
    (``hevc-x265-heif``), and only a word with none of those is cut between characters.
    """
    measure = measure or _Measure()

    def fits(line: str) -> bool:
        return measure.width(line, size, weight) <= width_px

    # (text, joined to the previous piece by a space): a broken word's parts join without one.
    pieces: list[tuple[str, bool]] = []
    for word in text.split():
        parts = [word] if fits(word) else [p for p in re.findall(r"[^-,=/]*[-,=/]?", word) if p]
        for k, part in enumerate(parts):
            while len(part) > 1 and not fits(part):
                cut = max([i for i in range(1, len(part)) if fits(part[:i])], default=1)
                pieces.append((part[:cut], k == 0))
                part, k = part[cut:], 1
            pieces.append((part, k == 0))
    lines: list[str] = []
    for piece, spaced in pieces:
        candidate = lines[-1] + (" " if spaced else "") + piece if lines else piece
        if lines and fits(candidate):
            lines[-1] = candidate
        else:
            lines.append(piece)
    return lines or [""]


def crops_figure(panels: list[Panel], caption: str) -> Figure:
    """``panels`` in a grid (at most ``MAX_COLUMNS`` wide) with ``caption`` below, one figure."""
    height, width = panels[0].pixels.shape[:2]
    factor = enlargement(height, width)
    panel_w, panel_h = width * factor / DPI, height * factor / DPI
    columns = min(len(panels), MAX_COLUMNS)
    rows = -(-len(panels) // columns)
    measure = _Measure()
    line_px = width * factor
    blocks = []
    for p in panels:
        block = [(line, TITLE_PT, "bold", "black") for line in wrap(p.title, line_px, TITLE_PT, "bold", measure)]
        if p.off_target:
            block += [(line, LINE_PT, "bold", OFF_TARGET_COLOUR)
                      for line in wrap(p.off_target, line_px, LINE_PT, "bold", measure)]
        block += [(part, LINE_PT, "normal", "black") for line in p.lines
                  for part in wrap(line, line_px, LINE_PT, "normal", measure)]
        blocks.append(block)
    head = TITLE_LINE_IN * max(len(block) for block in blocks) + 0.08
    fig_w = columns * panel_w + (columns - 1) * GAP_IN
    cell_h = head + panel_h + GAP_IN
    wrapped = wrap(caption, fig_w * DPI, CAPTION_PT, "normal", measure)
    caption_h = TITLE_LINE_IN * (len(wrapped) + 0.5)
    fig_h = rows * cell_h + caption_h
    fig = plt.figure(figsize=(fig_w, fig_h), facecolor="white")
    frame_in = FRAME_PT / 72
    for i, panel in enumerate(panels):
        row, col = divmod(i, columns)
        left = col * (panel_w + GAP_IN)
        bottom = fig_h - row * cell_h - head - panel_h
        ax = fig.add_axes((left / fig_w, bottom / fig_h, panel_w / fig_w, panel_h / fig_h))
        big = np.repeat(np.repeat(panel.pixels, factor, axis=0), factor, axis=1)
        ax.imshow(big, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_linewidth(0.5)
        if panel.off_target:
            # Outside the crop, so the frame hides none of the codec's pixels.
            fig.patches.append(Rectangle(
                ((left - frame_in) / fig_w, (bottom - frame_in) / fig_h),
                (panel_w + 2 * frame_in) / fig_w, (panel_h + 2 * frame_in) / fig_h,
                transform=fig.transFigure, fill=False, edgecolor=OFF_TARGET_COLOUR, linewidth=FRAME_PT))
        text_x = (left + panel_w / 2) / fig_w
        top = bottom + panel_h + head
        for j, (line, size, weight, colour) in enumerate(blocks[i]):
            fig.text(text_x, (top - TITLE_LINE_IN * (j + 1)) / fig_h, line, ha="center", va="bottom",
                     fontsize=size, fontweight=weight, color=colour)
    for j, line in enumerate(wrapped):
        fig.text(0.0, (caption_h - TITLE_LINE_IN * (j + 1)) / fig_h, line, ha="left", va="bottom",
                 fontsize=CAPTION_PT, color="#333333")
    return fig


def render_crops(panels: list[Panel], caption: str, out_dir: Path, stem: str) -> Path:
    """Draw :func:`crops_figure` into ``<out_dir>/<stem>.png``."""
    return save(crops_figure(panels, caption), out_dir, stem, ("png",))[0]
