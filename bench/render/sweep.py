"""The decoder-option sweep figure (Ma et al. 2021, Fig. 3a) and its Markdown table.

Fidelity (PSNR, or MSE) against LPIPS, one line per (dataset, rate) in the codec's colour, every
point labelled by the knob's value: how much distortion a decoder trades for realism on the same
bitstream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from bench.config.defaults import FIDELITIES
from bench.render.figure import legend_outside, new_figure, safe_name, save
from bench.render.style import VARIANT_LINES, axis_label, codec_colours, images_text

FIDELITY = FIDELITIES


def plot_sweep(points: pd.DataFrame, codec: str, knob: str, out_dir: Path, fidelity: str = "psnr_rgb",
               formats: tuple[str, ...] = ("png", "svg"), codec_order: Sequence[str] = ()) -> list[Path]:
    """Fidelity against LPIPS from :func:`bench.analysis.sweep.sweep_points`, one figure per
    dataset (``sweep-<codec>-<knob>-<dataset>.<fmt>``); rates of the codec differ by line style."""
    if fidelity not in FIDELITY:
        raise ValueError(f"fidelity must be one of {sorted(FIDELITY)}, got {fidelity!r}")
    colour = codec_colours([codec], codec_order)[codec]
    written: list[Path] = []
    for dataset, data in points.dropna(subset=["lpips", fidelity]).groupby("dataset"):
        fig, ax = new_figure()
        for variant, (rate, line) in enumerate(data.groupby("rate")):
            line = line.sort_values(knob)
            linestyle, marker = VARIANT_LINES[variant % len(VARIANT_LINES)]
            ax.plot(line["lpips"], line[fidelity], color=colour, linestyle=linestyle, marker=marker, markersize=4,
                    label=f"{codec} rate {rate:g}: {line['bpp'].mean():.3f} bpp")
            for _, p in line.iterrows():
                ax.annotate(f"{knob}={p[knob]:g}", (p["lpips"], p[fidelity]), textcoords="offset points",
                            xytext=(4, 4), fontsize=7)
        ax.margins(0.08)  # room for the value labels at the ends of a line
        ax.set_xlabel(axis_label("lpips"))
        ax.set_ylabel(axis_label(fidelity))
        counts = data["n_images"]
        ax.set_title(f"{dataset}: {codec}, one bitstream per image decoded at each {knob}\n"
                     f"mean over {images_text(int(counts.min()), int(counts.max()))} per point", fontsize=9, loc="left")
        legend_outside(ax)
        written += save(fig, out_dir, f"sweep-{safe_name(codec)}-{safe_name(knob)}-{safe_name(str(dataset))}", formats)
    return written


def points_markdown(points: pd.DataFrame, knob: str) -> str:
    """The sweep points as a Markdown table, one line per (dataset, rate, knob value)."""
    header = f"| dataset | rate | {knob} | bpp | PSNR RGB [dB] | MSE | LPIPS | images | rows | bitstreams |"
    lines = [header, "|" + "---|" * 10]
    for _, p in points.iterrows():
        lines.append(f"| {p['dataset']} | {p['rate']:g} | {p[knob]:g} | {p['bpp']:.4f} | {p['psnr_rgb']:.2f} | "
                     f"{p['mse']:.2f} | {p['lpips']:.4f} | {p['n_images']} | {p['n_rows']} | {p['n_bitstreams']} |")
    return "\n".join(lines) + "\n"
