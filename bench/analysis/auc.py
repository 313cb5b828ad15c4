"""Area under the RD curve over a bpp range: the aggregate of the InvCompress and IAT papers' Table 1.

The papers' definition is the default: the raw area ∫ quality d(bpp) over the stated range,
with a cubic spline through the points (InvCompress's Table 1, "with the bpp range determined
by our quality 1 and quality 8 models": 33.371 from its eight published Kodak points; pchip
gives 33.365 and the trapezoid rule 33.323). The raw area grows with the width of the range,
so it compares codecs only over one shared range; ``normalise=True`` divides by the width and
reads in the metric's units (a mean quality), kept as a named option. Every table states the
definition, interpolation and range it used.

A table uses one interpolation for every curve, the one its caption names: a curve with fewer
points than it needs (:data:`MIN_POINTS`: a cubic spline, as the papers fit it, needs 4) has no
AUC rather than a quietly different one. Curves are checked with BD's rule
(:func:`bench.analysis.bd.monotone`): a non-finite value (a lossless point's infinite PSNR) or a
quality that falls as bits are added leaves the curve without an AUC, since a spline through a
dip overshoots and can raise the area of the worse curve.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.interpolate import CubicSpline, PchipInterpolator

from bench.analysis.bd import BDError, monotone
from bench.config.defaults import DEFAULT_INTERPOLATION, INTERPOLATIONS

#: Points an interpolation needs: a not-a-knot cubic through fewer than 4 is a parabola or a line.
MIN_POINTS = {"cubic": 4, "pchip": 2, "linear": 2}


def common_range(curves: Sequence[Sequence[float]]) -> tuple[float, float]:
    """The intersection of the bpp ranges of several curves."""
    low = max(min(c) for c in curves)
    high = min(max(c) for c in curves)
    if high <= low:
        raise BDError("the curves' bpp ranges do not intersect; give the AUC range with --auc-range LOW HIGH")
    return float(low), float(high)


def check_interpolation(interpolation: str) -> None:
    if interpolation not in INTERPOLATIONS:
        raise BDError(f"unknown AUC interpolation {interpolation!r}; use one of {', '.join(INTERPOLATIONS)}")


def checked_curve(bpp: Sequence[float], quality: Sequence[float], interpolation: str = DEFAULT_INTERPOLATION,
                  higher_is_better: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(bpp, quality) sorted by bpp, or BDError when ``interpolation`` cannot be used on the curve
    whatever the range: fewer points than it needs, a non-finite value or a non-monotone quality."""
    check_interpolation(interpolation)
    if len(bpp) < MIN_POINTS[interpolation]:
        raise BDError(f"{len(bpp)} rate points; {interpolation} needs {MIN_POINTS[interpolation]}")
    curve = monotone(np.asarray(bpp, float), np.asarray(quality, float), "the", higher_is_better,
                     "an AUC of a non-monotone curve is refused, as a BD is")
    return curve.rates, curve.quality if higher_is_better else -curve.quality


def auc(bpp: Sequence[float], quality: Sequence[float], low: float, high: float,
        interpolation: str = DEFAULT_INTERPOLATION, normalise: bool = False, higher_is_better: bool = True) -> float:
    """∫ quality d(bpp) over [low, high]; divided by (high − low) when ``normalise``.

    ``cubic`` is scipy's not-a-knot cubic spline through the points (the papers' numbers),
    ``pchip`` the shape-preserving cubic, ``linear`` the trapezoid rule. BDError when the curve
    has fewer points than the interpolation needs, is not finite or not strictly monotone
    (``higher_is_better`` says which way), or does not span the range.
    """
    x, y = checked_curve(bpp, quality, interpolation, higher_is_better)
    if low < x[0] - 1e-12 or high > x[-1] + 1e-12 or high <= low:
        raise BDError(f"AUC range [{low:g}, {high:g}] bpp is not inside the curve's [{x[0]:g}, {x[-1]:g}]")
    if interpolation == "linear":
        grid = np.concatenate(([low], x[(x > low) & (x < high)], [high]))
        area = float(np.trapz(np.interp(grid, x, y), grid))
    else:
        spline = CubicSpline(x, y) if interpolation == "cubic" else PchipInterpolator(x, y)
        area = float(spline.integrate(low, high))
    return area / (high - low) if normalise else area


def describe(interpolation: str, normalise: bool) -> str:
    """The definition a table caption states. The InvCompress and IAT papers' Table 1 integrate
    a cubic spline (InvCompress's 33.373 is reproduced by ``cubic``, not by pchip or the trapezoid
    rule), so only the cubic caption credits them."""
    how = {"cubic": "cubic-spline interpolation",
           "pchip": "pchip interpolation",
           "linear": "linear interpolation, the trapezoid rule"}[interpolation]
    papers = (", as the InvCompress and IAT papers' Table 1" if interpolation == "cubic"
              else "; the InvCompress and IAT papers' Table 1 use a cubic spline")
    return (f"mean quality over the range (area / width, {how})" if normalise
            else f"area under the curve, the integral of quality over bpp ({how}{papers})")
