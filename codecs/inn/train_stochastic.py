"""Training for the ILC and probabilistic-decoding codecs: ``bench train ilc-teacher|ilc|probdec``.

* ``ilc-teacher``: the Ballé 2017 baseline (CompressAI ``FactorizedPrior``, ``teacher_filters``
  filters, 256 latent channels), loss ``teacher_lambda``·255²·MSE + bpp.
* ``ilc``: the IEM with the loss of eq. (7), ``lambdas`` = [λ1, λ2, λ3, λ4] (see ``ilc_loss``);
  ``teacher`` names the teacher's weights: its g_a gives the distillation target and its
  factorised prior initialises ILC's (as the paper does). Without a teacher λ4 has no effect.
* ``probdec``: eq. (10) with ``lmbda`` on the rate and ``distortion_weight`` on the mode's MSE,
  in the paper's two stages (§5.1): first ``cdf97_steps`` steps with the transform fixed to the
  CDF 9/7 wavelet (the lifting residuals held at zero) so that the entropy model and the
  synthesis networks are initialised on it, in ``<out>/cdf97``; then the whole model jointly in
  ``<out>``, starting from the first stage's weights, at ``joint_lr`` when given (else ``lr``).
  Both stages resume from their own checkpoints; ``max_seconds`` bounds the two together.

The loop (optimisers, crops, checkpoints, resuming) is ``bench_codecs.inn.optimise.fit``, shared
with ``bench_codecs.inn.train``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from bench_codecs.inn.coding import load_state_dict
from bench_codecs.inn.ilc import ILC, PAPER_KERNELS, PAPER_WIDTHS, ilc_loss, teacher
from bench_codecs.inn.probdec import ProbDec, probdec_loss
from bench_codecs.inn.optimise import TrainingRun, atomic_save, export_half, fit, train_from_cli

MODELS = ("ilc-teacher", "ilc", "probdec")


@dataclass
class StochasticConfig(TrainingRun):
    """ILC (and its teacher) or probdec training: ``model`` is one of ``MODELS``."""

    # ILC and its teacher
    widths: list = field(default_factory=lambda: list(PAPER_WIDTHS))
    kernels: list = field(default_factory=lambda: list(PAPER_KERNELS))
    blocks: int = 2
    lambdas: list = field(default_factory=lambda: [0.0130, 1.0, 1.0, 0.01])
    teacher: str | None = None
    teacher_filters: int = 256
    teacher_lambda: float = 0.0130
    haar: str = "orthonormal"  # ILC's Haar: orthonormal, or average (÷4, §III-A); docs/inn-ilc-probdec.md compares them
    # probabilistic decoding
    levels: int = 4
    lift_hidden: int = 16
    hidden: int = 32
    lmbda: float = 1.0
    distortion_weight: float = 0.02
    step: float = 64.0
    context_size: int = 5
    context_hidden: int = 32
    components: int = 3
    cdf97_steps: int = 0
    joint_lr: float = 0.0  # learning rate of the joint stage after the CDF 9/7 stage; 0: ``lr``


def build(config: StochasticConfig) -> torch.nn.Module:
    if config.model == "ilc":
        return ILC(tuple(config.widths), tuple(config.kernels), config.blocks, haar=config.haar)
    if config.model == "ilc-teacher":
        return teacher(config.teacher_filters)
    if config.model == "probdec":
        return ProbDec(config.levels, config.lift_hidden, config.hidden, config.step, config.context_size,
                       config.context_hidden, config.components)
    raise ValueError(f"unknown model {config.model!r}; choose one of {', '.join(MODELS)}")


def load_teacher(path: str, device: str) -> torch.nn.Module:
    state = load_state_dict(Path(path))
    model = teacher(int(state["g_a.0.weight"].shape[0]), int(state["g_a.6.weight"].shape[0]))
    model.load_state_dict(state)
    return model.to(device).eval().requires_grad_(False)


def loss_terms(model: torch.nn.Module, x: torch.Tensor, config: StochasticConfig,
               teacher_model: torch.nn.Module | None) -> dict[str, torch.Tensor]:
    if config.model == "ilc":
        return ilc_loss(model, x, teacher_model, tuple(config.lambdas))
    if config.model == "probdec":
        return probdec_loss(model, x, config.lmbda, config.distortion_weight)
    out = model(x)
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    bpp = sum(torch.log(l).sum() for l in out["likelihoods"].values()) / (-math.log(2) * pixels)
    mse = ((out["x_hat"] - x) ** 2).mean()
    return {"loss": config.teacher_lambda * 255**2 * mse + bpp, "bpp": bpp, "mse": mse}


def train_probdec(config: StochasticConfig, log=print) -> Path:
    """The two stages of §5.1; each resumes from its own checkpoint. Returns the checkpoint path."""
    out = Path(config.out)
    stage1 = out / "cdf97"
    started = time.monotonic()
    joint_started = (out / "checkpoint.pt").is_file()
    if config.cdf97_steps > 0 and not joint_started:
        first = replace(config, out=str(stage1), steps=config.cdf97_steps)
        log(f"stage 1 (§5.1): transform fixed to CDF 9/7, {config.cdf97_steps} steps, in {stage1}")

        def frozen() -> torch.nn.Module:
            model = build(first)
            model.transform.frozen_residuals(True)
            return model

        checkpoint = fit(first, frozen, lambda model, x: loss_terms(model, x, first, None), log)
        done = int(torch.load(checkpoint, map_location="cpu", weights_only=True)["step"])
        if done < config.cdf97_steps:
            return checkpoint  # stopped by max_seconds inside stage 1; the next call resumes it
        init = stage1 / "stage1-weights.pt"
        if not init.is_file():
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
            atomic_save(state, init)
        config = replace(config, init=str(init))
        if config.max_seconds:
            config = replace(config, max_seconds=max(1.0, config.max_seconds - (time.monotonic() - started)))
        log(f"stage 2: joint training from {init}")
    if config.cdf97_steps > 0 and config.joint_lr:
        config = replace(config, lr=config.joint_lr)
    return fit(config, lambda: build(config), lambda model, x: loss_terms(model, x, config, None), log)


def train(config: StochasticConfig, log=print) -> Path:
    """Train (resuming from ``<out>/checkpoint.pt`` when present); returns the checkpoint path."""
    if config.model == "probdec":
        return train_probdec(config, log)
    teacher_model: torch.nn.Module | None = None

    def make_model() -> torch.nn.Module:
        # The teacher is built after the model so that the seeded initialisation stays as it was.
        nonlocal teacher_model
        model = build(config)
        if config.model == "ilc" and config.teacher:
            teacher_model = load_teacher(config.teacher, config.device)
        return model

    def prior_from_teacher(model: torch.nn.Module) -> None:
        # The paper initialises the IEM's entropy model with the trained teacher's prior.
        if teacher_model is None:
            return
        prior = {k.removeprefix("entropy_bottleneck."): v for k, v in teacher_model.state_dict().items()
                 if k.startswith("entropy_bottleneck.") and not k.endswith(("_quantized_cdf", "_offset", "_cdf_length"))}
        model.entropy_bottleneck.load_state_dict(prior, strict=False)
        log(f"entropy model initialised from the teacher {config.teacher}")

    return fit(config, make_model, lambda model, x: loss_terms(model, x, config, teacher_model), log,
               fresh_start=prior_from_teacher)


def export(checkpoint: Path, target: Path, model_name: str) -> Path:
    """Codec weights: entropy tables computed from the float16-rounded weights, a plain state dict."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    if model_name == "ilc-teacher":
        model = teacher(int(state["g_a.0.weight"].shape[0]), int(state["g_a.6.weight"].shape[0]))
    else:
        model_class = ILC if model_name == "ilc" else ProbDec
        model = model_class(**model_class.config_from_state_dict(state))
    model.load_state_dict(state)
    # Entropy-model buffers and the quantisation steps stay float32 (float16 would move them).
    return export_half(model, target, keep_float32=("_quantized_cdf", "_offset", "_cdf_length", "bound",
                                                    "scale_table", "log_step", "quant_step"))


#: ILC's optimiser as §IV and Appendix VI give it (IEM 1e-4, entropy model 1e-3, eq. (8) decay
#: from step 100 000 with γ = 0.999995), and its teacher's ("different learning rates on the
#: convolutional auto-encoder and the entropy model": 1e-4 and 1e-3): ``bench train ilc``
#: uses these for whatever ``--set`` leaves out.
ILC_PAPER_OPTIMISER = {"lr": 1e-4, "entropy_lr": 1e-3, "lr_decay_start": 100_000, "lr_decay": 0.999995}


def run_from_cli(model: str, options: dict) -> None:
    """Entry point of ``bench train``: train, then export the codec weights when asked."""
    if model in ("ilc", "ilc-teacher"):
        options = {**ILC_PAPER_OPTIMISER, **options}
    train_from_cli(StochasticConfig, model, options, train,
                   lambda checkpoint, target, config: export(checkpoint, target, config.model))
