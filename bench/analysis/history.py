"""A run-by-run history keyed by git commit, like airspeed velocity keeps for timings.

Each entry summarises one results store: per dataset and codec, the BD-rate against an anchor
and the mean PSNR over the codec's rate grid. Entries append to a JSON-lines file.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from bench.analysis.aggregate import bd_table
from bench.analysis.curves import mean_curves
from bench.config.provenance import git_commit
from bench.outputs import output_folder


def summarise(rows: pd.DataFrame, anchor: str) -> list[dict]:
    bd = bd_table(rows, anchor, "psnr_rgb").set_index(["dataset", "codec"])
    means = mean_curves(rows).groupby(["dataset", "codec"])[["bpp", "psnr_rgb"]].mean()
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return [{"git_commit": git_commit(), "recorded_utc": stamp, "dataset": dataset, "codec": codec, "anchor": anchor,
             "bd_rate_psnr": None if pd.isna(bd.loc[(dataset, codec), "bd_rate"]) else float(bd.loc[(dataset, codec), "bd_rate"]),
             "mean_bpp": float(row["bpp"]), "mean_psnr_rgb": float(row["psnr_rgb"])}
            for (dataset, codec), row in means.iterrows() if (dataset, codec) in bd.index]


def append(history: Path, entries: list[dict]) -> None:
    output_folder(history.parent, "history", mark_existing=False)
    with open(history, "a") as handle:
        for entry in entries:
            handle.write(json.dumps(entry, sort_keys=True) + "\n")


def load(history: Path) -> pd.DataFrame:
    return pd.read_json(history, lines=True) if history.is_file() and history.stat().st_size else pd.DataFrame()


def plot_trend(history: Path, out: Path, column: str = "bd_rate_psnr") -> Path:
    """One line per (dataset, codec): ``column`` against entry order, x ticks labelled by commit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = load(history)
    fig, ax = plt.subplots(figsize=(7, 4))
    order = {commit: i for i, commit in enumerate(dict.fromkeys(frame["git_commit"]))}
    for (dataset, codec), group in frame.groupby(["dataset", "codec"]):
        ax.plot([order[c] for c in group["git_commit"]], group[column], marker="o", label=f"{codec} ({dataset})")
    ax.set_xticks(list(order.values()), [c[:8] for c in order], rotation=45, fontsize=7)
    ax.set_ylabel(column)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    output_folder(out.parent, "history plot", mark_existing=False)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
