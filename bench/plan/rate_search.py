"""Find the rate parameter that makes a codec land on a target bpp, by bisection on the rate.

Comparisons "at matched rate" (crops, single-point tables) need each codec at the same bpp, but
a codec exposes a quality, a QP or a continuous level, not a bpp. The bpp of one image is
monotone in the rate for every codec in the harness, rising (JPEG quality, IAT level) or
falling (QP), so bisection on the rate brackets the target without knowing the direction.
Already measured points (stored rows) seed the search so an encode is never redone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Mapping

from bench.codec import canonical_json
from bench.errors import ConfigError


@dataclass(frozen=True)
class RateSearch:
    """The rate chosen for a target bpp and how it was found.

    ``steps`` holds only the points this search measured, in order (seeded ``known`` points
    are reused silently), so ``len(steps)`` is the number of encodes it cost.
    """

    rate: float
    bpp: float
    target: float
    tolerance: float
    within: bool
    steps: tuple[tuple[float, float], ...]
    #: Why ``within`` is False (target out of range, integer grid too coarse, ...); else "".
    reason: str = ""

    @property
    def error(self) -> float:
        """Relative bpp error of the chosen point, signed (+0.03 is 3 % above the target)."""
        return self.bpp / self.target - 1.0

    def to_json(self) -> str:
        """Canonical compact JSON, for storing with a row that was produced by this search."""
        record = asdict(self)
        record["steps"] = [list(step) for step in self.steps]
        return canonical_json(record)


def _normal_rate(rate: float, integer: bool) -> float:
    """Integer-valued rates as ``int`` so 20 and 20.0 are one cache entry (and JPEG gets an int)."""
    return int(round(rate)) if integer else float(rate)


def search_rate(
    measure_bpp: Callable[[float], float],
    target: float,
    low: float,
    high: float,
    integer: bool,
    tolerance: float = 0.05,
    max_steps: int = 24,
    known: Mapping[float, float] | None = None,
) -> RateSearch:
    """The rate in ``[low, high]`` whose bpp is within ``tolerance`` (relative) of ``target``.

    ``measure_bpp`` encodes at one rate and returns its bpp; it is called at most
    ``max_steps`` times. ``integer`` restricts the search to integer rates, where the grid may
    be too coarse to land within tolerance: the closest rate is returned with a reason. A
    target outside the bpp range of ``[low, high]`` returns the nearest endpoint, not within.
    """
    if not (target > 0 and math.isfinite(target)):
        raise ConfigError(f"target bpp must be a positive number, got {target!r}")
    if not tolerance > 0:
        raise ConfigError(f"bpp tolerance must be positive, got {tolerance!r}")
    if max_steps < 2:
        raise ConfigError(f"rate search needs max_steps >= 2 (both endpoints), got {max_steps}")
    if integer:
        low, high = math.ceil(low), math.floor(high)
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ConfigError(f"rate search needs a finite range low <= high, got [{low}, {high}]")

    seen: dict[float, float] = {}
    for rate, bpp in (known or {}).items():
        if low <= rate <= high and (not integer or float(rate).is_integer()):
            seen[_normal_rate(rate, integer)] = float(bpp)
    steps: list[tuple[float, float]] = []

    def measure(rate: float) -> float:
        rate = _normal_rate(rate, integer)
        if rate not in seen:
            seen[rate] = float(measure_bpp(rate))
            steps.append((rate, seen[rate]))
        return seen[rate]

    def close(bpp: float) -> bool:
        return abs(bpp - target) <= tolerance * target

    def result(reason: str = "") -> RateSearch:
        rate = min(seen, key=lambda r: (abs(seen[r] - target), r))
        bpp = seen[rate]
        return RateSearch(
            rate=rate, bpp=bpp, target=target, tolerance=tolerance, within=close(bpp),
            steps=tuple(steps), reason="" if close(bpp) else reason,
        )

    def bracket() -> tuple[float, float] | None:
        """Adjacent measured rates whose bpp lie on both sides of the target."""
        rates = sorted(seen)
        for a, b in zip(rates, rates[1:]):
            if (seen[a] - target) * (seen[b] - target) < 0:
                return a, b
        return None

    band = f"±{tolerance:.0%}"
    if any(close(bpp) for bpp in seen.values()):
        return result()
    found = bracket()
    if found is None:
        for rate in (low, high):
            if len(steps) < max_steps:
                measure(rate)
        if any(close(bpp) for bpp in seen.values()):
            return result()
        found = bracket()
    if found is None:
        if low == high:
            only = _normal_rate(low, integer)
            return result(f"a single rate {only} gives {seen[only]:.4g} bpp: "
                          f"no rate knob to reach {target:g}")
        lo_bpp, hi_bpp = min(seen.values()), max(seen.values())
        side = "above" if target > hi_bpp else "below"
        return result(f"target {target:g} bpp is {side} the reachable range "
                      f"{lo_bpp:.4g}-{hi_bpp:.4g} bpp of rates [{low}, {high}]")

    a, b = found
    while len(steps) < max_steps:
        if integer and b - a <= 1:
            return result(f"integer rates {a} and {b} give {seen[a]:.4g} and {seen[b]:.4g} bpp; "
                          f"no integer rate lands within {band} of {target:g}")
        mid = (a + b) // 2 if integer else (a + b) / 2
        bpp = measure(mid)
        if close(bpp):
            return result()
        if (seen[a] - target) * (bpp - target) < 0:
            b = _normal_rate(mid, integer)
        else:
            a = _normal_rate(mid, integer)
    return result(f"no rate within {band} of {target:g} bpp after {max_steps} encodes")
