"""Training mechanics shared by every learned codec of the project (``bench train ...``).

The models differ only in how they are built and in their loss; everything else is one loop,
so that resuming, checkpointing and export behave the same for all of them: Adam on the
networks, a second Adam on the entropy bottlenecks' quantiles (CompressAI's auxiliary loss),
random crops with flips, gradient clipping at norm 1, checkpoints written atomically every
``save_every`` steps and resumed from ``<out>/checkpoint.pt`` automatically, steps with a
non-finite loss or gradient skipped before the optimiser sees them (and the run stopped when
that keeps happening), and an optional wall-time limit after which the checkpoint is saved and
the loop ends.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image

from bench.config import options
from bench.errors import ConfigError, TrainingError
from bench_codecs.inn.coding import load_state_dict

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm")
#: Parameter-name prefixes of the entropy models (``entropy_lr``).
ENTROPY_MODULES = ("entropy_bottleneck.", "gaussian_conditional.")
#: Consecutive non-finite losses or gradients after which training stops instead of skipping on.
MAX_NON_FINITE = 20

Log = Callable[[str], None]
TrainingRunT = TypeVar("TrainingRunT", bound="TrainingRun")
LossTerms = dict[str, torch.Tensor]


class RandomCrops:
    """Random crops (with horizontal flips) of the images under some folders; never looks at names."""

    def __init__(self, folders: list[str], crop: int, seed: int) -> None:
        self.files = training_images(folders, crop)
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


def training_images(folders: list[str], crop: int) -> list[Path]:
    """The image files under ``folders``, each checked by ``_check_size``; none is one line."""
    files = sorted(p for f in folders for p in Path(f).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ConfigError(f"--data {' '.join(folders)}: no training images ({', '.join(IMAGE_SUFFIXES)}) there; "
                          "pass a folder of training images")
    for path in files:
        _check_size(path, crop)
    return files


def _check_size(path: Path, crop: int) -> None:
    """Each training image readable and at least ``crop`` pixels each way, read from its header
    before the first step: a smaller one would fail deep inside a batch, steps later."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ConfigError(f"--data: {path} is not a readable image ({type(exc).__name__}); move it out of the "
                          "training folder") from None
    if width < crop or height < crop:
        raise ConfigError(f"--data: {path} is {width}×{height}, smaller than the {crop}×{crop} training crop; "
                          "remove it or pass --set crop=N with N at most its sides")


def training_config(cls: type[TrainingRunT], model: str, options: dict[str, Any]) -> TrainingRunT:
    """``bench train``'s options as ``cls``: an unknown key or a value of the wrong type or range
    is one line naming ``--set KEY`` and what it takes, never a TypeError from the dataclass."""
    known = {f.name for f in fields(cls)} - {"model"}
    unknown = sorted(set(options) - known)
    if unknown:
        settable = sorted(known - {"data", "out", "steps"})
        raise ConfigError(f"--set {unknown[0]}: not an option of the {model} trainer; options: {', '.join(settable)}")
    try:
        config = cls(model=model, **options)
    except ValueError as exc:
        raise ConfigError(f"--set {exc}") from None
    training_images(config.data, config.crop)
    return config


