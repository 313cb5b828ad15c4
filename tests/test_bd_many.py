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
    arrays = noisy_curves(300, 10, seed=4)
    if not higher:  # an LPIPS-like metric: lower is better
        arrays = (arrays[0], -arrays[1] / 40, arrays[2], -arrays[3] / 40)
    rates, qualities, supported = bd_many(*arrays, method, higher)
    expected_rates, expected_qualities = one_by_one(arrays, method, higher)
    assert supported.tolist() == np.isfinite(expected_rates).tolist()
    assert 0 < supported.sum() < len(supported)  # both kinds of pair were exercised
    # bit for bit: bench.analysis.pchip repeats scipy's operations in scipy's order
    np.testing.assert_array_equal(rates[supported], expected_rates[supported])
    np.testing.assert_array_equal(qualities[supported], expected_qualities[supported])
    for row in np.flatnonzero(supported)[:20]:  # the single BD takes the same path
        single = bd_rate_and_quality(*(a[row] for a in arrays), method, higher)
        assert single == (expected_rates[row], expected_qualities[row])


def test_bd_many_refuses_short_curves_and_unknown_methods() -> None:
    arrays = noisy_curves(3, 3, seed=1)
    assert not bd_many(*arrays)[2].any()
    with pytest.raises(BDError, match="unknown BD method"):
        bd_many(*noisy_curves(2, 5, seed=1), method="akima")


def reference_bd_many(anchor_rates, anchor_quality, test_rates, test_quality, method="pchip", higher_is_better=True,
                      min_overlap=0.5):
    """``bd_many`` the way it was computed before: the bjontegaard package, one pair at a time."""
    rates, qualities = one_by_one((anchor_rates, anchor_quality, test_rates, test_quality), method, higher_is_better)
    return rates, qualities, np.isfinite(rates)


def test_tables_equal_those_of_the_reference_bd_byte_for_byte(tmp_path, monkeypatch):
    """BD tables (Markdown, LaTeX, CSV) written through the batched BD equal, byte for byte, those
    written with the bjontegaard package one bootstrap resample and one point BD at a time."""
    import pandas as pd

    from bench.analysis import bd, bootstrap
    from bench.analysis.paper import TableSettings, paper_tables
    from bench.render.tables import write_paper_tables
    from bench.schema import METRIC_COLUMNS

    rng = np.random.default_rng(7)
    rows = []
    for gain, codec in ((0.0, "a"), (0.6, "b"), (-0.4, "c")):
        for image in range(5):
            for rate in (10, 30, 50, 70, 90):
                bpp = rate / 50 * (1 + 0.1 * image) * rng.uniform(0.97, 1.03)
                row = dict.fromkeys(METRIC_COLUMNS)
                row.update(key=f"{codec}{image}{rate}", dataset="d", codec=codec, codec_impl=codec, decoder_options="{}",
                           rate=float(rate), image=f"i{image}.png", image_sha256=str(image), bpp=bpp,
                           psnr_rgb=30 + 10 * np.log10(bpp) + gain + rng.normal(0, 0.3),
                           lpips=0.3 / (1 + 2 * bpp) - gain / 50 + rng.normal(0, 0.004), encode_s=0.01,
                           decode_s=0.01, error=None, generation=1, chain="", params="{}")
                rows.append(row)
    frame = pd.DataFrame(rows)
    settings = TableSettings(anchor="a", metrics=("psnr_rgb", "lpips"), resamples=300, seed=1, codec_order=("a", "b", "c"))

    def written(folder):
        files = write_paper_tables(paper_tables(frame, settings), folder)
        return {path.relative_to(folder): path.read_bytes() for path in files}

    fast = written(tmp_path / "fast")
    monkeypatch.setattr(bootstrap, "bd_many", reference_bd_many)
    monkeypatch.setattr(bd, "_bd_rate", lambda a, t, m: bjontegaard.bd_rate(
        a.rates, a.quality, t.rates, t.quality, method=m, require_matching_points=False, min_overlap=0.0))
    monkeypatch.setattr(bd, "_bd_quality", lambda a, t, m: bjontegaard.bd_psnr(
        a.rates, a.quality, t.rates, t.quality, method=m, require_matching_points=False, min_overlap=0.0))
    reference = written(tmp_path / "reference")
    assert len(fast) >= 12 and fast.keys() == reference.keys()
    for name in fast:
        assert fast[name] == reference[name], name
