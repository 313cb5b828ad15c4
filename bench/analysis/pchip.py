"""PCHIP integrals of many curves at once: the Bjøntegaard deltas of a whole bootstrap in one go.

A bootstrap of 1000 resamples asks for 2000 BDs of curves that differ only in their points;
building a ``scipy.interpolate.PchipInterpolator`` for each costs milliseconds in Python
overhead alone. This module repeats scipy's arithmetic (the same derivative rule, the same
Hermite coefficients, the same integration order) on (curves × points) arrays, so each resample
is a row and each number is the one the ``bjontegaard`` package gives (tests/test_bd_many.py
checks it against that package, the reference).
"""

from __future__ import annotations

import numpy as np


def _edge_derivative(h0: np.ndarray, h1: np.ndarray, m0: np.ndarray, m1: np.ndarray) -> np.ndarray:
    """scipy's one-sided three-point end derivative, shape-preserving (Moler, pchiptx.m)."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    wrong_sign = np.sign(d) != np.sign(m0)
    too_steep = (np.sign(m0) != np.sign(m1)) & (np.abs(d) > 3.0 * np.abs(m0))
    d = np.where(wrong_sign, 0.0, d)
    return np.where(~wrong_sign & too_steep, 3.0 * m0, d)


def derivatives(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """PCHIP derivatives at every point of each row of ``x`` (strictly increasing) and ``y``."""
    h = np.diff(x, axis=1)
    m = np.diff(y, axis=1) / h
    if x.shape[1] == 2:
        return np.concatenate([m, m], axis=1)
    sign = np.sign(m)
    flat = (sign[:, 1:] != sign[:, :-1]) | (m[:, 1:] == 0) | (m[:, :-1] == 0)
    w1 = 2 * h[:, 1:] + h[:, :-1]
    w2 = h[:, 1:] + 2 * h[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 / m[:, :-1] + w2 / m[:, 1:]) / (w1 + w2)
        inner = np.where(flat, 0.0, 1.0 / harmonic)
    first = _edge_derivative(h[:, 0], h[:, 1], m[:, 0], m[:, 1])
    last = _edge_derivative(h[:, -1], h[:, -2], m[:, -1], m[:, -2])
    return np.concatenate([first[:, None], inner, last[:, None]], axis=1)


def integrate(x: np.ndarray, y: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """∫ from ``low`` to ``high`` (per row, inside the row's x range) of each row's PCHIP curve.

    The operations are scipy's, in scipy's order (``CubicHermiteSpline`` coefficients, then
    ``_ppoly.integrate``: each interval's antiderivative at its clipped ends, summed interval by
    interval from the left), so each row's integral is the one ``PPoly.integrate`` returns, bit
    for bit. Intervals outside [low, high] add exact zeros.
    """
    slopes = derivatives(x, y)
    h = np.diff(x, axis=1)
    secant = np.diff(y, axis=1) / h
    t = (slopes[:, :-1] + slopes[:, 1:] - 2 * secant) / h
    cubic, quadratic, linear, constant = t / h, (secant - slopes[:, :-1]) / h - t, slopes[:, :-1], y[:, :-1]
    start = np.clip(low[:, None], x[:, :-1], x[:, 1:]) - x[:, :-1]
    stop = np.clip(high[:, None], x[:, :-1], x[:, 1:]) - x[:, :-1]

    def antiderivative(s: np.ndarray) -> np.ndarray:  # scipy's evaluate_poly1(s, c, dx=-1)
        return constant * s * 1.0 + linear * (s * s) * 0.5 + quadratic * (s * s * s) * (1.0 / 3) + cubic * (s * s * s * s) * 0.25

    pieces = antiderivative(stop) - antiderivative(start)
    total = np.zeros(len(x))
    for interval in range(pieces.shape[1]):  # left to right, as scipy sums (np.sum would pair terms up)
        total = total + pieces[:, interval]
    return total


def bd_linear(x_anchor: np.ndarray, y_anchor: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> np.ndarray:
    """Mean of test − anchor over the overlap of each row pair's x ranges (the rows' x sorted and
    overlapping): the ``bjontegaard`` package's ``bd_linear`` with ``method="pchip"``."""
    low = np.maximum(x_anchor[:, 0], x_test[:, 0])
    high = np.minimum(x_anchor[:, -1], x_test[:, -1])
    return (integrate(x_test, y_test, low, high) - integrate(x_anchor, y_anchor, low, high)) / (high - low)
