"""Confidence intervals for Bjøntegaard deltas: a seeded bootstrap over images.

A BD-rate over 24 Kodak images is one number from one sample of photos; a paper needs to know
how much it would move on another sample. Each resample draws as many images as there are,
with replacement, from the images both curves share (paired: the anchor and the test curve see
the same draw), recomputes both dataset-mean curves over the draw and takes their BD. The
interval is the percentile interval of those BDs. Resamples whose mean curves do not support a
BD (a non-monotone mean curve) are counted and left out; the count travels with the interval.

The percentile interval is approximate, and from few images it is not an interval a paper can
print as "95 %": n images give only C(2n−1, n) distinct draws (3 from 2 images, 35 from 4), and
the nominal 95 % interval of a mean covered the true mean in 50 % of 2000 simulated normal
samples of 2, 76 % of 3, 81 % of 4, 83 % of 5, 89 % of 10 and 93 % of 24. Tables therefore give
no interval below :data:`MIN_IMAGES` and say why.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from bench.analysis.bd import BDError, bd_many
from bench.config.defaults import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED  # noqa: F401 (re-exported)

#: Fewest images a table computes an interval from (see the module docstring for why).
MIN_IMAGES = 5


def too_few_images(n_images: int) -> str:
    """Why a table gives no interval over ``n_images`` images, or "" when it gives one."""
    if n_images >= MIN_IMAGES:
        return ""
    if n_images < 2:
        return "no interval (one image)"
    return f"no interval ({n_images} images; a bootstrap interval needs at least {MIN_IMAGES})"


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval of one BD value."""

    low: float
    high: float
    resamples: int
    failed: int = 0

    def contains(self, value: float) -> bool:
        return bool(self.low <= value <= self.high)


@dataclass(frozen=True)
class ImageMatrix:
    """One curve's per-image values: ``bpp`` and ``quality`` as (images × rates) arrays in a
    fixed image order, so a resample is one weighted mean per column."""

    images: tuple[str, ...]
    bpp: np.ndarray
    quality: np.ndarray

    @classmethod
    def from_rows(cls, rows: pd.DataFrame, metric: str, images: list[str]) -> "ImageMatrix":
        """Rows of one curve (columns image, rate, bpp, metric) restricted to ``images``."""
        means = rows.groupby(["image", "rate"])[["bpp", metric]].mean().unstack("rate")  # one pass, both values
        bpp, quality = means["bpp"].loc[images], means[metric].loc[images]
        complete = (bpp.notna().all() & quality.notna().all()).to_numpy()  # rates every chosen image has
        return cls(tuple(images), bpp.to_numpy(float)[:, complete], quality.to_numpy(float)[:, complete])

    def mean(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The weighted mean curve of each row of ``weights`` (resamples × images): two
        (resamples × rates) arrays."""
        total = weights.sum(axis=-1, keepdims=True)
        return weights @ self.bpp / total, weights @ self.quality / total


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


@lru_cache(maxsize=2)
def resample_weights(n_images: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples × images) counts of each image in each draw of ``n_images`` with replacement.

    Kept for the next call (read-only): a table draws the same weights for every metric and
    curve pair of a dataset, and at 50,000 images one set is 400 MB and seconds to draw."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_images, size=(resamples, n_images))
    weights = np.empty((resamples, n_images))
    for row, drawn in enumerate(draws):  # row by row: no (resamples × images) index array beside the draws
        weights[row] = np.bincount(drawn, minlength=n_images)
    weights.setflags(write=False)
    return weights


def bd_intervals(anchor: ImageMatrix, test: ImageMatrix, method: str = "pchip",
                 higher_is_better: bool = True, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                 level: float = DEFAULT_LEVEL) -> tuple[Interval, Interval]:
    """Bootstrap intervals of (BD-rate %, BD-quality) of ``test`` against ``anchor``.

    ``anchor`` covers the same images as ``test`` (paired draws) or other images (each side drawn
    on its own, as when every curve is averaged over its own images).
    """
    if resamples < 1:
        raise BDError(f"bootstrap resamples must be at least 1, got {resamples}")
    weights = resample_weights(len(test.images), resamples, seed)
    paired = anchor.images == test.images
    anchor_weights = weights if paired else resample_weights(len(anchor.images), resamples, seed + 1)
    rates, qualities, supported = bd_many(*anchor.mean(anchor_weights), *test.mean(weights), method, higher_is_better)
    kept = int(supported.sum())
    if not kept:
        raise BDError(f"no bootstrap resample of {resamples} supports a BD")
    failed = resamples - kept
    return (Interval(*percentile_interval(rates[supported], level), kept, failed),
            Interval(*percentile_interval(qualities[supported], level), kept, failed))


def mean_interval(values: np.ndarray, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                  level: float = DEFAULT_LEVEL) -> Interval:
    """Bootstrap interval of the mean of per-image values (the per-image BD convention)."""
    values = np.asarray(values, float)
    weights = resample_weights(len(values), resamples, seed)
    means = weights @ values / len(values)
    return Interval(*percentile_interval(means, level), resamples)
