"""Training of Qmap (Song et al. 2021), behind ``bench train qmap``.

The authors' recipe (their ``train.py``, ``dataset.py``, ``losses.py``): crops with random
horizontal flips, one quality map per crop, the pixel-wise loss
mean(λ(q)·255²·(x − x̂)²) + bpp with λ(q) = 1e-3·e^{4.382 q}, Adam at 1e-4 on the networks and
1e-3 on the entropy bottleneck (their auxiliary optimiser holds all of its parameters; here
``entropy_lr``), gradients clipped at norm 1. Their maps, with p = 0.2: uniform levels
U(0, 1.01) (1 % exactly 0) with probability p, one level per segmentation class with
probability p (no segmentation maps here, so one uniform level per crop:
``iat_maps.sample_training_map``'s ``classwise_p``), a linear gradient with probability p and
1–20 Gaussian blobs otherwise. The loop is ``bench_codecs.inn.optimise.fit``; the exported
weights are a plain half-precision state dict in the authors' layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from bench_codecs.inn.iat_maps import sample_training_maps
from bench_codecs.inn.optimise import TrainingRun, export_half, fit, train_from_cli
from bench_codecs.inn.qmap import MIN_LATENT, STRIDE, TAU, THETA, SpatiallyAdaptiveCompression, lagrangian

#: The authors' ``p`` (configs/config.yaml).
AUTHORS_P = 0.2


@dataclass
class QmapTrainConfig(TrainingRun):
    """Qmap training; the defaults of N, prior_nc and sft_hidden are the demo's small model."""

    N: int = 64
    prior_nc: int = 16
    sft_hidden: int = 32
    sft_ks: int = 3
    theta: float = THETA
    tau: float = TAU
    map_p: float = AUTHORS_P

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.N % 4 or not 4 <= self.N <= 1024 or not 1 <= self.prior_nc <= 1024 or not 1 <= self.sft_hidden <= 1024:
            raise ValueError(f"N = {self.N}, prior_nc = {self.prior_nc}, sft_hidden = {self.sft_hidden}: N must be a "
                             "multiple of 4 in [4, 1024], the widths in [1, 1024]")
        if self.crop % STRIDE or self.crop < MIN_LATENT * STRIDE:
            raise ValueError(f"crop = {self.crop}: a multiple of {STRIDE}, at least {MIN_LATENT * STRIDE} (z of "
                             f"{MIN_LATENT} × {MIN_LATENT}, the smallest the analysis's reflect padding takes)")
        if not 0 <= self.map_p <= 1 / 3:
            raise ValueError(f"map_p = {self.map_p!r}: the uniform, class-wise and gradient shares together are 3·map_p ≤ 1")


def build(config: QmapTrainConfig) -> SpatiallyAdaptiveCompression:
    return SpatiallyAdaptiveCompression(N=config.N, M=config.N, sft_ks=config.sft_ks, prior_nc=config.prior_nc,
                                        sft_hidden=config.sft_hidden)


def training_maps(x: torch.Tensor, config: QmapTrainConfig) -> torch.Tensor:
    """One B×1×H×W quality map per crop from the authors' distribution."""
    maps, _ = sample_training_maps(x.shape[0], x.shape[2], x.shape[3], config.map_p, classwise_p=config.map_p)
    return maps.to(x.device)


def rate_distortion_loss(model: torch.nn.Module, x: torch.Tensor, config: QmapTrainConfig,
                         qmap: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The authors' ``PixelwiseRateDistortionLoss`` on one batch (maps drawn unless given)."""
    qmap = training_maps(x, config) if qmap is None else qmap
    out = model(x, qmap)
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    bpp = sum(torch.log(l).sum() for l in out["likelihoods"].values()) / (-math.log(2) * pixels)
    squared_error = (out["x_hat"] - x) ** 2
    distortion = 255 ** 2 * (lagrangian(qmap, config.theta, config.tau) * squared_error).mean()
    return {"loss": distortion + bpp, "bpp": bpp, "mse": squared_error.mean(), "level": qmap.mean()}


def train(config: QmapTrainConfig, log=print) -> Path:
    """Train (resuming from ``<out>/checkpoint.pt`` when present); returns the checkpoint path."""
    return fit(config, lambda: build(config), lambda model, x: rate_distortion_loss(model, x, config), log)


def export(checkpoint: Path, target: Path) -> Path:
    """Weights for the codec: CDF tables computed, half precision, a plain state dict."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    model = SpatiallyAdaptiveCompression.from_state_dict(state)
    return export_half(model, target, keep_float32=("_quantized_cdf", "_offset", "_cdf_length", "bound"))


def run_from_cli(model: str, options: dict) -> None:
    """Entry point of ``bench train qmap``: train, then export the codec weights if asked."""
    train_from_cli(QmapTrainConfig, model, options, train, lambda checkpoint, target, config: export(checkpoint, target))
