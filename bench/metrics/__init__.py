"""Distortion metrics, computed on the one decoded 8-bit image of a task; ``psnr_rgb_float``
(opt-in) on the codec's reconstruction before rounding, where it has one.

``measure`` is the entry point the executor uses, ``measure_many`` the same for several decoded
images of one reference; each metric module is independent and tested against a reference of its
own (closed forms, scikit-image, published LPIPS values).

MS-SSIM and LPIPS keep, per process and device, the part of their work that depends only on the
reference (``bench.metrics.cache``): every codec × rate task of an image measures against the
same reference. ``cache=False`` runs the plain pytorch-msssim / ``lpips`` calls instead, which the
cached path equals to float32 rounding (docs/metric-cache.md).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np

from bench.config.metric_names import ALL_METRICS, FLOAT_METRIC, NUMPY_METRIC_NAMES, TORCH_METRICS, validate  # noqa: F401 (re-exported)
from bench.metrics.cache import LruCache, content_key
from bench.metrics.msssim import ReferencePyramid, ms_ssim, ms_ssim_against, reference_pyramid, to_batch
from bench.metrics.psnr import psnr_rgb, psnr_rgb_float, psnr_y

if TYPE_CHECKING:
    import torch

    from bench.metrics.lpips_features import ReferenceFeatures

#: Metrics computed in numpy, as functions of (original, decoded).
NUMPY_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = dict(zip(NUMPY_METRIC_NAMES, (psnr_rgb, psnr_y)))
#: Decoded pixels per torch batch in ``measure_many``: five 768×512 images. On CPU, batches of five
#: ran as fast as batches of ten with half the memory (about 200 MB of MS-SSIM intermediates);
#: docs/metric-cache.md has the time per batch size.
BATCH_PIXELS = 5 * 768 * 512

#: Reference-side state per (content key, device); see ``bench.metrics.cache``.
PYRAMIDS: LruCache[ReferencePyramid] = LruCache()
FEATURES: LruCache[ReferenceFeatures] = LruCache()


def ms_ssim_db(value: float) -> float:
    """MS-SSIM in decibels, −10·log10(1 − MS-SSIM); inf for a perfect score."""
    return math.inf if value >= 1.0 else -10.0 * math.log10(1.0 - value)


def measure(original: np.ndarray, decoded: np.ndarray, names: list[str], device: str = "cpu",
            cache: bool = True, reconstruction: np.ndarray | None = None) -> dict[str, float]:
    """Every requested metric of ``decoded`` against ``original`` (both H×W×3 uint8);
    ``reconstruction`` is the float image ``decoded`` was rounded from, when the codec has one."""
    return measure_many(original, [decoded], names, device=device, cache=cache, reconstructions=[reconstruction])[0]


def measure_many(original: np.ndarray, decoded: Sequence[np.ndarray], names: list[str], device: str = "cpu",
                 cache: bool = True, reconstructions: Sequence[np.ndarray | None] | None = None) -> list[dict[str, float]]:
    """``measure`` for each decoded image of one reference, MS-SSIM and LPIPS in batches.

    ``reconstructions`` (one per decoded image, None where the codec's output is 8-bit) feed
    ``psnr_rgb_float``; without them it is measured on the 8-bit images.
    """
    if not decoded:
        return []
    floats = list(reconstructions) if reconstructions is not None else [None] * len(decoded)
    for image in decoded:
        if image.shape != original.shape:
            raise ValueError(f"decoded image is {image.shape}, reference is {original.shape}")
    values: list[dict[str, float]] = [{} for _ in decoded]
    torch_names = [name for name in names if name in TORCH_METRICS]
    per_metric = (_cached if cache else _uncached)(original, decoded, torch_names, device) if torch_names else {}
    for name in names:
        for index, image in enumerate(decoded):
            if name == FLOAT_METRIC:
                values[index][name] = psnr_rgb_float(original, image if floats[index] is None else floats[index])
            elif name in NUMPY_METRICS:
                values[index][name] = NUMPY_METRICS[name](original, image)
            else:
                values[index][name] = per_metric[name][index]
    for row in values:
        if "ms_ssim" in row:
            row["ms_ssim_db"] = ms_ssim_db(row["ms_ssim"])
    return values


def _uncached(original: np.ndarray, decoded: Sequence[np.ndarray], names: list[str], device: str) -> dict[str, list[float]]:
    """The plain library calls, one decoded image at a time."""
    out = {}
    if "ms_ssim" in names:
        out["ms_ssim"] = [ms_ssim(original, image, device=device) for image in decoded]
    if "lpips" in names:
        from bench.metrics.lpips_alex import lpips_distance  # loads a model: only when asked

        out["lpips"] = [lpips_distance(original, image, device=device) for image in decoded]
    return out


def _cached(original: np.ndarray, decoded: Sequence[np.ndarray], names: list[str], device: str) -> dict[str, list[float]]:
    """Reference side from the cache (built on a miss), decoded side in batches of ``BATCH_PIXELS``."""
    key = (content_key(original), device)
    out = {}
    if "ms_ssim" in names:
        pyramid = PYRAMIDS.get(key, lambda: reference_pyramid(original, device))
        out["ms_ssim"] = [float(v) for batch in _batches(decoded, device) for v in ms_ssim_against(pyramid, batch)]
    if "lpips" in names:
        from bench.metrics.lpips_features import lpips_against, reference_features  # loads a model: only when asked

        features = FEATURES.get(key, lambda: reference_features(original, device))
        out["lpips"] = [float(v) for batch in _batches(decoded, device) for v in lpips_against(features, batch, device)]
    return out


def _batches(decoded: Sequence[np.ndarray], device: str) -> Iterator[torch.Tensor]:
    """The decoded images as N×3×H×W tensors of at most ``BATCH_PIXELS`` pixels (one image at least)."""
    height, width = decoded[0].shape[:2]
    per_batch = max(1, BATCH_PIXELS // (height * width))
    for start in range(0, len(decoded), per_batch):
        yield to_batch(list(decoded[start:start + per_batch]), device)
