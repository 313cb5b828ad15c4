"""Area under the RD curve over a bpp range: the aggregate of the InvCompress and IAT papers' Table 1.

The papers' definition is the default: the raw area ∫ quality d(bpp) over the stated range,
with a cubic spline through the points (InvCompress's Table 1, "with the bpp range determined
by our quality 1 and quality 8 models": 33.371 from its eight published Kodak points; pchip
gives 33.365 and the trapezoid rule 33.323). The raw area grows with the width of the range,
so it compares codecs only over one shared range; ``normalise=True`` divides by the width and
reads in the metric's units (a mean quality), kept as a named option. Every table states the
definition, interpolation and range it used.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.interpolate import CubicSpline, PchipInterpolator

from bench.analysis.bd import BDError
from bench.config.defaults import DEFAULT_INTERPOLATION, INTERPOLATIONS



def common_range(curves: Sequence[Sequence[float]]) -> tuple[float, float]:
    """The intersection of the bpp ranges of several curves."""
    low = max(min(c) for c in curves)
    high = min(max(c) for c in curves)
    if high <= low:
        raise BDError("the curves' bpp ranges do not intersect; give the AUC range with --auc-range LOW HIGH")
    return float(low), float(high)


def auc(bpp: Sequence[float], quality: Sequence[float], low: float, high: float,
        interpolation: str = DEFAULT_INTERPOLATION, normalise: bool = False) -> float:
    """∫ quality d(bpp) over [low, high]; divided by (high − low) when ``normalise``.

    ``cubic`` is scipy's not-a-knot cubic spline through the points (the papers' numbers),
    ``pchip`` the shape-preserving cubic, ``linear`` the trapezoid rule.
    """
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
    if interpolation == "linear" or (interpolation == "cubic" and len(x) < 4):
        # a not-a-knot spline needs 4 points; with fewer, the segments are the only honest curve
        grid = np.concatenate(([low], x[(x > low) & (x < high)], [high]))
        area = float(np.trapz(np.interp(grid, x, y), grid))
    else:
        curve = CubicSpline(x, y) if interpolation == "cubic" else PchipInterpolator(x, y)
        area = float(curve.integrate(low, high))
    return area / (high - low) if normalise else area


def describe(interpolation: str, normalise: bool) -> str:
    """The definition a table caption states."""
    how = {"cubic": "cubic-spline", "pchip": "pchip", "linear": "trapezoid"}[interpolation]
    return (f"mean quality over the range (area / width, {how} interpolation)" if normalise
            else f"area under the curve, the integral of quality over bpp ({how} interpolation, as the InvCompress "
                 "and IAT papers' Table 1)")