def atomic_save(obj: object, path: Path) -> None:
    """``torch.save`` to a temporary name, then rename: a killed run never leaves half a file."""
    tmp = path.with_name(f".tmp-{path.name}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


@dataclass
class TrainingRun:
    """The settings every learned codec's training shares; each trainer subclasses it with its
    model's own fields, so ``bench train … --set KEY=VALUE`` validates against one dataclass."""

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
    threads: int = 0  # torch threads; 0 keeps torch's default (all cores)
    device: str = "cpu"
    init: str | None = None  # weights to start from (a state dict in the model's layout) when no checkpoint exists
    max_seconds: float = 0.0  # stop (checkpoint saved) after this much wall time; 0: no limit
    entropy_lr: float = 0.0  # learning rate of the entropy models' networks; 0: ``lr`` (one parameter group)
    lr_decay_start: int = 0  # eq. (8) of ILC: from this step on both rates are × lr_decay per step; 0: no decay
    lr_decay: float = 1.0

    def __post_init__(self) -> None:
        """Every shared setting within its range: a zero batch or a NaN learning rate would
        otherwise fail steps into a run, or train on nothing."""
        for name, low, high in (("crop", 16, 2 ** 16), ("batch", 1, 2 ** 16), ("steps", 1, 10 ** 9),
                                ("save_every", 1, 10 ** 9), ("seed", 0, 2 ** 63 - 1), ("threads", 0, 4096),
                                ("lr_decay_start", 0, 10 ** 9)):
            options.number(getattr(self, name), f"--set {name}", low=low, high=high, integer=True)
        for name in ("lr", "aux_lr"):
            options.number(getattr(self, name), f"--set {name}", above=0, high=1)
        options.number(self.entropy_lr, "--set entropy_lr", low=0, high=1)
        options.number(self.max_seconds, "--set max_seconds", low=0)
        options.number(self.lr_decay, "--set lr_decay", above=0, high=1)


def parameter_groups(model: torch.nn.Module, config: TrainingRun) -> list[dict]:
    """Adam's parameter groups: one at ``lr``, or (``entropy_lr`` set) the entropy models' own
    parameters apart, at ``entropy_lr`` (ILC §IV trains the two at 1e-4 and 1e-3)."""
    networks = [(n, p) for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    if not config.entropy_lr:
        return [{"params": [p for _, p in networks], "lr": config.lr}]
    entropy = [p for n, p in networks if n.startswith(ENTROPY_MODULES)]
    rest = [p for n, p in networks if not n.startswith(ENTROPY_MODULES)]
    return [{"params": rest, "lr": config.lr}, {"params": entropy, "lr": config.entropy_lr}]


def decayed(initial: float, step: int, config: TrainingRun) -> float:
    """ILC eq. (8): lr_i = lr_init · γ^(i − start) once step i passes ``lr_decay_start``."""
    if not config.lr_decay_start or step <= config.lr_decay_start:
        return initial
    return initial * config.lr_decay ** (step - config.lr_decay_start)


def fit(config: TrainingRun, make_model: Callable[[], torch.nn.Module], loss: Callable[[torch.nn.Module, torch.Tensor], LossTerms],
        log: Log, fresh_start: Callable[[torch.nn.Module], None] | None = None) -> Path:
    """Train ``make_model()`` on ``loss`` (terms ``loss``, ``bpp``, ``mse`` and any others to log).

    Without a checkpoint the model starts from ``config.init`` when given, else
    ``fresh_start(model)`` may initialise it.
    Returns the checkpoint path.
    """
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = make_model().to(config.device).train()
    parameters = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    quantiles = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    groups = parameter_groups(model, config)
    initial_lrs = [group["lr"] for group in groups]
    optimizer = torch.optim.Adam(groups)
    # Models without entropy bottlenecks (no quantiles) get no auxiliary optimiser.
    aux_optimizer = torch.optim.Adam(quantiles, lr=config.aux_lr) if quantiles else None
    checkpoint = out / "checkpoint.pt"
    step = 0
    if checkpoint.is_file():
        state = torch.load(checkpoint, map_location=config.device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if aux_optimizer is not None:
            aux_optimizer.load_state_dict(state["aux_optimizer"])
        step = int(state["step"])
        log(f"resumed at step {step}")
    elif config.init:
        model.load_state_dict(load_state_dict(Path(config.init)))
        log(f"initialised from {config.init}")
    elif fresh_start is not None:
        fresh_start(model)
    crops = RandomCrops(config.data, config.crop, config.seed + step)
    (out / "config.json").write_text(json.dumps(asdict(config), indent=1))
    max_seconds = config.max_seconds
    started, non_finite = time.monotonic(), 0
    while step < config.steps:
        start = time.perf_counter()
        x = crops.batch(config.batch).to(config.device)
        for group, initial in zip(optimizer.param_groups, initial_lrs):
            group["lr"] = decayed(initial, step + 1, config)
        optimizer.zero_grad()
        if aux_optimizer is not None:
            aux_optimizer.zero_grad()
        terms = loss(model, x)
        # A finite loss can still have a non-finite gradient (a near-singular inverse in the
        # backward pass); one such optimiser step would turn every weight into NaN for good.
        what = "loss" if not torch.isfinite(terms["loss"]) else None
        if what is None:
            terms["loss"].backward()
            if not torch.isfinite(torch.nn.utils.clip_grad_norm_(parameters, 1.0)):
                what = "gradient"
        if what is not None:
            non_finite += 1
            log(f"step {step + 1} skipped: non-finite {what}")
            if non_finite > MAX_NON_FINITE:
                raise TrainingError(f"training stopped before step {step + 1}: more than {MAX_NON_FINITE} consecutive "
                                    f"non-finite losses or gradients; {checkpoint} holds the last saved step; "
                                    "lower the learning rate (--set lr=...) and run the same command to resume")
            continue
        non_finite = 0
        optimizer.step()
        aux = model.aux_loss()
        if aux_optimizer is not None:
            aux.backward()
            aux_optimizer.step()
        step += 1
        log(_step_line(step, terms, aux.item(), time.perf_counter() - start))
        out_of_time = bool(max_seconds) and time.monotonic() - started > max_seconds
        if step % config.save_every == 0 or step == config.steps or out_of_time:
            atomic_save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "aux_optimizer": aux_optimizer.state_dict() if aux_optimizer is not None else {},
                         "step": torch.tensor(step)}, checkpoint)
        if out_of_time:
            log(f"stopped at step {step}: max_seconds={max_seconds:g} reached")
            break
    return checkpoint


def _step_line(step: int, terms: LossTerms, aux: float, seconds: float) -> str:
    psnr = -10 * math.log10(max(terms["mse"].item(), 1e-10))
    fields = [f"step {step}", f"loss {terms['loss'].item():.4f}", f"bpp {terms['bpp'].item():.4f}", f"psnr {psnr:.2f}"]
    fields += [f"{k} {v.item():.4f}" for k, v in terms.items() if k not in ("loss", "bpp", "mse")]
    fields += [f"aux {aux:.1f}", f"s/step {seconds:.2f}"]
    return " ".join(fields)


def export_half(model: torch.nn.Module, target: Path, keep_float32: tuple[str, ...]) -> Path:
    """Save ``model`` (eval mode) as a half-precision plain state dict with its CDF tables.

    The weights are rounded through float16 first, so the CDF tables are computed from exactly
    the weights shipped. Buffers whose names end with ``keep_float32`` stay float32: float16
    would, for example, round the entropy models' 1e-9 likelihood bound to 0.
    """
    model.eval().update(force=True)
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in half.items()})
    model.update(force=True)
    shipped = {k: (v.half() if v.is_floating_point() and not k.endswith(keep_float32) else v)
               for k, v in model.state_dict().items()}
    atomic_save(shipped, target)
    return target


def train_from_cli(config_class: type[TrainingRunT], model: str, options: dict[str, Any],
                   train: Callable[[TrainingRunT, Log], Path],
                   export: Callable[[Path, Path, TrainingRunT], Path]) -> None:
    """What every ``bench train`` entry point does: the ``export`` option set aside, the rest
    checked as ``config_class`` (``training_config``: one line per bad ``--set``), the run trained
    under its log, then ``export(checkpoint, target, config)`` when an export target was given."""
    options = dict(options)
    export_to = options.pop("export", None)
    config = training_config(config_class, model, options)
    with training_log(Path(config.out)) as log:
        checkpoint = train(config, log)
    if export_to:
        export(checkpoint, Path(export_to), config)


@contextlib.contextmanager
def training_log(out: Path) -> Iterator[Log]:
    """A log function that prints each line and appends it to ``<out>/train.log``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "train.log", "a") as log_file:
        def log(line: str) -> None:
            print(line, flush=True)
            log_file.write(line + "\n")
            log_file.flush()

        yield log
