"""Training of a fixed-rate CompressAI zoo architecture, behind ``bench train mbt2018-mean`` (etc.).

The zoo's published weights cannot always be downloaded (an offline machine), and seeded random
weights reconstruct nothing, so a study of how a VAE codec behaves (re-encoding drift, speed)
needs some trained weights. This trains the zoo architecture at a chosen size on random crops
with CompressAI's loss, λ·255²·MSE + bpp at the λ of a zoo quality, through the project's one
training loop (``bench_codecs.inn.optimise.fit``: resuming, checkpoints, aux loss, non-finite
steps skipped). The export is a half-precision plain state dict with CDF tables, which the zoo
codec loads through ``params.checkpoints``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from compressai.models import CompressionModel

from bench_codecs.compressai_codecs.models import FIXED_RATE
from bench.config import options
from bench_codecs.inn.optimise import Log, LossTerms, TrainingRun, export_half, fit, train_from_cli
from bench_codecs.inn.train import COMPRESSAI_LAMBDAS


#: The zoo architectures built from two widths, N and M (Cheng 2020 takes N alone).
TRAINABLE = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018")


@dataclass
class ZooTrainConfig(TrainingRun):
    """A zoo architecture's training: its two widths and the zoo quality whose λ it trains at."""

    N: int = 64
    M: int = 96
    quality: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("N", "M"):
            options.number(getattr(self, name), f"--set {name}", low=1, high=4096, integer=True)
        options.number(self.quality, "--set quality", low=1, high=len(COMPRESSAI_LAMBDAS), integer=True)


def build(config: ZooTrainConfig) -> CompressionModel:
    """The zoo architecture ``config.model`` with ``N`` and ``M`` channels."""
    if config.model not in TRAINABLE:
        raise ValueError(f"no trainer for {config.model!r}; choose one of {', '.join(TRAINABLE)}")
    return FIXED_RATE[config.model](N=config.N, M=config.M)


def rate_distortion_loss(model: CompressionModel, x: torch.Tensor, config: ZooTrainConfig) -> LossTerms:
    """CompressAI's examples/train.py loss: λ·255²·MSE + bpp, λ the zoo's for ``quality``."""
    out = model(x)
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    bpp = sum(torch.log(l).sum() for l in out["likelihoods"].values()) / (-math.log(2) * pixels)
    mse = torch.mean((out["x_hat"] - x) ** 2)
    return {"loss": COMPRESSAI_LAMBDAS[config.quality - 1] * 255**2 * mse + bpp, "bpp": bpp, "mse": mse}


def export(checkpoint: Path, target: Path, config: ZooTrainConfig) -> Path:
    """The trained weights as the zoo codec reads them: CDF tables computed, half precision."""
    model = build(config)
    model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True)["model"])
    return export_half(model, target, keep_float32=("_quantized_cdf", "_offset", "_cdf_length", "_cdf_lengths",
                                                    "bound", "scale_table"))


def train(config: ZooTrainConfig, log: Log) -> Path:
    """Train the zoo architecture ``config.model`` on CompressAI's loss; the checkpoint's path."""
    return fit(config, lambda: build(config), lambda m, x: rate_distortion_loss(m, x, config), log)


def run_from_cli(model: str, settings: dict) -> None:
    """Entry point of ``bench train ARCH``: train, then export next to the checkpoint when asked."""
    train_from_cli(ZooTrainConfig, model, settings, train, export)
