"""Training for the ILC and probabilistic-decoding codecs: ``bench train ilc-teacher|ilc|probdec``.

* ``ilc-teacher``: the Ballé 2017 baseline (CompressAI ``FactorizedPrior``, ``teacher_filters``
  filters, 256 latent channels), loss ``teacher_lambda``·255²·MSE + bpp.
* ``ilc``: the IEM with the loss of eq. (7), ``lambdas`` = [λ1, λ2, λ3, λ4] (see ``ilc_loss``);
  ``teacher`` names the teacher's weights: its g_a gives the distillation target and its
  factorised prior initialises ILC's (as the paper does). Without a teacher λ4 has no effect.
* ``probdec``: eq. (10) with ``lmbda`` on the rate and ``distortion_weight`` on the mode's MSE.

Same mechanics as ``bench_codecs.inn.train``: Adam on the networks, a second Adam on the
entropy bottleneck's quantiles, random crops with flips, atomic checkpoints every
``save_every`` steps, resumed automatically from ``<out>/checkpoint.pt``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from bench_codecs.inn.coding import load_state_dict
from bench_codecs.inn.ilc import ILC, PAPER_KERNELS, PAPER_WIDTHS, ilc_loss, teacher
from bench_codecs.inn.probdec import ProbDec, probdec_loss
from bench_codecs.inn.train import RandomCrops, _atomic_save

MODELS = ("ilc-teacher", "ilc", "probdec")


@dataclass
class StochasticConfig:
    model: str
    data: list[str]
    out: str
    crop: int = 128
    batch: int = 4
    steps: int = 1000
    lr: float = 1e-4
    aux_lr: float = 1e-3
    save_every: int = 25
    seed: int = 0
    threads: int = 1
    device: str = "cpu"
    init: str | None = None
    max_seconds: float = 0.0  # stop (checkpoint saved) after this much wall time; 0: no limit
    # ILC and its teacher
    widths: list = field(default_factory=lambda: list(PAPER_WIDTHS))
    kernels: list = field(default_factory=lambda: list(PAPER_KERNELS))
    blocks: int = 2
    lambdas: list = field(default_factory=lambda: [0.0130, 1.0, 1.0, 0.01])
    teacher: str | None = None
    teacher_filters: int = 256
    teacher_lambda: float = 0.0130
    # probabilistic decoding
    levels: int = 4
    lift_hidden: int = 16
    hidden: int = 32
    lmbda: float = 1.0
    distortion_weight: float = 0.02
    step_ll: float = 4.0
    step_detail: float = 8.0


def build(config: StochasticConfig) -> torch.nn.Module:
    if config.model == "ilc":
        return ILC(tuple(config.widths), tuple(config.kernels), config.blocks)
    if config.model == "ilc-teacher":
        return teacher(config.teacher_filters)
    if config.model == "probdec":
        return ProbDec(config.levels, config.lift_hidden, config.hidden, config.step_ll, config.step_detail)
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


def train(config: StochasticConfig, log=print) -> Path:
    """Train (resuming from ``<out>/checkpoint.pt`` when present); returns the checkpoint path."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = build(config).to(config.device).train()
    teacher_model = load_teacher(config.teacher, config.device) if config.model == "ilc" and config.teacher else None
    parameters = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    quantiles = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    optimizer = torch.optim.Adam(parameters, lr=config.lr)
    aux_optimizer = torch.optim.Adam(quantiles, lr=config.aux_lr)
    checkpoint = out / "checkpoint.pt"
    step = 0
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location=config.device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        aux_optimizer.load_state_dict(state["aux_optimizer"])
        step = int(state["step"])
        log(f"resumed at step {step}")
    elif config.init:
        model.load_state_dict(load_state_dict(Path(config.init)))
        log(f"initialised from {config.init}")
    elif teacher_model is not None:
        # The paper initialises the IEM's entropy model with the trained teacher's prior.
        prior = {k.removeprefix("entropy_bottleneck."): v for k, v in teacher_model.state_dict().items()
                 if k.startswith("entropy_bottleneck.") and not k.endswith(("_quantized_cdf", "_offset", "_cdf_length"))}
        model.entropy_bottleneck.load_state_dict(prior, strict=False)
        log(f"entropy model initialised from the teacher {config.teacher}")
    crops = RandomCrops(config.data, config.crop, config.seed + step)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=1))
    started, skipped = time.monotonic(), 0
    while step < config.steps:
        start = time.perf_counter()
        x = crops.batch(config.batch).to(config.device)
        optimizer.zero_grad()
        aux_optimizer.zero_grad()
        terms = loss_terms(model, x, config, teacher_model)
        if not torch.isfinite(terms["loss"]):
            skipped += 1
            log(f"step {step + 1} skipped: non-finite loss")
            if skipped > 20:
                raise RuntimeError("more than 20 consecutive non-finite losses; lower the learning rate")
            continue
        skipped = 0
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        aux = model.aux_loss()
        aux.backward()
        aux_optimizer.step()
        step += 1
        extra = " ".join(f"{k} {v.item():.4f}" for k, v in terms.items() if k not in ("loss", "bpp", "mse"))
        log(f"step {step} loss {terms['loss'].item():.4f} bpp {terms['bpp'].item():.4f} "
            f"psnr {-10 * math.log10(max(terms['mse'].item(), 1e-10)):.2f} {extra} aux {aux.item():.1f} "
            f"s/step {time.perf_counter() - start:.2f}")
        out_of_time = bool(config.max_seconds) and time.monotonic() - started > config.max_seconds
        if step % config.save_every == 0 or step == config.steps or out_of_time:
            _atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "aux_optimizer": aux_optimizer.state_dict(), "step": torch.tensor(step)}, checkpoint)
        if out_of_time:
            log(f"stopped at step {step}: max_seconds={config.max_seconds:g} reached")
            break
    return checkpoint


def export(checkpoint: Path, target: Path, model_name: str) -> Path:
    """Codec weights: entropy tables computed from the float16-rounded weights, a plain state dict."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    if model_name == "ilc-teacher":
        model = teacher(int(state["g_a.0.weight"].shape[0]), int(state["g_a.6.weight"].shape[0]))
    else:
        model_class = ILC if model_name == "ilc" else ProbDec
        model = model_class(**model_class.config_from_state_dict(state))
    model.load_state_dict(state)
    model.eval().update(force=True)
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in half.items()})
    model.update(force=True)
    # Entropy-model buffers and the quantisation steps stay float32 (float16 would move them).
    keep = ("_quantized_cdf", "_offset", "_cdf_length", "bound", "scale_table", "log_step")
    half = {k: (v.half() if v.is_floating_point() and not k.endswith(keep) else v) for k, v in model.state_dict().items()}
    _atomic_save(half, target)
    return target


def run_from_cli(model: str, options: dict) -> None:
    """Entry point of ``bench train``: train, then export the codec weights when asked."""
    options = dict(options)
    export_to = options.pop("export", None)
    Path(options["out"]).mkdir(parents=True, exist_ok=True)
    config = StochasticConfig(model=model, **options)
    with open(Path(options["out"]) / "train.log", "a") as log_file:
        def log(line: str) -> None:
            print(line, flush=True)
            log_file.write(line + "\n")
            log_file.flush()

        checkpoint = train(config, log)
    if export_to:
        export(checkpoint, Path(export_to), model)
