"""Decoder-option sweeps at a fixed bitstream: fidelity against perceptual quality.

For codecs whose decoder has a knob (e.g. the variance scale of probabilistic decoding), rows of
one codec and rate that differ only in ``decoder_options`` decode the same bitstream. This module
groups them by the value of one knob, averages over images (and over any other option, such as
the seed), and draws fidelity (PSNR, or MSE) against LPIPS with every point labelled by the
knob's value, as in Ma et al. 2021, Fig. 3a. It reads stored rows only and never imports a codec.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.curves import successful_single_pass  # noqa: E402
from bench.plot import safe_name  # noqa: E402

FIDELITY = {"psnr_rgb": "PSNR RGB [dB]", "mse": "MSE (8-bit RGB)"}


def sweep_points(rows: pd.DataFrame, codec: str, knob: str, where: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per (dataset, rate, knob value): means over images and other options.

    ``where`` keeps only rows whose decoder options have these values (compared as text), for
    knobs that matter in one decoder mode only: ILC's ``temperature`` acts when ``z=sample``,
    and its ``z=mode`` rows carry the default temperature too.

    Columns: dataset, rate, <knob>, bpp, psnr_rgb, mse, lpips, n_images, n_rows, n_bitstreams.
    ``mse`` is the mean over images of each image's MSE, recovered from its PSNR.
    """
    rows = successful_single_pass(rows)
    rows = rows[rows["codec"] == codec].copy()
    options = [json.loads(o or "{}") for o in rows["decoder_options"]]
    keep = [all(str(o.get(key)) == value for key, value in (where or {}).items()) for o in options]
    rows = rows[keep]
    if rows.empty:
        return pd.DataFrame(columns=["dataset", "rate", knob, "bpp", "psnr_rgb", "mse", "lpips",
                                     "n_images", "n_rows", "n_bitstreams"])
    rows[knob] = [json.loads(o or "{}").get(knob) for o in rows["decoder_options"]]
    rows = rows[rows[knob].notna()]
    rows["mse"] = 255.0**2 * np.power(10.0, -rows["psnr_rgb"].astype(float) / 10)
    grouped = rows.groupby(["dataset", "rate", knob])
    points = grouped[["bpp", "psnr_rgb", "mse", "lpips"]].mean()
    points["n_images"] = grouped["image_sha256"].nunique()
    points["n_rows"] = grouped.size()
    points["n_bitstreams"] = grouped["bitstream_sha256"].nunique()
    return points.reset_index().sort_values(["dataset", "rate", knob]).reset_index(drop=True)


def plot_sweep(points: pd.DataFrame, codec: str, knob: str, out_dir: Path, fidelity: str = "psnr_rgb",
               formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """Fidelity against LPIPS, one line per (dataset, rate), points labelled by the knob value."""
    if fidelity not in FIDELITY:
        raise ValueError(f"fidelity must be one of {sorted(FIDELITY)}, got {fidelity!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for dataset, data in points.dropna(subset=["lpips", fidelity]).groupby("dataset"):
        fig, ax = plt.subplots(figsize=(6.4, 4.8))
        for rate, line in data.groupby("rate"):
            line = line.sort_values(knob)
            ax.plot(line["lpips"], line[fidelity], marker="o", markersize=4,
                    label=f"{codec} rate {rate:g}: {line['bpp'].mean():.3f} bpp")
            for _, p in line.iterrows():
                ax.annotate(f"{knob}={p[knob]:g}", (p["lpips"], p[fidelity]), textcoords="offset points",
                            xytext=(4, 4), fontsize=7)
        ax.set_xlabel("LPIPS (AlexNet), lower is better")
        ax.set_ylabel(FIDELITY[fidelity])
        ax.set_title(f"{dataset}: {codec}, one bitstream per image decoded at each {knob}; "
                     f"mean over {int(data['n_images'].max())} image(s)", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        for fmt in formats:
            path = out_dir / f"sweep-{safe_name(codec)}-{safe_name(knob)}-{safe_name(str(dataset))}.{fmt}"
            fig.savefig(path, dpi=150)
            written.append(path)
        plt.close(fig)
    return written


def points_markdown(points: pd.DataFrame, knob: str) -> str:
    header = f"| dataset | rate | {knob} | bpp | PSNR RGB [dB] | MSE | LPIPS | images | rows | bitstreams |"
    lines = [header, "|" + "---|" * 10]
    for _, p in points.iterrows():
        lines.append(f"| {p['dataset']} | {p['rate']:g} | {p[knob]:g} | {p['bpp']:.4f} | {p['psnr_rgb']:.2f} | "
                     f"{p['mse']:.2f} | {p['lpips']:.4f} | {p['n_images']} | {p['n_rows']} | {p['n_bitstreams']} |")
    return "\n".join(lines) + "\n"
