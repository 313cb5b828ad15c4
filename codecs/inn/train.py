"""Training loop for the INN codecs, behind ``bench train invcompress|iat``.

Losses: InvCompress λ·255²·MSE + bpp (CompressAI's λ per quality); IAT the tensor-λ loss
mean(λ(L)·255²·(x − x̂)²) + bpp with a random uniform level L per sample and λ(L) = θ·e^{τL}.
Adam on the network, a second Adam on the entropy bottleneck's quantiles (auxiliary loss),
random crops with flips, checkpoints written atomically every ``save_every`` steps and resumed
from automatically; the exported weights are a plain state dict (``weights_only`` loadable),
half precision to keep demo files small.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from bench_codecs.inn.coding import load_state_dict
from bench_codecs.inn.iat import THETA_PAPER, TAU, InvCompressIAT, lagrangian
from bench_codecs.inn.invcompress import InvCompress

#: CompressAI's λ for MSE models, quality 1..8.
COMPRESSAI_LAMBDAS = (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm")


@dataclass
class TrainConfig:
    model: str  # "invcompress" or "iat"
    data: list[str]
    out: str
    N: int = 64
    enh_channels: int = 16
    coupling_hidden: int | None = 32
    iat_hidden: int | None = 64  # None: 2 × the modulated channels (the authors' width)
    quality: int = 3  # InvCompress: index into COMPRESSAI_LAMBDAS
    theta: float = THETA_PAPER
    tau: float = TAU
    crop: int = 128
    batch: int = 4
    steps: int = 1000
    lr: float = 1e-4
    aux_lr: float = 1e-3
    save_every: int = 25
    seed: int = 0
    threads: int = 0
    device: str = "cpu"
    extra: dict = field(default_factory=dict)
    init: str | None = None  # weights to start from (a state dict in the model's layout) when no checkpoint exists


class RandomCrops:
    """Random crops (with horizontal flips) of the images under some folders; never looks at names."""

    def __init__(self, folders: list[str], crop: int, seed: int) -> None:
        self.files = sorted(p for f in folders for p in Path(f).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"no training images under {folders}")
        self.crop = crop
        self.rng = random.Random(seed)
        self._cache: dict[Path, np.ndarray] = {}

    def _image(self, path: Path) -> np.ndarray:
        if path not in self._cache:
            self._cache[path] = np.asarray(Image.open(path).convert("RGB"))
        return self._cache[path]

    def batch(self, size: int) -> torch.Tensor:
        crops = []
        for _ in range(size):
            image = self._image(self.rng.choice(self.files))
            h, w = image.shape[:2]
            top, left = self.rng.randrange(h - self.crop + 1), self.rng.randrange(w - self.crop + 1)
            crop = image[top:top + self.crop, left:left + self.crop]
            crops.append(crop[:, ::-1] if self.rng.random() < 0.5 else crop)
        return torch.from_numpy(np.ascontiguousarray(np.stack(crops))).permute(0, 3, 1, 2).float().div(255)


def build(config: TrainConfig) -> torch.nn.Module:
    common = {"N": config.N, "enh_channels": config.enh_channels, "coupling_hidden": config.coupling_hidden}
    if config.model == "iat":
        return InvCompressIAT(iat_hidden=config.iat_hidden, **common)
    if config.model == "invcompress":
        return InvCompress(**common)
    raise ValueError(f"unknown model {config.model!r}; choose invcompress or iat")


def rate_distortion_loss(model: torch.nn.Module, x: torch.Tensor, config: TrainConfig) -> dict[str, torch.Tensor]:
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    if config.model == "iat":
        level = torch.rand(x.shape[0], 1, 1, 1, device=x.device)
        out = model(x, level)
        weight = lagrangian(level, config.theta, config.tau)
    else:
        out = model(x)
        weight = torch.tensor(COMPRESSAI_LAMBDAS[config.quality - 1], device=x.device)
    bpp = sum(torch.log(l).sum() for l in out["likelihoods"].values()) / (-math.log(2) * pixels)
    mse_per_sample = ((out["x_hat"] - x) ** 2).mean(dim=(1, 2, 3), keepdim=True)
    distortion = (weight * 255**2 * mse_per_sample).mean()
    return {"loss": distortion + bpp, "bpp": bpp, "mse": mse_per_sample.mean()}


def _atomic_save(obj: object, path: Path) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train(config: TrainConfig, log=print) -> Path:
    """Train (resuming from ``<out>/checkpoint.pt`` when present); returns the checkpoint path."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = build(config).to(config.device).train()
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
    crops = RandomCrops(config.data, config.crop, config.seed + step)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=1))
    while step < config.steps:
        start = time.perf_counter()
        x = crops.batch(config.batch).to(config.device)
        optimizer.zero_grad()
        aux_optimizer.zero_grad()
        terms = rate_distortion_loss(model, x, config)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        aux = model.aux_loss()
        aux.backward()
        aux_optimizer.step()
        step += 1
        log(f"step {step} loss {terms['loss'].item():.4f} bpp {terms['bpp'].item():.4f} "
            f"psnr {-10 * math.log10(max(terms['mse'].item(), 1e-10)):.2f} aux {aux.item():.1f} "
            f"s/step {time.perf_counter() - start:.1f}")
        if step % config.save_every == 0 or step == config.steps:
            _atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "aux_optimizer": aux_optimizer.state_dict(), "step": torch.tensor(step)}, checkpoint)
    return checkpoint


def export(checkpoint: Path, target: Path, model_name: str) -> Path:
    """Weights for the codec: CDF tables computed, half precision, a plain state dict."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    model_class = InvCompressIAT if model_name == "iat" else InvCompress
    model = model_class(**model_class.config_from_state_dict(state))
    model.load_state_dict(state)
    model.eval().update(force=True)
    # Round through float16 first, so the CDF tables are computed from exactly the weights shipped.
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in half.items()})
    model.update(force=True)
    # The entropy models' bounds stay float32: float16 would round the 1e-9 likelihood bound to 0.
    keep = ("_quantized_cdf", "_offset", "_cdf_length", "bound")
    half = {k: (v.half() if v.is_floating_point() and not k.endswith(keep) else v) for k, v in model.state_dict().items()}
    _atomic_save(half, target)
    return target


def run_from_cli(model: str, options: dict) -> None:
    """Entry point of ``bench train``: train, then export the codec weights next to the checkpoint."""
    options = dict(options)
    export_to = options.pop("export", None)
    log_path = Path(options["out"]) / "train.log"
    Path(options["out"]).mkdir(parents=True, exist_ok=True)
    config = TrainConfig(model=model, **options)
    with open(log_path, "a") as log_file:
        def log(line: str) -> None:
            print(line, flush=True)
            log_file.write(line + "\n")
            log_file.flush()

        checkpoint = train(config, log)
    if export_to:
        export(checkpoint, Path(export_to), model)
