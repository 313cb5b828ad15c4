"""MS-SSIM with pytorch-msssim's semantics, the implementation CompressAI's evaluations use.

``ms_ssim`` calls pytorch-msssim itself. ``reference_pyramid`` + ``ms_ssim_against`` compute the
same value split in two: everything that depends only on the reference (its pyramid, and per scale
its local mean μx, μx² and local variance σx²) is computed once and reused for every decoded image
of that reference, so each decoded image costs only its own side and the cross term. The split
path does pytorch-msssim's float32 operations in pytorch-msssim's order, so the two agree to
float32 rounding (tested to 1e-6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim import ms_ssim as _ms_ssim
from pytorch_msssim.ssim import gaussian_filter

#: pytorch-msssim 1.0 defaults: per-scale weights, window, stabilising constants for range 255.
WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN_SIZE, WIN_SIGMA, DATA_RANGE = 11, 1.5, 255.0
C1, C2 = (0.01 * DATA_RANGE) ** 2, (0.03 * DATA_RANGE) ** 2
#: pytorch-msssim asserts the smaller side exceeds this (four halvings of the 11-tap window).
MIN_SIDE_EXCLUSIVE = (WIN_SIZE - 1) * 2 ** (len(WEIGHTS) - 1)


def to_tensor(image: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """H×W×3 uint8 -> 1×3×H×W float32 in [0, 255]."""
    return torch.tensor(image, dtype=torch.float32, device=device).permute(2, 0, 1)[None]


def to_batch(images: list[np.ndarray], device: str = "cpu") -> torch.Tensor:
    """N H×W×3 uint8 images of one shape -> N×3×H×W float32 in [0, 255]."""
    return torch.tensor(np.stack(images), dtype=torch.float32, device=device).permute(0, 3, 1, 2)


@torch.no_grad()
def ms_ssim(original: np.ndarray, decoded: np.ndarray, device: str = "cpu") -> float:
    """MS-SSIM (5 scales, Gaussian σ 1.5, window 11, data range 255), mean over channels."""
    return float(_ms_ssim(to_tensor(original, device), to_tensor(decoded, device), data_range=DATA_RANGE))


def _window(channels: int, device: torch.device) -> torch.Tensor:
    """pytorch-msssim's 1-D Gaussian window, one row per channel (grouped convolution)."""
    coords = torch.arange(WIN_SIZE, dtype=torch.float) - WIN_SIZE // 2
    g = torch.exp(-(coords**2) / (2 * WIN_SIGMA**2))
    g /= g.sum()
    return g.reshape(1, 1, 1, WIN_SIZE).repeat(channels, 1, 1, 1).to(device)


def _downsample(x: torch.Tensor) -> torch.Tensor:
    """2×2 average with pytorch-msssim's padding (one zero each side of an odd dimension)."""
    return F.avg_pool2d(x, kernel_size=2, padding=[s % 2 for s in x.shape[2:]])


@dataclass(frozen=True)
class Scale:
    """The reference at one scale: its pixels, μx, μx² and σx² (Gaussian-weighted)."""

    x: torch.Tensor
    mu: torch.Tensor
    mu_sq: torch.Tensor
    sigma_sq: torch.Tensor


@dataclass(frozen=True)
class ReferencePyramid:
    """Everything MS-SSIM needs from one reference image, finest scale first."""

    scales: tuple[Scale, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.scales[0].x.shape)


@torch.no_grad()
def reference_pyramid(original: np.ndarray, device: str = "cpu") -> ReferencePyramid:
    """The reference side of MS-SSIM, as pytorch-msssim computes it per call."""
    if min(original.shape[:2]) <= MIN_SIDE_EXCLUSIVE:
        raise ValueError(f"Image size should be larger than {MIN_SIDE_EXCLUSIVE} due to the 4 downsamplings in ms-ssim")
    x = to_tensor(original, device)
    win = _window(x.shape[1], x.device)
    scales = []
    for level in range(len(WEIGHTS)):
        if level:
            x = _downsample(x)
        mu = gaussian_filter(x, win)
        mu_sq = mu.pow(2)
        scales.append(Scale(x, mu, mu_sq, gaussian_filter(x * x, win) - mu_sq))
    return ReferencePyramid(tuple(scales))


@torch.no_grad()
def ms_ssim_against(pyramid: ReferencePyramid, decoded: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of each decoded image (N×3×H×W float32 in [0, 255]) against the reference: N values.

    The decoded side (μy, σy²) and the cross term (σxy) are filtered in one grouped convolution
    of the three stacked inputs: the same per-channel filter as three separate calls.
    """
    if tuple(decoded.shape[1:]) != pyramid.shape[1:]:
        raise ValueError(f"Input images should have the same dimensions, but got {pyramid.shape} and {tuple(decoded.shape)}.")
    channels = decoded.shape[1]
    win = _window(3 * channels, decoded.device)
    weights = decoded.new_tensor(WEIGHTS)
    y = decoded
    mcs = []
    for level, ref in enumerate(pyramid.scales):
        if level:
            y = _downsample(y)
        mu_y, yy, xy = gaussian_filter(torch.cat([y, y * y, ref.x * y], dim=1), win).split(channels, dim=1)
        mu_y_sq = mu_y.pow(2)
        mu_xy = ref.mu * mu_y
        sigma_y_sq = yy - mu_y_sq
        sigma_xy = xy - mu_xy
        cs_map = (2 * sigma_xy + C2) / (ref.sigma_sq + sigma_y_sq + C2)
        if level < len(pyramid.scales) - 1:
            mcs.append(torch.relu(torch.flatten(cs_map, 2).mean(-1)))
        else:
            ssim_map = ((2 * mu_xy + C1) / (ref.mu_sq + mu_y_sq + C1)) * cs_map
            mcs.append(torch.relu(torch.flatten(ssim_map, 2).mean(-1)))
    per_channel = torch.prod(torch.stack(mcs, dim=0) ** weights.view(-1, 1, 1), dim=0)
    return per_channel.mean(1)
