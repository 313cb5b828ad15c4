"""PSNR on RGB and on luma, in float64 from 8-bit images (peak 255)."""

from __future__ import annotations

import math

import numpy as np

#: ITU-R BT.601 luma weights (full range, as JFIF); stated in the row schema.
BT601_LUMA = np.array([0.299, 0.587, 0.114])


def _psnr(mse: float) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def psnr_rgb(original: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR over all three channels: one MSE over every sample, not a mean of channel PSNRs."""
    diff = original.astype(np.float64) - decoded.astype(np.float64)
    return _psnr(float(np.mean(diff * diff)))


def luma(image: np.ndarray) -> np.ndarray:
    """Unrounded BT.601 luma in [0, 255]."""
    return image.astype(np.float64) @ BT601_LUMA


def psnr_y(original: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR of BT.601 luma (float, not rounded to 8 bits)."""
    diff = luma(original) - luma(decoded)
    return _psnr(float(np.mean(diff * diff)))
