"""Lifting transform (Ma et al. 2021, §4.3): exact invertibility and the CDF 9/7 closed form."""
import math

import numpy as np
import pytest
import torch

from bench_codecs.inn.lifting import CDF97_K, LiftingDirection, LiftingTransform

A, B, G, D = -1.586134342059924, -0.052980118572961, 0.882911075530934, 0.443506852043971


def _cdf97_1d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Textbook CDF 9/7 lifting (JPEG 2000 irreversible), whole-sample symmetric extension,
    scaled to a low-pass DC gain of √2 (low·√2/K, high·K/√2)."""
    y = x.astype(float).copy()
    n = len(y)

    def at(i: int) -> float:
        return y[-i] if i < 0 else y[2 * (n - 1) - i] if i >= n else y[i]

    for coefficient, parity in ((A, 1), (B, 0), (G, 1), (D, 0)):
        for i in range(parity, n, 2):
            y[i] += coefficient * (at(i - 1) + at(i + 1))
    return y[0::2] * math.sqrt(2) / CDF97_K, y[1::2] * CDF97_K / math.sqrt(2)


def test_invertible_float64_with_random_residuals():
    torch.manual_seed(0)
    t = LiftingTransform(levels=3).double()
    for p in t.parameters():
        torch.nn.init.normal_(p, std=0.05)
    x = torch.rand(2, 3, 32, 48, dtype=torch.float64) * 255
    bands = t(x)
    assert len(bands) == 3 * 3 + 1
    assert bands[0].shape == (2, 3, 4, 6)
    assert not torch.allclose(bands[1], LiftingTransform(levels=3).double()(x)[1])  # residuals act
    assert (t.inverse(bands) - x).abs().max().item() < 1e-9


def test_two_lifting_pairs_per_direction_each_with_two_networks():
    direction = LiftingDirection()
    assert len(direction.t_l) == len(direction.t_h) == 2  # eq. (11) twice: H += t_L(L); L += t_H(H)
    t = LiftingTransform(levels=4)
    assert len(t.rows) == len(t.cols) == 4


def test_zero_residuals_match_closed_form_cdf97():
    x = np.random.default_rng(1).random((8, 16)) * 255
    t = LiftingTransform(levels=1).double()
    ll, lh, hl, hh = [b[0, 0].detach().numpy() for b in t(torch.from_numpy(x)[None, None])]
    lo = np.empty((8, 8)); hi = np.empty((8, 8))
    for r in range(8):
        lo[r], hi[r] = _cdf97_1d(x[r])
    ref = {}
    for name, m in (("lo", lo), ("hi", hi)):
        a = np.empty((4, 8)); b = np.empty((4, 8))
        for c in range(8):
            a[:, c], b[:, c] = _cdf97_1d(m[:, c])
        ref[name] = (a, b)
    np.testing.assert_allclose(ll, ref["lo"][0], atol=1e-9)
    np.testing.assert_allclose(lh, ref["lo"][1], atol=1e-9)
    np.testing.assert_allclose(hl, ref["hi"][0], atol=1e-9)
    np.testing.assert_allclose(hh, ref["hi"][1], atol=1e-9)


def test_untrained_direction_has_the_cdf97_analysis_filters():
    """The low-pass impulse response is the 9-tap CDF 9/7 analysis filter (DC gain √2)."""
    taps = np.array([0.026748757411, -0.016864118443, -0.078223266529, 0.266864118443, 0.602949018236,
                     0.266864118443, -0.078223266529, -0.016864118443, 0.026748757411]) * math.sqrt(2)
    direction = LiftingDirection().double()
    found = []
    for p in range(16 - 4, 16 + 5):  # impulse at p, read low[8] = Σ h[k]·x[16 − k]
        x = torch.zeros(1, 1, 1, 32, dtype=torch.float64)
        x[..., p] = 1
        found.append(direction(x)[0][0, 0, 0, 8].item())
    np.testing.assert_allclose(found, taps, atol=1e-9)
    constant = direction(torch.full((1, 1, 1, 32), 10.0, dtype=torch.float64))
    assert constant[0].sub(10 * math.sqrt(2)).abs().max() < 1e-9 and constant[1].abs().max() < 1e-9


@pytest.mark.parametrize("frozen", [True, False])
def test_frozen_residuals_are_the_fixed_wavelet(frozen):
    torch.manual_seed(0)
    t = LiftingTransform(levels=2).double()
    for p in t.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64) * 255
    t.frozen_residuals(frozen)
    same = all(torch.allclose(a, b) for a, b in zip(t(x), LiftingTransform(levels=2).double()(x)))
    assert same is frozen
