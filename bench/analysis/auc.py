"""Area under the RD curve over a bpp range, normalised by the range width (reads in dB).

This is the aggregate of the InvCompress and IAT papers' Table 1. The range is the
intersection of the compared curves unless given; interpolation in bpp is piecewise linear
(trapezoid, the default) or pchip.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.integrate import quad
from scipy.interpolate import PchipInterpolator

from bench.analysis.bd import BDError

INTERPOLATIONS = ("linear", "pchip")


def common_range(curves: Sequence[Sequence[float]]) -> tuple[float, float]:
    """The intersection of the bpp ranges of several curves."""
    low = max(min(c) for c in curves)
    high = min(max(c) for c in curves)
    if high <= low:
        raise BDError("the curves' bpp ranges do not intersect; give the AUC range explicitly")
    return float(low), float(high)


def auc(bpp: Sequence[float], quality: Sequence[float], low: float, high: float, interpolation: str = "linear") -> float:
    """Mean quality over [low, high] bpp: ∫ quality d(bpp) / (high − low)."""
    if interpolation not in INTERPOLATIONS:
        raise BDError(f"unknown AUC interpolation {interpolation!r}; use one of {', '.join(INTERPOLATIONS)}")
    x = np.asarray(bpp, float)
    y = np.asarray(quality, float)
    order = np.argsort(x)
    x, y = x[order], y[order]
    if len(x) < 2 or np.any(np.diff(x) <= 0):
        raise BDError("AUC needs at least two points with distinct bpp")
    if low < x[0] - 1e-12 or high > x[-1] + 1e-12 or high <= low:
        raise BDError(f"AUC range [{low:g}, {high:g}] bpp is not inside the curve's [{x[0]:g}, {x[-1]:g}]")
    if interpolation == "linear":
        grid = np.concatenate(([low], x[(x > low) & (x < high)], [high]))
        return float(np.trapz(np.interp(grid, x, y), grid) / (high - low))
    area, _ = quad(PchipInterpolator(x, y), low, high, limit=200)
    return float(area / (high - low))
