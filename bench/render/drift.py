"""The drift figure: a metric against generation, one line per schedule, band over images.

A schedule takes the colour of the codec of its first step, so ``jpeg:75`` is drawn in JPEG's
colour here as in the RD plots; several schedules of one codec differ by line style.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Sequence

import pandas as pd
from matplotlib.ticker import MaxNLocator

from bench.analysis.drift_summary import common_generations, schedule_codec
from bench.render.figure import legend_outside, new_figure, safe_name, save
from bench.render.names import dataset_labels
from bench.render.style import VARIANT_LINES, axis_label, codec_colours, images_text


def owned_drift_files(metric: str) -> list[str]:
    """File-name patterns of what ``bench drift report`` writes for ``metric`` (a figure per
    dataset and the table): those a run did not write are stale (:func:`bench.outputs.remove_stale`)."""
    return [f"drift-*-{glob.escape(metric)}.*", f"drift-{glob.escape(metric)}.*"]


def plot_drift(rows: pd.DataFrame, out_dir: Path, metric: str = "psnr_rgb", formats: tuple[str, ...] = ("png", "svg"),
               codec_order: Sequence[str] = ()) -> list[Path]:
    """Metric vs generation per dataset (``drift-<dataset>-<metric>.<fmt>``, a folder by its name): mean over images,
    band from min to max, each schedule up to the generation all its chains reached (as in the
    summary table; a mean over fewer images would jump); returns the files written."""
    data = common_generations(rows)
    data["schedule_codec"] = data["chain"].map(schedule_codec)
    colours = codec_colours(sorted(set(data["schedule_codec"])), codec_order)
    written: list[Path] = []
    labels = dataset_labels([str(d) for d in data["dataset"].unique()])
    for dataset, per_dataset in data.groupby("dataset"):
        label = labels[str(dataset)]
        fig, ax = new_figure()
        position = {codec: i for i, codec in enumerate(colours)}
        schedules = sorted(per_dataset.groupby(["schedule_codec", "schedule"]),
                           key=lambda item: (position[item[0][0]], item[0][1]))
        variants: dict[str, int] = {}
        for (codec, schedule), group in schedules:
            variants[codec] = variants.get(codec, -1) + 1
            linestyle, marker = VARIANT_LINES[variants[codec] % len(VARIANT_LINES)]
            stats = group.groupby("generation")[metric].agg(["mean", "min", "max", "count"])
            images = images_text(int(stats["count"].min()), int(stats["count"].max()))
            ax.plot(stats.index, stats["mean"], color=colours[codec], linestyle=linestyle, marker=marker, markersize=3,
                    label=f"{schedule} ({images})")
            ax.fill_between(stats.index, stats["min"], stats["max"], color=colours[codec], alpha=0.15, linewidth=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("generation (encode/decode cycles)")
        ax.set_ylabel(axis_label(metric) + " vs original")
        ax.set_title(f"{label}: mean over images; band: min–max over images", fontsize=9, loc="left")
        legend_outside(ax)
        written += save(fig, out_dir, f"drift-{safe_name(label)}-{metric}", formats)
    return written
