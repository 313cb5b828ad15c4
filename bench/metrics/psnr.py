"""PSNR on RGB and on luma, in float64 from 8-bit images (peak 255), and PSNR of a codec's
float reconstruction (what the learned-codec papers report)."""

from __future__ import annotations

import math

import numpy as np

#: ITU-R BT.601 luma weights (full range, as JFIF); stated in the row schema.
BT601_LUMA = np.array([0.299, 0.587, 0.114])


def _psnr(mse: float) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


#: Rows per block of the RGB sum of squares: bounds the temporary memory on very large images.
BLOCK_ROWS = 256


def psnr_rgb(original: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR over all three channels: one MSE over every sample, not a mean of channel PSNRs.

    The squared differences of 8-bit samples are integers, so their sum is exact in int64 and
    the MSE equals the float64 mean bit for bit; summing in row blocks keeps the temporaries to
    a few MB instead of four float64 copies of the image.
    """
    total = 0
    for start in range(0, original.shape[0], BLOCK_ROWS):
        diff = original[start:start + BLOCK_ROWS].astype(np.int64) - decoded[start:start + BLOCK_ROWS]
        flat = diff.reshape(-1)
        total += int(np.dot(flat, flat))
    return _psnr(total / original.size)


def luma(image: np.ndarray) -> np.ndarray:
    """Unrounded BT.601 luma in [0, 255]."""
    return image.astype(np.float64) @ BT601_LUMA


def psnr_y(original: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR of BT.601 luma (float, not rounded to 8 bits)."""
    diff = luma(original) - luma(decoded)
    return _psnr(float(np.mean(diff * diff)))


def psnr_rgb_float(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR over R, G and B of a reconstruction before rounding to 8 bits (peak 255).

    Why: the learned-codec papers (and CompressAI's evaluation) measure PSNR on the float
    ``x_hat`` clamped to [0, 1], not on the 8-bit image a decoded file holds. ``reconstruction``
    is float in [0, 255] (the codec's ``decode_float``) or uint8 for codecs whose output is 8-bit,
    in which case this equals :func:`psnr_rgb` up to float64 rounding.
    """
    diff = original.astype(np.float64) - reconstruction.astype(np.float64)
    return _psnr(float(np.mean(diff * diff)))
