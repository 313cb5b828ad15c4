"""The batched BD (``bd_many``, what the bootstrap uses) and the single BD against the
``bjontegaard`` package, the independent reference, one pair at a time: the same numbers, and
the same pairs refused."""

from __future__ import annotations

import bjontegaard
import numpy as np
import pytest

from bench.analysis.bd import BDError, bd_many, bd_rate_and_quality, validate


def noisy_curves(count: int, points: int, seed: int) -> tuple[np.ndarray, ...]:
    """Pairs of RD curves with jitter: most support a BD, some are non-monotone or barely overlap."""
    rng = np.random.default_rng(seed)
    bpp = np.linspace(0.2, 2.0, points)
    anchor_r = bpp * rng.uniform(0.9, 1.1, (count, points))
    test_r = bpp * rng.uniform(0.5, 1.6, (count, 1)) * rng.uniform(0.9, 1.1, (count, points))
    anchor_q = 30 + 8 * np.log10(anchor_r) + rng.normal(0, 0.4, (count, points))
    test_q = 31 + 8 * np.log10(test_r) + rng.normal(0, 0.4, (count, points))
    return anchor_r, anchor_q, test_r, test_q


def one_by_one(arrays, method: str, higher: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each pair through ``bd_rate_and_quality`` (which refuses what it must), its numbers then
    taken again from the ``bjontegaard`` package on the same validated curves."""
    rates, qualities = [], []
    for row in range(arrays[0].shape[0]):
        pair = [a[row] for a in arrays]
        try:
            bd_rate_and_quality(*pair, method, higher)
        except BDError:
            rates.append(np.nan)
            qualities.append(np.nan)
            continue
        anchor, test = validate(*pair[:2], "anchor", higher), validate(*pair[2:], "test", higher)
        curves = (anchor.rates, anchor.quality, test.rates, test.quality)
        rates.append(bjontegaard.bd_rate(*curves, method=method, require_matching_points=False, min_overlap=0.0))
        delta = bjontegaard.bd_psnr(*curves, method=method, require_matching_points=False, min_overlap=0.0)
        qualities.append(delta if higher else -delta)
    return np.array(rates), np.array(qualities)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
@pytest.mark.parametrize("higher", [True, False])
def test_bd_many_and_the_single_bd_equal_the_reference(method: str, higher: bool) -> None:
    arrays = noisy_curves(300, 6, seed=4)
    if not higher:  # an LPIPS-like metric: lower is better
        arrays = (arrays[0], -arrays[1] / 40, arrays[2], -arrays[3] / 40)
    rates, qualities, supported = bd_many(*arrays, method, higher)
    expected_rates, expected_qualities = one_by_one(arrays, method, higher)
    assert supported.tolist() == np.isfinite(expected_rates).tolist()
    assert 0 < supported.sum() < len(supported)  # both kinds of pair were exercised
    np.testing.assert_allclose(rates[supported], expected_rates[supported], rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(qualities[supported], expected_qualities[supported], rtol=1e-11, atol=1e-11)
    for row in np.flatnonzero(supported)[:20]:  # the single BD takes the same path
        single = bd_rate_and_quality(*(a[row] for a in arrays), method, higher)
        np.testing.assert_allclose(single, (expected_rates[row], expected_qualities[row]), rtol=1e-11, atol=1e-11)


def test_bd_many_refuses_short_curves_and_unknown_methods() -> None:
    arrays = noisy_curves(3, 3, seed=1)
    assert not bd_many(*arrays)[2].any()
    with pytest.raises(BDError, match="unknown BD method"):
        bd_many(*noisy_curves(2, 5, seed=1), method="akima")
