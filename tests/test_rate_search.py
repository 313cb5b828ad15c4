"""Rate search: bisection lands on a target bpp in either direction, integer or continuous, reuses
known points, and says why when it cannot."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from bench.errors import ConfigError
from bench.plan.rate_search import RateSearch, search_rate


class Counted:
    """A synthetic bpp(rate) curve that counts its calls."""

    def __init__(self, curve):
        self.curve = curve
        self.calls: list[float] = []

    def __call__(self, rate: float) -> float:
        self.calls.append(rate)
        return self.curve(rate)


def quality_like(q: float) -> float:
    """Rises with the rate, like JPEG quality: 0.1 bpp at 1, 4.1 bpp at 100."""
    return 0.1 + 0.0004 * q * q


def qp_like(qp: float) -> float:
    """Falls with the rate, like a QP: halves every 6 steps."""
    return 8.0 * 2 ** (-qp / 6)


@pytest.mark.parametrize("curve, low, high", [(quality_like, 1, 100), (qp_like, 0, 51)])
@pytest.mark.parametrize("integer", [True, False])
def test_lands_within_tolerance_in_either_direction(curve, low, high, integer):
    f = Counted(curve)
    found = search_rate(f, target=0.5, low=low, high=high, integer=integer)
    assert found.within and found.reason == ""
    assert abs(found.bpp / 0.5 - 1) <= 0.05 and found.bpp == curve(found.rate)
    assert [r for r, _ in found.steps] == f.calls and len(f.calls) <= 24
    if integer:
        assert all(float(r).is_integer() for r in f.calls)


def test_tight_tolerance_continuous():
    found = search_rate(qp_like, target=0.3, low=0, high=51, integer=False, tolerance=0.001)
    assert found.within and abs(found.error) <= 0.001
    assert not search_rate(qp_like, target=0.3, low=0, high=51, integer=False,
                           tolerance=1e-9, max_steps=6).within


def test_coarse_integer_grid_returns_the_closest_and_says_so():
    step = Counted(lambda r: 0.2 * r)  # integers give 0.2, 0.4, 0.6 ... bpp
    found = search_rate(step, target=0.5, low=1, high=10, integer=True, tolerance=0.05)
    assert not found.within and found.rate in (2, 3)
    assert "no integer rate lands within ±5%" in found.reason


@pytest.mark.parametrize("target, side", [(10.0, "above"), (0.01, "below")])
def test_unreachable_target_returns_nearest_endpoint(target, side):
    found = search_rate(quality_like, target=target, low=1, high=100, integer=True)
    assert not found.within and side in found.reason and "reachable range" in found.reason
    assert found.rate == (100 if side == "above" else 1)
    assert len(found.steps) == 2


def test_single_rate_codec_has_no_knob():
    found = search_rate(lambda r: 0.8, target=0.25, low=1, high=1, integer=True)
    assert not found.within and found.rate == 1 and "no rate knob" in found.reason


def test_known_points_are_reused_not_measured():
    known = {q: quality_like(q) for q in (10, 20, 30, 40, 50, 60, 70, 80, 90)}
    fresh = Counted(quality_like)
    seeded = Counted(quality_like)
    cold = search_rate(fresh, target=1.0, low=1, high=100, integer=True, tolerance=0.02)
    warm = search_rate(seeded, target=1.0, low=1, high=100, integer=True, tolerance=0.02, known=known)
    assert cold.within and warm.within
    assert not set(seeded.calls) & set(known)
    assert all(40 < q < 50 for q in seeded.calls)  # bisects inside the known bracket only
    assert len(seeded.calls) < len(fresh.calls)
    hit = Counted(quality_like)
    exact = search_rate(hit, target=quality_like(30), low=1, high=100, integer=True, known=known)
    assert exact.within and exact.rate == 30 and hit.calls == [] and exact.steps == ()


def test_to_json_is_canonical_and_complete():
    found = search_rate(qp_like, target=0.5, low=0, high=51, integer=True)
    record = json.loads(found.to_json())
    assert set(record) == {"rate", "bpp", "target", "tolerance", "within", "steps", "reason"}
    assert record["steps"] == [list(s) for s in found.steps]
    assert " " not in found.to_json() and isinstance(found, RateSearch)


@pytest.mark.parametrize("kwargs", [dict(target=0), dict(target=1, tolerance=0), dict(target=1, low=5, high=2)])
def test_bad_arguments_are_config_errors(kwargs):
    args = dict(low=1, high=100, integer=True) | kwargs
    with pytest.raises(ConfigError):
        search_rate(quality_like, **args)


def test_real_jpeg_search_lands_within_five_percent(photo):
    from bench.execute.worker import codec_for

    image = np.ascontiguousarray(photo[:128, :192])
    jpeg = codec_for("jpeg", {})

    def bpp(quality: float) -> float:
        return len(jpeg.encode(image, quality)) * 8 / (image.shape[0] * image.shape[1])

    found = search_rate(bpp, target=1.0, low=1, high=100, integer=True)
    assert found.within, found.reason
    assert abs(bpp(found.rate) - 1.0) <= 0.05
    assert Image.open(io.BytesIO(jpeg.encode(image, found.rate))).size == (192, 128)
