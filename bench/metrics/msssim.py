"""MS-SSIM with pytorch-msssim, the implementation CompressAI's evaluations use."""

from __future__ import annotations

import numpy as np
import torch
from pytorch_msssim import ms_ssim as _ms_ssim


def to_tensor(image: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """H×W×3 uint8 -> 1×3×H×W float32 in [0, 255]."""
    return torch.tensor(image, dtype=torch.float32, device=device).permute(2, 0, 1)[None]


@torch.no_grad()
def ms_ssim(original: np.ndarray, decoded: np.ndarray, device: str = "cpu") -> float:
    """MS-SSIM (5 scales, Gaussian σ 1.5, window 11, data range 255), mean over channels."""
    return float(_ms_ssim(to_tensor(original, device), to_tensor(decoded, device), data_range=255.0))
