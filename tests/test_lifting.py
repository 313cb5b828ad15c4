"""Lifting transform: exact invertibility and the LeGall 5/3 closed form."""
import numpy as np
import torch

from bench_codecs.inn.lifting import LiftingTransform


def _legall53_1d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Textbook 5/3 lifting on a 1-D signal with the same edge mirroring."""
    n = len(x) // 2
    d = np.empty(n)
    s = np.empty(n)
    for i in range(n):
        right = x[2 * i + 2] if 2 * i + 2 < len(x) else x[2 * i]
        d[i] = x[2 * i + 1] - 0.5 * (x[2 * i] + right)
    for i in range(n):
        left = d[i - 1] if i > 0 else d[0]
        s[i] = x[2 * i] + 0.25 * (left + d[i])
    return s, d


def test_invertible_float64_with_random_residuals():
    torch.manual_seed(0)
    t = LiftingTransform(levels=3).double()
    for p in t.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.rand(2, 3, 32, 48, dtype=torch.float64)
    bands = t(x)
    assert len(bands) == 3 * 3 + 1
    assert bands[0].shape == (2, 3, 4, 6)
    assert not torch.allclose(bands[1], LiftingTransform(levels=3).double()(x)[1])  # residuals act
    assert (t.inverse(bands) - x).abs().max().item() < 1e-10


def test_zero_residuals_match_closed_form_legall53():
    x = np.random.default_rng(1).random((8, 16))
    t = LiftingTransform(levels=1).double()
    ll, lh, hl, hh = [b[0, 0].detach().numpy() for b in t(torch.from_numpy(x)[None, None])]
    lo = np.empty((8, 8)); hi = np.empty((8, 8))
    for r in range(8):
        lo[r], hi[r] = _legall53_1d(x[r])
    ref = {}
    for name, m in (("lo", lo), ("hi", hi)):
        a = np.empty((4, 8)); b = np.empty((4, 8))
        for c in range(8):
            a[:, c], b[:, c] = _legall53_1d(m[:, c])
        ref[name] = (a, b)
    np.testing.assert_allclose(ll, ref["lo"][0], atol=1e-12)
    np.testing.assert_allclose(lh, ref["lo"][1], atol=1e-12)
    np.testing.assert_allclose(hl, ref["hi"][0], atol=1e-12)
    np.testing.assert_allclose(hh, ref["hi"][1], atol=1e-12)
