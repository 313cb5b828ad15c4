"""LPIPS-alex split into the reference's side and the decoded image's side.

``lpips.LPIPS.forward`` runs AlexNet on both images on every call. The reference's unit-normalised
features do not depend on the decoded image, so ``reference_features`` computes them once and
``lpips_against`` runs AlexNet on the decoded images only, then does the rest of LPIPS's forward
(squared difference, linear heads, spatial mean, sum over layers) with the same operations in
the same order, so the value equals ``lpips_distance``'s to float32 rounding (tested to 1e-6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from lpips import normalize_tensor

from bench.metrics.lpips_alex import lpips_model
from bench.metrics.msssim import to_tensor


@dataclass(frozen=True)
class ReferenceFeatures:
    """A reference image's AlexNet features, unit-normalised over channels, one tensor per layer."""

    shape: tuple[int, ...]
    layers: tuple[torch.Tensor, ...]


def to_lpips_input(images: torch.Tensor) -> torch.Tensor:
    """N×3×H×W float32 in [0, 255] -> [−1, 1], as ``lpips_distance`` maps its inputs."""
    return images / 127.5 - 1.0


def _normalised_features(model: torch.nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    outputs = model.net.forward(model.scaling_layer(to_lpips_input(images)))
    return [normalize_tensor(output) for output in outputs]


@torch.no_grad()
def reference_features(original: np.ndarray, device: str = "cpu") -> ReferenceFeatures:
    """The reference side of LPIPS: one AlexNet pass, normalised features kept per layer."""
    image = to_tensor(original, device)
    return ReferenceFeatures(tuple(image.shape), tuple(_normalised_features(lpips_model(device), image)))


@torch.no_grad()
def lpips_against(features: ReferenceFeatures, decoded: torch.Tensor, device: str = "cpu") -> torch.Tensor:
    """LPIPS of each decoded image (N×3×H×W float32 in [0, 255]) against the reference: N values."""
    if tuple(decoded.shape[1:]) != features.shape[1:]:
        raise ValueError(f"reference is {features.shape}, decoded images are {tuple(decoded.shape)}")
    model = lpips_model(device)
    pairs = zip(features.layers, _normalised_features(model, decoded))
    terms = [model.lins[layer]((ref - feat) ** 2).mean([2, 3], keepdim=True) for layer, (ref, feat) in enumerate(pairs)]
    value = terms[0]  # LPIPS sums from 0 + terms[0], which is terms[0] exactly
    for term in terms[1:]:
        value = value + term
    return value.flatten()
