"""Bjøntegaard deltas, with the checks the ``bjontegaard`` package leaves out.

``pchip`` integrates with ``bench.analysis.pchip`` (scipy's PCHIP arithmetic on arrays, so a
bootstrap takes a thousand BDs in one call; tests/test_bd_many.py checks it against the
``bjontegaard`` package pair by pair), ``cubic`` with the ``bjontegaard`` package itself.

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

import numpy as np

from bench.analysis import pchip
from bench.config.defaults import BD_METHODS as METHODS
from bench.errors import BenchError

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
    return monotone(r, q, name, higher_is_better, "BD on a non-monotone curve is undefined")


def monotone(rates: np.ndarray, quality: np.ndarray, name: str, higher_is_better: bool, refusal: str) -> Curve:
    """The curve sorted by rate (quality negated when lower is better) if its values are finite,
    its rates positive and distinct and its quality strictly better with every added bit; else
    BDError naming ``name`` and, for a non-monotone curve, ``refusal`` (why the caller stops).

    One rule for BD and AUC: a curve that loses quality as it gains bits (a measurement or
    averaging problem) has no BD, and an interpolated area over it rewards a spline's overshoot.
    """
    r, q = np.asarray(rates, dtype=float), np.asarray(quality, dtype=float)
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        lossless = " (infinite quality: a lossless point)" if np.any(np.isinf(q)) and np.all(np.isfinite(r)) else ""
        raise BDError(f"{name} curve has non-finite values{lossless}")
    if np.any(r <= 0):
        raise BDError(f"{name} curve has non-positive rates (log-rate is undefined)")
    order = np.argsort(r)
    r, q = r[order], q[order] if higher_is_better else -q[order]
    if np.any(np.diff(r) <= 0):
        raise BDError(f"{name} curve has repeated rates {sorted(set(r[:-1][np.diff(r) <= 0]))}")
    if np.any(np.diff(q) <= 0):
        raise BDError(f"{name} curve: quality is not strictly increasing with rate; {refusal}")
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
    return _bd_rate(anchor, test, method)


def bd_quality(anchor_rates: Sequence[float], anchor_quality: Sequence[float], test_rates: Sequence[float],
               test_quality: Sequence[float], method: str = "pchip", higher_is_better: bool = True,
               min_overlap: float = 0.5) -> float:
    """Average quality difference test − anchor at equal rate, in the metric's units (BD-PSNR for PSNR)."""
    anchor, test = _curves(anchor_rates, anchor_quality, test_rates, test_quality, method, higher_is_better)
    _check_overlap(overlap(np.log10(anchor.rates), np.log10(test.rates)), "log-rate", min_overlap)
    delta = _bd_quality(anchor, test, method)
    return delta if higher_is_better else -delta


def _bd_rate(anchor: Curve, test: Curve, method: str) -> float:
    """BD-rate (%) of validated curves: the mean log-rate difference over the quality overlap."""
    if method == "pchip":
        log_rate = pchip.bd_linear(anchor.quality[None], np.log10(anchor.rates)[None], test.quality[None],
                                   np.log10(test.rates)[None])[0]
        return (10 ** float(log_rate) - 1) * 100
    import bjontegaard  # imports scipy.interpolate and matplotlib: only for the cubic fit

    return float(bjontegaard.bd_rate(anchor.rates, anchor.quality, test.rates, test.quality, method=method,
                                     require_matching_points=False, min_overlap=0.0))


def _bd_quality(anchor: Curve, test: Curve, method: str) -> float:
    """BD-quality of validated curves: the mean quality difference over the log-rate overlap."""
    if method == "pchip":
        return float(pchip.bd_linear(np.log10(anchor.rates)[None], anchor.quality[None], np.log10(test.rates)[None],
                                     test.quality[None])[0])
    import bjontegaard

    return float(bjontegaard.bd_psnr(anchor.rates, anchor.quality, test.rates, test.quality, method=method,
                                     require_matching_points=False, min_overlap=0.0))


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
    delta = _bd_quality(anchor, test, method)
    return _bd_rate(anchor, test, method), delta if higher_is_better else -delta


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


