"""Baseline vs candidate: the regression verdict CI acts on.

Rows are matched on (dataset, codec, decoder options, rate, image). A codec fails when rows
disappeared, its rate grid changed, a decode became non-deterministic, its BD-rate against the
baseline exceeds ``max_bd_rate`` percent, a mean PSNR point dropped by more than
``max_psnr_drop`` dB, or — with ``exact`` — its bytes changed while its version string did not
(same library version must mean the same output).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from bench.analysis.bd import BDError, bd_rate
from bench.curves import successful_single_pass

MATCH = ["dataset", "codec", "decoder_options", "rate", "image_sha256"]


@dataclass
class Verdict:
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    points: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def passed(self) -> bool:
        return not self.failures


def compare(baseline: pd.DataFrame, candidate: pd.DataFrame, max_bd_rate: float = 0.5,
            max_psnr_drop: float = 0.05, exact: bool = True) -> Verdict:
    verdict = Verdict()
    base, cand = successful_single_pass(baseline), successful_single_pass(candidate)
    merged = base.merge(cand, on=MATCH, how="left", suffixes=("_base", "_cand"), indicator=True)
    for (dataset, codec), group in merged.groupby(["dataset", "codec"]):
        where = f"{codec} on {dataset}"
        base_rates = set(base[(base.dataset == dataset) & (base.codec == codec)]["rate"])
        cand_rates = set(cand[(cand.dataset == dataset) & (cand.codec == codec)]["rate"])
        if cand_rates and cand_rates != base_rates:
            verdict.failures.append(f"{where}: rate grid changed (removed {sorted(base_rates - cand_rates)}, added {sorted(cand_rates - base_rates)})")
        missing = group[group["_merge"] == "left_only"]
        if len(missing):
            verdict.failures.append(f"{where}: {len(missing)} of {len(group)} baseline rows missing from the candidate "
                                    f"(rates {sorted(set(missing['rate']))})")
        matched = group[group["_merge"] == "both"]
        if matched.empty:
            continue
        if (matched["deterministic_decode_cand"] == False).any():  # noqa: E712 - null means not checked
            verdict.failures.append(f"{where}: decoding is no longer deterministic")
        versions_equal = (matched["codec_version_base"] == matched["codec_version_cand"]).all()
        if not versions_equal:
            verdict.notes.append(f"{where}: codec version changed {matched['codec_version_base'].iloc[0]!r} → "
                                 f"{matched['codec_version_cand'].iloc[0]!r}")
        changed = (matched["bytes_base"] != matched["bytes_cand"]) | (matched["psnr_rgb_base"] != matched["psnr_rgb_cand"])
        if exact and versions_equal and changed.any():
            verdict.failures.append(f"{where}: output changed in {int(changed.sum())} rows at the same codec version")
        means = matched.groupby("rate")[["bpp_base", "bpp_cand", "psnr_rgb_base", "psnr_rgb_cand"]].mean().reset_index()
        means.insert(0, "codec", codec)
        means.insert(0, "dataset", dataset)
        means["d_bpp_%"] = (means["bpp_cand"] / means["bpp_base"] - 1) * 100
        means["d_psnr_db"] = means["psnr_rgb_cand"] - means["psnr_rgb_base"]
        verdict.points = pd.concat([verdict.points, means], ignore_index=True)
        worst = means["d_psnr_db"].min()
        if worst < -max_psnr_drop:
            verdict.failures.append(f"{where}: mean PSNR dropped by {-worst:.3f} dB at some rate (limit {max_psnr_drop} dB)")
        if len(means) >= 4:
            try:
                value = bd_rate(means["bpp_base"], means["psnr_rgb_base"], means["bpp_cand"], means["psnr_rgb_cand"])
            except BDError as exc:
                verdict.notes.append(f"{where}: no BD-rate ({exc})")
            else:
                verdict.notes.append(f"{where}: BD-rate vs baseline {value:+.3f} %")
                if value > max_bd_rate:
                    verdict.failures.append(f"{where}: BD-rate vs baseline {value:+.3f} % exceeds {max_bd_rate} %")
    for codec in sorted(set(cand["codec"]) - set(base["codec"])):
        verdict.notes.append(f"{codec}: new in the candidate (no baseline)")
    return verdict
