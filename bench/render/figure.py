"""The one way figures are made and written: Agg backend, file names, formats, tight bounds.

Every figure module (RD curves, per-image panels, decoder sweeps, drift) builds a figure, then
hands it to :func:`save`, so all of them crop the same way (a legend outside the axes is kept,
not clipped), use the same resolution and close the figure after writing it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from bench.render.names import safe_name  # noqa: E402,F401 (re-exported: figures name their files with it)
from bench.outputs import output_folder  # noqa: E402

DPI = 150
#: Size of the plotting area in inches; legends and captions extend the saved image around it,
#: so every RD figure has axes of the same size whatever the length of its legend.
AXES_SIZE = (5.2, 3.6)


def new_figure(axes_size: tuple[float, float] = AXES_SIZE) -> tuple[Figure, Axes]:
    """A figure with one axes of ``axes_size`` inches, margins left for labels and a title."""
    width, height = axes_size[0] + 1.0, axes_size[1] + 1.2
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0.8 / width, 0.6 / height, axes_size[0] / width, axes_size[1] / height))
    ax.grid(True, alpha=0.3)
    return fig, ax


def new_grid(n_panels: int, columns: int, panel_size: tuple[float, float] = (2.4, 1.9)) -> tuple[Figure, list[Axes]]:
    """A grid of ``n_panels`` small axes, ``columns`` wide; unused cells of the last row are hidden."""
    rows = -(-n_panels // columns)
    fig, grid = plt.subplots(rows, columns, figsize=(columns * panel_size[0], rows * panel_size[1]),
                             squeeze=False, layout="constrained")
    axes = list(grid.flat)
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    for ax in axes[:n_panels]:
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
    return fig, axes[:n_panels]


def legend_outside(ax: Axes, fontsize: float = 8) -> None:
    """The legend to the right of the axes, so no curve is hidden behind it."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=fontsize, frameon=False)


def save(fig: Figure, out_dir: Path, stem: str, formats: tuple[str, ...]) -> list[Path]:
    """Write ``<out_dir>/<stem>.<fmt>`` for each format, cropped to everything drawn, and close ``fig``."""
    output_folder(out_dir, "figures")
    written = []
    try:
        for fmt in formats:
            path = out_dir / f"{stem}.{fmt}"
            fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.08)
            written.append(path)
    finally:
        plt.close(fig)
    return written
