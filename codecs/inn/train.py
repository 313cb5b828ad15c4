"""Training loop for the INN codecs, behind ``bench train invcompress|iat``.

Losses: InvCompress λ·255²·MSE + bpp (CompressAI's λ per quality); IAT the pixel-wise loss
mean(λ(L)·255²·(x − x̂)²) + bpp with λ(L) = θ·e^{τL} and a quality map L per crop drawn from the
authors' distribution (uniform, gradient or Gaussian-blob maps: ``iat_maps.sample_training_maps``;
``maps = "uniform"`` draws one uniform level per crop instead, as this project did before).
The loop itself (optimisers, crops, checkpoints, resuming) is ``bench_codecs.inn.optimise.fit``;
the exported weights are a plain state dict (``weights_only`` loadable), half precision to keep
demo files small.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from bench_codecs.inn.iat import TAU, THETA, InvCompressIAT, lagrangian
from bench_codecs.inn.iat_maps import AUTHORS_P, sample_training_maps
from bench_codecs.inn.invcompress import InvCompress
from bench_codecs.inn.optimise import TrainingRun, export_half, fit, train_from_cli

#: CompressAI's λ for MSE models, quality 1..8.
COMPRESSAI_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)
#: IAT training-map distributions (``TrainConfig.maps``).
MAP_DISTRIBUTIONS = ("authors", "uniform")


@dataclass
class TrainConfig(TrainingRun):
    """InvCompress/IAT training: ``model`` is "invcompress" or "iat"."""

    N: int = 64
    enh_channels: int = 16
    coupling_hidden: int | None = 32
    iat_hidden: int | None = 64  # None: 2 × the modulated channels (the authors' width)
    quality: int = 3  # InvCompress: index into COMPRESSAI_LAMBDAS
    theta: float = THETA
    tau: float = TAU
    maps: str = "authors"  # IAT quality maps: "authors" (uniform/gradient/Gaussian) or "uniform" (one level per crop)
    map_p: float = AUTHORS_P  # "authors": probability of a uniform and of a gradient map each

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.maps not in MAP_DISTRIBUTIONS:
            raise ValueError(f"maps = {self.maps!r}: choose one of {', '.join(MAP_DISTRIBUTIONS)}")
        if not 0 <= self.map_p <= 0.5:
            raise ValueError(f"map_p = {self.map_p!r}: the uniform and gradient shares together are 2·map_p ≤ 1")


def build(config: TrainConfig) -> torch.nn.Module:
    common = {"N": config.N, "enh_channels": config.enh_channels, "coupling_hidden": config.coupling_hidden}
    if config.model == "iat":
        return InvCompressIAT(iat_hidden=config.iat_hidden, **common)
    if config.model == "invcompress":
        return InvCompress(**common)
    raise ValueError(f"unknown model {config.model!r}; choose invcompress or iat")


def rate_distortion_loss(model: torch.nn.Module, x: torch.Tensor, config: TrainConfig) -> dict[str, torch.Tensor]:
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    extra = {}
    if config.model == "iat":
        level = training_levels(x, config)
        out = model(x, level)
        weight = lagrangian(level, config.theta, config.tau)  # B×1×1×1 or B×1×H×W: per pixel
        extra["level"] = level.mean()
    else:
        out = model(x)
        weight = torch.tensor(COMPRESSAI_LAMBDAS[config.quality - 1], device=x.device)
    bpp = sum(torch.log(l).sum() for l in out["likelihoods"].values()) / (-math.log(2) * pixels)
    squared_error = (out["x_hat"] - x) ** 2
    distortion = (weight * 255**2 * squared_error).mean()
    return {"loss": distortion + bpp, "bpp": bpp, "mse": squared_error.mean(), **extra}


def training_levels(x: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """The quality maps of one IAT batch: B×1×H×W from the authors' distribution, or B×1×1×1
    uniform levels U(0, 1) for ``maps = "uniform"``."""
    if config.maps == "uniform":
        return torch.rand(x.shape[0], 1, 1, 1, device=x.device)
    return sample_training_maps(x.shape[0], x.shape[2], x.shape[3], config.map_p)[0].to(x.device)


def train(config: TrainConfig, log=print) -> Path:
    """Train (resuming from ``<out>/checkpoint.pt`` when present); returns the checkpoint path."""
    return fit(config, lambda: build(config), lambda model, x: rate_distortion_loss(model, x, config), log)


def export(checkpoint: Path, target: Path, model_name: str) -> Path:
    """Weights for the codec: CDF tables computed, half precision, a plain state dict."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    model_class = InvCompressIAT if model_name == "iat" else InvCompress
    model = model_class(**model_class.config_from_state_dict(state))
    model.load_state_dict(state)
    return export_half(model, target, keep_float32=("_quantized_cdf", "_offset", "_cdf_length", "bound"))


def run_from_cli(model: str, options: dict) -> None:
    """Entry point of ``bench train``: train, then export the codec weights when asked."""
    train_from_cli(TrainConfig, model, options, train,
                   lambda checkpoint, target, config: export(checkpoint, target, config.model))
