"""Distortion metrics, all computed on the one decoded 8-bit image of a task.

``measure`` is the only entry point the executor uses; each metric module is independent and
tested against a reference of its own (closed forms, scikit-image, published LPIPS values).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from bench.errors import ConfigError
from bench.metrics.msssim import ms_ssim
from bench.metrics.psnr import psnr_rgb, psnr_y

#: Metrics computed in numpy, as functions of (original, decoded).
NUMPY_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {"psnr_rgb": psnr_rgb, "psnr_y": psnr_y}
#: Metrics computed in torch, which also take the device to run on.
TORCH_METRICS = ("ms_ssim", "lpips")
ALL_METRICS = tuple(NUMPY_METRICS) + TORCH_METRICS


def validate(names: list[str]) -> list[str]:
    unknown = sorted(set(names) - set(ALL_METRICS))
    if unknown:
        raise ConfigError(f"unknown metric(s) {unknown}; known: {', '.join(ALL_METRICS)}")
    return list(names)


def ms_ssim_db(value: float) -> float:
    """MS-SSIM in decibels, −10·log10(1 − MS-SSIM); inf for a perfect score."""
    return math.inf if value >= 1.0 else -10.0 * math.log10(1.0 - value)


def measure(original: np.ndarray, decoded: np.ndarray, names: list[str], device: str = "cpu") -> dict[str, float]:
    """Every requested metric of ``decoded`` against ``original`` (both H×W×3 uint8)."""
    values: dict[str, float] = {}
    for name in names:
        if name == "lpips":
            from bench.metrics.lpips_alex import lpips_distance  # loads a model: only when asked

            values["lpips"] = lpips_distance(original, decoded, device=device)
        elif name == "ms_ssim":
            values["ms_ssim"] = ms_ssim(original, decoded, device=device)
        else:
            values[name] = NUMPY_METRICS[name](original, decoded)
    if "ms_ssim" in values:
        values["ms_ssim_db"] = ms_ssim_db(values["ms_ssim"])
    return values
