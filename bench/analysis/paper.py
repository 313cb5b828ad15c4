"""Every table a paper's results section and appendix need, computed once from stored rows.

``bench table``, ``bench report`` and the Python API all call ``paper_tables``, so the numbers
in a report and in the LaTeX beside it cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.analysis.aggregate import (PUBLISHED_PREFIX, QUALITY_METRICS, auc_table, bd_table, incomplete_curves,
                                      per_image_points, rd_points)
from bench.analysis.auc import DEFAULT_INTERPOLATION
from bench.analysis.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from bench.analysis.curves import DEFAULT_IMAGES, Reduced, reduce_rows
from bench.analysis.per_image_bd import per_image_bd
from bench.errors import AnalysisError

DEFAULT_METRICS = ("psnr_rgb", "ms_ssim_db", "lpips")


@dataclass(frozen=True)
class TableSettings:
    """How the tables are computed; every caption is written from these."""

    anchor: str = "jpeg"
    metrics: tuple[str, ...] = ()
    method: str = "pchip"
    mode: str = "mean-curve"
    images: str = DEFAULT_IMAGES
    #: BD against a published mean also for curves measured on fewer images than it covers.
    published_partial: bool = False
    auc_range: tuple[float, float] | None = None
    auc_interpolation: str = DEFAULT_INTERPOLATION
    auc_normalise: bool = False
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    #: Row order of every table: these codec labels first (the configuration's order), then the rest.
    codec_order: tuple[str, ...] = ()


@dataclass
class PaperTables:
    """Machine-readable frames (all datasets in each), keyed by metric where they depend on one."""

    settings: TableSettings
    metrics: tuple[str, ...]
    bd: dict[str, pd.DataFrame] = field(default_factory=dict)
    auc: dict[str, pd.DataFrame] = field(default_factory=dict)
    per_image_bd: dict[str, pd.DataFrame] = field(default_factory=dict)
    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    per_image_points: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Curves averaged over their complete block only, with what was left out (dataset, curve, note).
    incomplete: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Files written from these tables (filled by the writer; empty when nothing was written).
    files: list[Path] = field(default_factory=list)

    @property
    def datasets(self) -> list[str]:
        return sorted(set(self.points["dataset"])) if not self.points.empty else []


def measured_metrics(rows: pd.DataFrame, wanted: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The metrics to tabulate: those asked for, else the default ones the store has values for."""
    for metric in wanted:
        if metric not in QUALITY_METRICS:
            raise AnalysisError(f"--metric {metric}: tables support {', '.join(QUALITY_METRICS)}")
    chosen = tuple(wanted) or tuple(m for m in DEFAULT_METRICS if rows[m].notna().any())
    if not chosen:
        raise AnalysisError("the selected rows have none of the metrics "
                            f"{', '.join(DEFAULT_METRICS)}; run `bench run --metric psnr_rgb`")
    return chosen


def published_anchor(anchor: str) -> pd.DataFrame | None:
    """The published curve named by ``published:<curve>`` (every dataset it was published
    for), or None for a measured anchor."""
    if not anchor.startswith(PUBLISHED_PREFIX):
        return None
    from bench.analysis import published

    return published.published_anchor(anchor)


def paper_tables(rows: pd.DataFrame, settings: TableSettings, reduced: Reduced | None = None) -> PaperTables:
    """BD (with intervals), AUC, per-image BD, RD points and per-image points for ``rows``
    (``reduced``: ``rows`` already reduced under ``settings.images``, by a caller that draws too)."""
    metrics = measured_metrics(rows, settings.metrics)
    anchor_curves = published_anchor(settings.anchor)
    if anchor_curves is None and settings.anchor not in set(rows["codec"].unique()):
        raise AnalysisError(f"--anchor {settings.anchor}: no rows of that codec in the selection "
                            f"(codecs: {', '.join(sorted(set(rows['codec'].unique())))}; or use published:<curve>)")
    tables = PaperTables(settings, metrics)
    reduced = reduced or reduce_rows(rows, settings.images)  # once for every table and metric
    for metric in metrics:
        tables.bd[metric] = bd_table(rows, settings.anchor, metric, settings.method, settings.mode, settings.images,
                                     settings.resamples, settings.seed, anchor_curves,
                                     settings.published_partial, reduced=reduced)
        tables.auc[metric] = auc_table(rows, metric, settings.images, settings.auc_range, settings.auc_interpolation,
                                       settings.auc_normalise, reduced=reduced)
        if anchor_curves is None:
            tables.per_image_bd[metric] = per_image_bd(rows, settings.anchor, metric, settings.method, settings.images,
                                                       reduced=reduced)
    tables.points = rd_points(rows, list(metrics), settings.images, reduced=reduced)
    tables.per_image_points = per_image_points(rows, list(metrics), settings.images, reduced=reduced)
    tables.incomplete = incomplete_curves(reduced)
    order = {codec: position for position, codec in enumerate(dict.fromkeys([settings.anchor, *settings.codec_order]))}
    for frames in (tables.bd, tables.auc, tables.per_image_bd):
        for metric, frame in frames.items():
            frames[metric] = in_order(frame, order)
    tables.points = in_order(tables.points, order, ["rate"])
    tables.per_image_points = in_order(tables.per_image_points, order, ["image", "rate"])
    return tables


def in_order(frame: pd.DataFrame, order: dict[str, int], then: list[str] | None = None) -> pd.DataFrame:
    """Rows by dataset, then the anchor and configured codecs in their order, the rest by name."""
    if frame.empty:
        return frame
    rank = frame["codec"].map(lambda codec: order.get(codec, len(order)))
    keys = ["dataset", "_rank", "codec", "curve", *(then or [])]
    return frame.assign(_rank=rank).sort_values(keys, kind="stable").drop(columns="_rank").reset_index(drop=True)