def _sorted_valid(rates: np.ndarray, quality: np.ndarray, higher_is_better: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row sorted by rate (quality negated when lower is better) and whether it passes
    ``validate``: finite, positive distinct rates, quality strictly increasing."""
    order = np.argsort(rates, axis=1)
    r = np.take_along_axis(rates, order, axis=1)
    q = np.take_along_axis(quality, order, axis=1)
    q = q if higher_is_better else -q
    finite = np.isfinite(r).all(axis=1) & np.isfinite(q).all(axis=1)
    with np.errstate(invalid="ignore"):
        valid = finite & (r > 0).all(axis=1) & (np.diff(r, axis=1) > 0).all(axis=1) & (np.diff(q, axis=1) > 0).all(axis=1)
    return r, q, valid


def _overlaps(a: np.ndarray, b: np.ndarray, min_overlap: float) -> np.ndarray:
    """Per row pair of sorted ranges, ``overlap`` > 0 and ≥ ``min_overlap`` (``_check_overlap``)."""
    low, high = np.maximum(a[:, 0], b[:, 0]), np.minimum(a[:, -1], b[:, -1])
    shorter = np.minimum(a[:, -1] - a[:, 0], b[:, -1] - b[:, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where((high <= low) | (shorter == 0), 0.0, (high - low) / shorter)
    return (fraction > 0) & (fraction >= min_overlap)


def bd_many(anchor_rates: np.ndarray, anchor_quality: np.ndarray, test_rates: np.ndarray, test_quality: np.ndarray,
            method: str = "pchip", higher_is_better: bool = True,
            min_overlap: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``bd_rate_and_quality`` of every row pair of (curves × points) arrays at once: (BD-rates,
    BD-qualities, whether the pair supports a BD), NaN where it does not. What a bootstrap needs:
    one call instead of one per resample. ``cubic`` (a least-squares fit per curve) runs pair by
    pair through ``bd_rate_and_quality``."""
    if method not in METHODS:
        raise BDError(f"unknown BD method {method!r}; use one of {', '.join(METHODS)}")
    arrays = [np.asarray(a, dtype=float) for a in (anchor_rates, anchor_quality, test_rates, test_quality)]
    count = arrays[0].shape[0]
    rates, qualities = np.full(count, np.nan), np.full(count, np.nan)
    if method == "cubic":
        for row in range(count):
            try:
                rates[row], qualities[row] = bd_rate_and_quality(*(a[row] for a in arrays), method, higher_is_better,
                                                                 min_overlap)
            except BDError:
                pass
        return rates, qualities, np.isfinite(rates)
    if min(arrays[0].shape[1], arrays[2].shape[1]) < MIN_POINTS:
        return rates, qualities, np.zeros(count, bool)
    anchor_r, anchor_q, anchor_ok = _sorted_valid(arrays[0], arrays[1], higher_is_better)
    test_r, test_q, test_ok = _sorted_valid(arrays[2], arrays[3], higher_is_better)
    ok = anchor_ok & test_ok
    with np.errstate(divide="ignore", invalid="ignore"):
        anchor_log, test_log = np.log10(anchor_r), np.log10(test_r)
        ok &= _overlaps(anchor_q, test_q, min_overlap) & _overlaps(anchor_log, test_log, min_overlap)
    if ok.any():
        log_rate = pchip.bd_linear(anchor_q[ok], anchor_log[ok], test_q[ok], test_log[ok])
        # 10 ** x one number at a time: numpy's vectorised power differs from the scalar one (what
        # the bjontegaard package uses) in the last bit for about a third of the values
        rates[ok] = [(10 ** float(value) - 1) * 100 for value in log_rate]
        delta = pchip.bd_linear(anchor_log[ok], anchor_q[ok], test_log[ok], test_q[ok])
        qualities[ok] = delta if higher_is_better else -delta
    return rates, qualities, ok
