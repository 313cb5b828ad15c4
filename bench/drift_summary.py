"""Summaries, plots and tables of drift studies (rows with a ``chain``)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from bench.plot import AXIS_LABELS, safe_name  # noqa: E402


def drift_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Successful drift rows with the schedule's label in a ``schedule`` column."""
    rows = rows[rows["error"].isna() & (rows["chain"].fillna("") != "")].copy()
    rows["schedule"] = rows["chain"].map(lambda text: json.loads(text)["schedule"])
    return rows


def per_chain(rows: pd.DataFrame, metric: str = "psnr_rgb", threshold: float = 1.0) -> pd.DataFrame:
    """One line per (dataset, schedule, image): drop after N, first crossing of ``threshold``, fixed point."""
    records = []
    for (dataset, schedule, image), chain in drift_rows(rows).groupby(["dataset", "schedule", "image"]):
        chain = chain.sort_values("generation")
        if chain["generation"].iloc[0] != 1:
            continue
        first = chain[metric].iloc[0]
        crossed = chain[chain[metric] <= first - threshold]["generation"]
        same = chain["bitstream_sha256"].eq(chain["bitstream_sha256"].shift())
        records.append({
            "dataset": dataset, "schedule": schedule, "image": image, "generations": int(chain["generation"].max()),
            f"{metric}_gen1": first, f"{metric}_last": chain[metric].iloc[-1], "drop": first - chain[metric].iloc[-1],
            "first_crossing": int(crossed.iloc[0]) if len(crossed) else None,
            "fixed_point": int(chain[same]["generation"].iloc[0]) if same.any() else None,
        })
    return pd.DataFrame(records)


def summary_table(rows: pd.DataFrame, metric: str = "psnr_rgb", threshold: float = 1.0) -> pd.DataFrame:
    """Per (dataset, schedule): means over images, and how many chains crossed / reached a fixed point."""
    chains = per_chain(rows, metric, threshold)
    if chains.empty:
        return chains
    out = []
    for (dataset, schedule), group in chains.groupby(["dataset", "schedule"]):
        out.append({
            "dataset": dataset, "schedule": schedule, "images": len(group), "generations": int(group["generations"].min()),
            f"mean {metric} gen 1": group[f"{metric}_gen1"].mean(), f"mean {metric} last": group[f"{metric}_last"].mean(),
            "mean drop": group["drop"].mean(),
            f"crossed −{threshold:g}": f"{group['first_crossing'].notna().sum()}/{len(group)}",
            "median first crossing": group["first_crossing"].median(),
            "fixed point": f"{group['fixed_point'].notna().sum()}/{len(group)}",
            "median fixed-point gen": group["fixed_point"].median(),
        })
    return pd.DataFrame(out)


def plot_drift(rows: pd.DataFrame, out_dir: Path, metric: str = "psnr_rgb", formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Metric vs generation: mean over images, band from min to max, one line per schedule."""
    data = drift_rows(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset, per_dataset in data.groupby("dataset"):
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        for schedule, group in per_dataset.groupby("schedule"):
            stats = group.groupby("generation")[metric].agg(["mean", "min", "max", "count"])
            line, = ax.plot(stats.index, stats["mean"], label=f"{schedule} ({int(stats['count'].max())} images)")
            ax.fill_between(stats.index, stats["min"], stats["max"], color=line.get_color(), alpha=0.15)
        ax.set_xlabel("generation (encode/decode cycles)")
        ax.set_ylabel(AXIS_LABELS.get(metric, metric) + " vs original")
        ax.set_title(f"{dataset}: mean over images, band = min–max", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        for fmt in formats:
            path = out_dir / f"drift-{safe_name(str(dataset))}-{metric}.{fmt}"
            fig.savefig(path, dpi=150)
            written.append(path)
        plt.close(fig)
    return written
