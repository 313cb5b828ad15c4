"""Bjøntegaard deltas on top of the ``bjontegaard`` package, with the checks it leaves out.

Methods: ``pchip`` (piecewise cubic Hermite, as in the JVET common test conditions; the
default) and ``cubic`` (the classic cubic polynomial fit of VCEG-M33). Curves are validated
first: at least 4 points, rates positive and distinct, quality strictly monotone in rate, and
an overlap of at least ``min_overlap`` (fraction of the shorter range) — otherwise BDError
explains what is wrong instead of returning a number.

For metrics where lower is better (LPIPS) pass ``higher_is_better=False``: BD-rate is then
computed on −quality, and BD-quality is reported as test − anchor in the metric's own units
(negative = better for LPIPS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import bjontegaard
import numpy as np

from bench.errors import BenchError

METHODS = ("pchip", "cubic")
MIN_POINTS = 4


class BDError(BenchError):
    """The curves do not support a Bjøntegaard delta (too few points, not monotone, no overlap)."""


@dataclass(frozen=True)
class Curve:
    rates: np.ndarray
    quality: np.ndarray


def validate(rates: Sequence[float], quality: Sequence[float], name: str, higher_is_better: bool = True) -> Curve:
    """Sorted, checked curve (quality negated when lower is better)."""
    r = np.asarray(rates, dtype=float)
    q = np.asarray(quality, dtype=float)
    if r.shape != q.shape or r.ndim != 1:
        raise BDError(f"{name} curve: rates and quality must be 1-D of equal length")
    if len(r) < MIN_POINTS:
        raise BDError(f"{name} curve has {len(r)} points; Bjøntegaard deltas need at least {MIN_POINTS}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        raise BDError(f"{name} curve has non-finite values")
    if np.any(r <= 0):
        raise BDError(f"{name} curve has non-positive rates (log-rate is undefined)")
    order = np.argsort(r)
    r, q = r[order], q[order] if higher_is_better else -q[order]
    if np.any(np.diff(r) <= 0):
        raise BDError(f"{name} curve has repeated rates {sorted(set(r[:-1][np.diff(r) <= 0]))}")
    if np.any(np.diff(q) <= 0):
        raise BDError(f"{name} curve: quality is not strictly increasing with rate; BD on a non-monotone curve is undefined")
    return Curve(r, q)


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Length of the intersection of two ranges as a fraction of the shorter one (0 when disjoint)."""
    low, high = max(a.min(), b.min()), min(a.max(), b.max())
    shorter = min(np.ptp(a), np.ptp(b))
    return 0.0 if high <= low or shorter == 0 else float((high - low) / shorter)


def _check_overlap(fraction: float, what: str, min_overlap: float) -> None:
    if fraction <= 0:
        raise BDError(f"the curves' {what} ranges do not overlap")
    if fraction < min_overlap:
        raise BDError(f"the curves' {what} ranges overlap by {fraction:.0%} of the shorter one, below min_overlap {min_overlap:.0%}")


def bd_rate(anchor_rates: Sequence[float], anchor_quality: Sequence[float], test_rates: Sequence[float],
            test_quality: Sequence[float], method: str = "pchip", higher_is_better: bool = True,
            min_overlap: float = 0.5) -> float:
    """Average rate difference of test vs anchor at equal quality, in percent (negative = saving)."""
    anchor, test = _curves(anchor_rates, anchor_quality, test_rates, test_quality, method, higher_is_better)
    _check_overlap(overlap(anchor.quality, test.quality), "quality", min_overlap)
    return float(bjontegaard.bd_rate(anchor.rates, anchor.quality, test.rates, test.quality, method=method,
                                     require_matching_points=False, min_overlap=0.0))


def bd_quality(anchor_rates: Sequence[float], anchor_quality: Sequence[float], test_rates: Sequence[float],
               test_quality: Sequence[float], method: str = "pchip", higher_is_better: bool = True,
               min_overlap: float = 0.5) -> float:
    """Average quality difference test − anchor at equal rate, in the metric's units (BD-PSNR for PSNR)."""
    anchor, test = _curves(anchor_rates, anchor_quality, test_rates, test_quality, method, higher_is_better)
    _check_overlap(overlap(np.log10(anchor.rates), np.log10(test.rates)), "log-rate", min_overlap)
    delta = float(bjontegaard.bd_psnr(anchor.rates, anchor.quality, test.rates, test.quality, method=method,
                                      require_matching_points=False, min_overlap=0.0))
    return delta if higher_is_better else -delta


def _curves(anchor_rates, anchor_quality, test_rates, test_quality, method, higher_is_better) -> tuple[Curve, Curve]:
    if method not in METHODS:
        raise BDError(f"unknown BD method {method!r}; use one of {', '.join(METHODS)}")
    return (validate(anchor_rates, anchor_quality, "anchor", higher_is_better),
            validate(test_rates, test_quality, "test", higher_is_better))


def bd_rate_and_quality(anchor_rates: Sequence[float], anchor_quality: Sequence[float], test_rates: Sequence[float],
                        test_quality: Sequence[float], method: str = "pchip", higher_is_better: bool = True,
                        min_overlap: float = 0.5) -> tuple[float, float]:
    """(BD-rate %, BD-quality) with the curves validated once: what a bootstrap calls thousands of times."""
    anchor, test = _curves(anchor_rates, anchor_quality, test_rates, test_quality, method, higher_is_better)
    _check_overlap(overlap(anchor.quality, test.quality), "quality", min_overlap)
    _check_overlap(overlap(np.log10(anchor.rates), np.log10(test.rates)), "log-rate", min_overlap)
    rate = float(bjontegaard.bd_rate(anchor.rates, anchor.quality, test.rates, test.quality, method=method,
                                     require_matching_points=False, min_overlap=0.0))
    delta = float(bjontegaard.bd_psnr(anchor.rates, anchor.quality, test.rates, test.quality, method=method,
                                      require_matching_points=False, min_overlap=0.0))
    return rate, delta if higher_is_better else -delta


def bd_of_pairs(pairs: Iterable[tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]]],
                method: str = "pchip", higher_is_better: bool = True) -> tuple[list[float], list[float], int]:
    """BD-rates and BD-qualities of (anchor rates, anchor quality, test rates, test quality) pairs,
    and how many pairs did not support a BD: counted rather than raised, since a bootstrap draw or
    one image without a BD must not sink the whole aggregate."""
    rates, qualities, failed = [], [], 0
    for pair in pairs:
        try:
            rate, quality = bd_rate_and_quality(*pair, method, higher_is_better)
        except BDError:
            failed += 1
            continue
        rates.append(rate)
        qualities.append(quality)
    return rates, qualities, failed
