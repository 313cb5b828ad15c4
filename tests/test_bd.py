"""Bjøntegaard deltas and AUC against closed forms, for both interpolation methods."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.analysis import BDError, auc, bd_quality, bd_rate

RATES = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
LOG_LINEAR = 30 + 10 * np.log10(RATES)  # PSNR linear in log-rate
CURVED = 30 + 6 * np.log2(RATES) - 0.4 * np.log2(RATES) ** 2  # concave in log-rate


@pytest.mark.parametrize("method", ["pchip", "cubic"])
@pytest.mark.parametrize("quality", [LOG_LINEAR, CURVED], ids=["log-linear", "curved"])
def test_scaling_rates_at_equal_quality(method, quality):
    assert bd_rate(RATES, quality, 0.9 * RATES, quality, method) == pytest.approx(-10.0, abs=1e-9)
    assert bd_rate(RATES, quality, 1.25 * RATES, quality, method) == pytest.approx(25.0, abs=1e-9)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_constant_quality_offset_on_a_log_linear_curve(method):
    # +1 dB on PSNR = 30 + 10·log10(r) equals a rate factor 10^(−0.1) at equal quality.
    assert bd_quality(RATES, LOG_LINEAR, RATES, LOG_LINEAR + 1, method) == pytest.approx(1.0, abs=1e-9)
    expected = (10 ** -0.1 - 1) * 100
    assert bd_rate(RATES, LOG_LINEAR, RATES, LOG_LINEAR + 1, method, min_overlap=0.5) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
def test_partial_overlap_is_integrated_over_the_intersection(method):
    # The test curve is the anchor shifted by a rate factor 0.8 but sampled only over the upper
    # part of the anchor's range plus one point beyond it: the delta comes from the overlap alone.
    # The interpolants see different sample sets, hence a small tolerance instead of exactness.
    test_rates = np.concatenate([0.8 * RATES[2:], [0.8 * 8.0]])
    test_quality = np.concatenate([CURVED[2:], [30 + 6 * 3 - 0.4 * 9]])
    assert bd_rate(RATES, CURVED, test_rates, test_quality, method, min_overlap=0.3) == pytest.approx(-20.0, abs=0.25)
    with pytest.raises(BDError, match="below min_overlap"):
        bd_rate(RATES, CURVED, test_rates, test_quality, method, min_overlap=0.9)


def test_lpips_direction():
    lpips = 0.5 / (1 + RATES)  # falls with rate
    assert bd_rate(RATES, lpips, 0.9 * RATES, lpips, higher_is_better=False) == pytest.approx(-10.0, abs=1e-9)
    assert bd_quality(RATES, lpips, RATES, lpips - 0.01, higher_is_better=False) == pytest.approx(-0.01, abs=1e-6)


@pytest.mark.parametrize(
    ("rates", "quality", "message"),
    [
        (RATES[:3], LOG_LINEAR[:3], "at least 4"),
        (np.array([0.5, 0.5, 1, 2]), np.array([30, 31, 32, 33]), "repeated rates"),
        (RATES, np.array([30, 32, 31, 34, 35]), "not strictly increasing"),
        (RATES, np.array([30, 31, np.nan, 33, 34]), "non-finite"),
        (np.array([0, 1, 2, 3]), np.array([30, 31, 32, 33]), "non-positive"),
    ],
)
def test_invalid_curves_are_refused(rates, quality, message):
    with pytest.raises(BDError, match=message):
        bd_rate(RATES, LOG_LINEAR, rates, quality)


def test_disjoint_and_small_overlaps_are_refused():
    with pytest.raises(BDError, match="do not overlap"):
        bd_rate(RATES, LOG_LINEAR, RATES, LOG_LINEAR + 20)
    with pytest.raises(BDError, match="below min_overlap"):
        bd_rate(RATES, LOG_LINEAR, RATES, LOG_LINEAR + 9)
    with pytest.raises(BDError, match="unknown BD method"):
        bd_rate(RATES, LOG_LINEAR, RATES, LOG_LINEAR, method="akima2")


def test_auc_closed_forms():
    bpp = np.array([0.2, 0.6, 1.0, 1.4])
    linear = 28 + 5 * bpp
    # the area of a linear function over [a, b] is its midpoint value times the width
    for interpolation in ("cubic", "pchip", "linear"):
        assert auc(bpp, linear, 0.3, 1.2, interpolation) == pytest.approx((28 + 5 * 0.75) * 0.9, abs=1e-9)
        assert auc(bpp, linear, 0.3, 1.2, interpolation, normalise=True) == pytest.approx(28 + 5 * 0.75, abs=1e-9)
    kinked = np.array([30.0, 34.0, 35.0, 36.0])  # trapezoid by hand over [0.2, 1.0]
    assert auc(bpp, kinked, 0.2, 1.0, "linear") == pytest.approx((30 + 34) / 2 * 0.4 + (34 + 35) / 2 * 0.4)
    with pytest.raises(BDError, match="not inside"):
        auc(bpp, linear, 0.1, 1.0)
    assert math.isfinite(auc(bpp, kinked, 0.2, 1.4, interpolation="pchip"))


def test_auc_refuses_what_bd_refuses():
    """One rule for BD and AUC: an AUC needs a finite, strictly monotone curve, and as many points
    as its interpolation (a cubic spline 4); it never falls back to another method."""
    bpp = np.array([0.2, 0.6, 1.0, 1.4])
    with pytest.raises(BDError, match="not strictly increasing"):
        auc(bpp, np.full(4, 31.0), 0.2, 1.4)
    with pytest.raises(BDError, match="infinite quality: a lossless point"):
        auc(bpp, [30, 33, 35, np.inf], 0.2, 1.0, "linear")
    with pytest.raises(BDError, match="3 rate points; cubic needs 4"):
        auc(bpp[:3], [30, 33, 35], 0.2, 1.0)
    assert auc(bpp[:2], [30, 34], 0.2, 0.6, "pchip") == pytest.approx(32 * 0.4)
    # LPIPS falls as bits are added: monotone the other way, and its area is of LPIPS itself
    assert auc(bpp, [0.4, 0.3, 0.2, 0.1], 0.2, 1.4, "linear", higher_is_better=False) == pytest.approx(0.25 * 1.2)
    with pytest.raises(BDError, match="not strictly increasing"):
        auc(bpp, [0.4, 0.3, 0.2, 0.1], 0.2, 1.4, "linear")


def test_auc_defaults_reproduce_the_invcompress_table_1():
    """InvCompress Table 1: 33.373 on Kodak for its MSE models over its q1–q8 range; the eight
    points of the authors' results/kodak_mse.json give 33.371 (cubic), 33.365 (pchip), 33.323 (trapezoid)."""
    bpp = [0.0984, 0.1339, 0.1632, 0.2926, 0.4514, 0.6508, 0.7910, 1.0611]
    psnr = [27.894, 28.957, 29.715, 31.919, 33.946, 35.840, 36.908, 38.471]
    assert auc(bpp, psnr, bpp[0], bpp[-1]) == pytest.approx(33.37, abs=0.01)
    assert auc(bpp, psnr, bpp[0], bpp[-1], "pchip") == pytest.approx(33.365, abs=0.001)
    assert auc(bpp, psnr, bpp[0], bpp[-1], "linear") == pytest.approx(33.323, abs=0.001)
