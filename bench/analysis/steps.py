"""Steps: persistent changes of a series over commits, told apart from its noise.

The model is the one airspeed velocity uses for benchmark histories: the series is a
piecewise-constant level plus noise, and the fit that minimises the squared residuals (in units
of the noise) plus a fixed penalty per level change says where the level changed. This is an
implementation of that idea, not of asv's code:

* the noise ``sigma`` is estimated robustly from successive differences (their median absolute
  value), so steps and outliers do not inflate it;
* a series whose values mostly repeat exactly (a deterministic codec's bytes, PSNR and hence its
  BD-rate) has no noise: every exact change is a step at that commit;
* otherwise outliers are removed first (a running median), segments must persist (two commits,
  three for timings, whose outliers come in runs when a shared machine is busy), and a step is
  kept only when its size exceeds three standard errors of the two levels and, for timings,
  ``TIMING_MIN_CHANGE`` of the level before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Relative tolerance below which two values of a deterministic series count as equal.
EXACT_TOLERANCE = 1e-9
#: Smallest relative change of a timing reported as a step: shared CI machines drift by a few
#: percent between builds without any change of the code.
TIMING_MIN_CHANGE = 0.10


@dataclass(frozen=True)
class Step:
    """A change between the ``before``-th and the ``after``-th value (indices into the series)."""

    before: int
    after: int
    level_before: float
    level_after: float

    @property
    def change(self) -> float:
        return self.level_after - self.level_before


def noise(values: np.ndarray) -> float:
    """Robust standard deviation of the noise from successive differences (0 when most repeat)."""
    if len(values) < 2:
        return 0.0
    return float(1.4826 * np.median(np.abs(np.diff(values))) / np.sqrt(2))


def exact_steps(values: np.ndarray) -> list[Step]:
    """Every change of a noise-free series, at the commit where it happened."""
    scale = max(float(np.max(np.abs(values))), 1.0)
    changed = np.flatnonzero(np.abs(np.diff(values)) > EXACT_TOLERANCE * scale)
    return [Step(int(i), int(i + 1), float(values[i]), float(values[i + 1])) for i in changed]


def running_median(values: np.ndarray, width: int) -> np.ndarray:
    """Median of each value and its neighbours (``width`` in all, odd; shorter windows at the
    ends): removes outliers of up to ``width // 2`` commits and keeps a level change exactly
    where it is."""
    half = width // 2
    return np.array([np.median(values[max(0, i - half):i + half + 1]) for i in range(len(values))]) \
        if len(values) <= 2 * half else _centred_median(values, half)


def _centred_median(values: np.ndarray, half: int) -> np.ndarray:
    """``running_median`` through one sliding-window call (the ends with shrinking windows)."""
    windows = np.lib.stride_tricks.sliding_window_view(values, 2 * half + 1)
    smoothed = values.copy()
    smoothed[half:-half] = np.median(windows, axis=1)
    for i in range(half):
        smoothed[i] = np.median(values[:i + half + 1])
        smoothed[-1 - i] = np.median(values[-(i + half + 1):])
    return smoothed


def segment_ends(values: np.ndarray, sigma: float, penalty: float, min_length: int = 2) -> list[int]:
    """End indices (exclusive) of the segments of the least-cost piecewise-constant fit: squared
    residuals over sigma² plus ``penalty`` per segment, segments at least ``min_length`` long
    (optimal partitioning, one vectorised pass per end)."""
    n = len(values)
    s1 = np.concatenate([[0.0], np.cumsum(values)])
    s2 = np.concatenate([[0.0], np.cumsum(values * values)])
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    start = np.zeros(n + 1, dtype=int)
    for end in range(min_length, n + 1):
        begins = np.arange(0, end - min_length + 1)
        length = end - begins
        sse = (s2[end] - s2[begins]) - (s1[end] - s1[begins]) ** 2 / length
        cost = best[begins] + np.maximum(sse, 0.0) / (sigma * sigma) + penalty
        pick = int(np.argmin(cost))
        best[end], start[end] = cost[pick], begins[pick]
    ends, end = [], n
    while end > 0:
        ends.append(end)
        end = start[end]
    return ends[::-1]


def noisy_steps(values: np.ndarray, sigma: float, persist: int, min_relative: float = 0.0) -> list[Step]:
    """Level changes of a noisy series that hold for at least ``persist`` commits (see the
    module docstring)."""
    n = len(values)
    if n < 2 * persist:
        return []
    smoothed = running_median(values, 2 * persist - 1)
    ends = segment_ends(smoothed, sigma, penalty=4.0 * np.log(n), min_length=persist)
    bounds = [0, *ends]
    steps = []
    for left, middle, right in zip(bounds, bounds[1:], bounds[2:]):
        before, after = values[left:middle], values[middle:right]
        level_before, level_after = float(np.median(before)), float(np.median(after))
        change = level_after - level_before
        significant = abs(change) > 3 * sigma * np.sqrt(1 / len(before) + 1 / len(after))
        large = abs(change) >= min_relative * abs(level_before)
        if significant and large:
            steps.append(Step(middle - 1, middle, level_before, level_after))
    return steps


def find_steps(values: np.ndarray, timing: bool = False) -> list[Step]:
    """The steps of one series' finite values in commit order. Timings are always treated as
    noisy (even a run of equal ones) and need ``TIMING_MIN_CHANGE``."""
    values = np.asarray(values, dtype=float)
    sigma = noise(values)
    if sigma == 0 and not timing:
        return exact_steps(values)
    if sigma == 0:
        sigma = max(float(np.std(values)), EXACT_TOLERANCE * max(float(np.max(np.abs(values))), 1.0))
    return noisy_steps(values, sigma, 3, TIMING_MIN_CHANGE) if timing else noisy_steps(values, sigma, 2)
