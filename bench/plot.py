"""Rate–distortion plots: one figure per dataset and metric, one line per codec, PNG and SVG."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from bench.curves import mean_curves  # noqa: E402

AXIS_LABELS = {
    "psnr_rgb": "PSNR RGB [dB]",
    "psnr_y": "PSNR Y (BT.601) [dB]",
    "ms_ssim_db": "MS-SSIM [dB]",
    "ms_ssim": "MS-SSIM",
    "lpips": "LPIPS (AlexNet), lower is better",
}
DEFAULT_METRICS = ("psnr_rgb", "ms_ssim_db", "lpips")


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "dataset"


def curve_labels(curves: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Legend text per (codec, decoder-options JSON): the codec, plus only the options that differ
    between that codec's curves, so a codec drawn once reads as its name, not as its defaults."""
    options = {key: json.loads(key[1] or "{}") for key in curves}
    labels = {}
    for key, mine in options.items():
        siblings = [o for (codec, _), o in options.items() if codec == key[0]]
        varying = sorted(k for k in set().union(*siblings) if len({json.dumps(o.get(k)) for o in siblings}) > 1)
        shown = ", ".join(f"{k}={mine.get(k)}" for k in varying)
        labels[key] = f"{key[0]} ({shown})" if shown else key[0]
    return labels


def marker_style(n_points: int) -> dict:
    """Small dots on a curve; a codec measured at a single rate (one trained model) gets a large
    star, or it would vanish among the curves' dots."""
    return {"marker": "o", "markersize": 3} if n_points > 1 else {"marker": "*", "markersize": 11, "linestyle": "none"}


def plot_rd(rows: pd.DataFrame, out_dir: Path, metrics: tuple[str, ...] = DEFAULT_METRICS,
            formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Draw mean RD curves per dataset; returns the files written."""
    curves = mean_curves(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for dataset, per_dataset in curves.groupby("dataset"):
        for metric in metrics:
            data = per_dataset.dropna(subset=[metric])
            if data.empty:
                continue
            fig, ax = plt.subplots(figsize=(6.4, 4.8))
            groups = data.groupby(["codec", "decoder_options"])
            labels = curve_labels(list(groups.groups))
            for key, curve in groups:
                curve = curve.sort_values("bpp")
                ax.plot(curve["bpp"], curve[metric], label=labels[key], **marker_style(len(curve)))
            n_images = int(data["n_images"].max())
            ax.set_xlabel("bits per pixel")
            ax.set_ylabel(AXIS_LABELS.get(metric, metric))
            ax.set_title(f"{dataset}: mean over {n_images} images per rate point", fontsize=10)
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8)
            fig.tight_layout()
            for fmt in formats:
                path = out_dir / f"{safe_name(str(dataset))}-{metric}.{fmt}"
                fig.savefig(path, dpi=150)
                written.append(path)
            plt.close(fig)
    return written
