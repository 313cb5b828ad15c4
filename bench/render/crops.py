"""A grid of image crops, one panel per codec: the figure papers put beside their RD curves.

Crops are enlarged by whole-number pixel repetition (nearest neighbour) and drawn one figure
pixel per enlarged pixel, so block edges, ringing and learned-codec smoothing stay as the codec
made them: a resampling filter would blur exactly what the reader is meant to judge.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.render.figure import DPI, plt, save

#: Crops smaller than this (longer side, pixels) are enlarged to at least it, by an integer factor.
MIN_DISPLAY_PX = 300
MAX_FACTOR = 8
MAX_COLUMNS = 6
TITLE_LINE_IN = 0.17
GAP_IN = 0.12
#: Characters of 8-point text per inch of panel width, for wrapping the lines above a crop.
CHARS_PER_IN = 16


@dataclass(frozen=True)
class Panel:
    """One crop and the lines printed above it (first line bold: what it is)."""

    pixels: np.ndarray
    title: str
    lines: tuple[str, ...] = ()


def enlargement(height: int, width: int) -> int:
    """The integer factor that brings the crop's longer side to at least ``MIN_DISPLAY_PX``."""
    return max(1, min(MAX_FACTOR, math.ceil(MIN_DISPLAY_PX / max(height, width))))


def render_crops(panels: list[Panel], caption: str, out_dir: Path, stem: str) -> Path:
    """Draw ``panels`` in a grid (at most ``MAX_COLUMNS`` wide) with ``caption`` below; one PNG."""
    height, width = panels[0].pixels.shape[:2]
    factor = enlargement(height, width)
    panel_w, panel_h = width * factor / DPI, height * factor / DPI
    columns = min(len(panels), MAX_COLUMNS)
    rows = -(-len(panels) // columns)
    width_chars = max(12, int(panel_w * CHARS_PER_IN))
    lines = [[part for line in p.lines for part in (textwrap.wrap(line, width_chars) or [""])] for p in panels]
    head = TITLE_LINE_IN * (1 + max(len(block) for block in lines)) + 0.05
    fig_w = columns * panel_w + (columns - 1) * GAP_IN
    cell_h = head + panel_h + GAP_IN
    wrapped = textwrap.wrap(caption, width=max(40, int(fig_w * 15)))
    caption_h = TITLE_LINE_IN * (len(wrapped) + 0.5)
    fig_h = rows * cell_h + caption_h
    fig = plt.figure(figsize=(fig_w, fig_h), facecolor="white")
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
        text_x = (left + panel_w / 2) / fig_w
        top = bottom + panel_h + head
        fig.text(text_x, (top - TITLE_LINE_IN) / fig_h, panel.title, ha="center", va="bottom",
                 fontsize=9, fontweight="bold")
        for j, line in enumerate(lines[i]):
            fig.text(text_x, (top - TITLE_LINE_IN * (j + 2)) / fig_h, line, ha="center", va="bottom", fontsize=8)
    for j, line in enumerate(wrapped):
        fig.text(0.0, (caption_h - TITLE_LINE_IN * (j + 1)) / fig_h, line, ha="left", va="bottom",
                 fontsize=8, color="#333333")
    return save(fig, out_dir, stem, ("png",))[0]
