"""Building a CompressAI model from a checkpoint, and driving it the way ``eval_model`` does.

``compressai.utils.eval_model`` is the reference every learned-codec paper measures with, so the
padding (zeros, centred, to a multiple of 64), the variable-rate calls and the CDF update follow
it line for line: the same weights then give the same strings (tests/test_compressai_parity.py).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from compressai.models import CompressionModel
from compressai.ops import compute_padding
from compressai.zoo import image, image_vbr
from compressai.zoo import load_state_dict as zoo_rename

from bench.errors import CodecUnavailable, ConfigError, one_line
from bench_codecs.inn.coding import load_state_dict

#: The zoo's image models by their zoo names (the ReLU variant of bmshj2018 has no published weights).
FIXED_RATE = {k: v for k, v in image.model_architectures.items() if "_" not in k}
VARIABLE_RATE = dict(image_vbr.model_architectures)
#: Variable-rate models whose hyperprior bottleneck is itself variable-rate: its CDFs depend on
#: the rate, so eval_model updates them for each one (``update(force=True, scale=…)``).
VARIABLE_BOTTLENECK = ("bmshj2018-hyperprior-vbr", "mbt2018-mean-vbr")
#: Padding of eval_model: the models downsample by 2⁶ at most.
PAD_MULTIPLE = 64


def architecture_class(spec: str, where: str) -> type[CompressionModel]:
    """The model class ``spec`` names: a zoo name, or ``package.module:Class`` (any CompressionModel)."""
    if spec in FIXED_RATE or spec in VARIABLE_RATE:
        return {**FIXED_RATE, **VARIABLE_RATE}[spec]
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ConfigError(f"{where} = {spec!r}: expected a zoo name ({', '.join([*FIXED_RATE, *VARIABLE_RATE])}) "
                          "or package.module:Class")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise CodecUnavailable(f"{where} = {spec!r}: cannot be imported ({one_line(exc, 200)}); "
                               "is its package installed in this environment?") from None
    if not (isinstance(cls, type) and issubclass(cls, CompressionModel)):
        raise ConfigError(f"{where} = {spec!r}: not a subclass of compressai.models.CompressionModel")
    if not hasattr(cls, "from_state_dict"):
        raise ConfigError(f"{where} = {spec!r}: has no from_state_dict(state_dict) classmethod to build it "
                          "from a checkpoint's shapes; add one as CompressAI's models have")
    return cls


def needs_cdf_update(state: dict[str, torch.Tensor]) -> bool:
    """Whether a checkpoint's entropy models lack CDF tables: saved by a training script before
    ``update()``, as CompressAI's examples/train.py does. The model computes them on load."""
    return any(k.endswith("._quantized_cdf") and v.numel() == 0 for k, v in state.items())


def read_state(path: Path, where: str) -> dict[str, torch.Tensor]:
    """The checkpoint's state dict (weights_only=True), renamed as the zoo's loader renames it
    (``module.`` and older layer names); the model's load_state_dict maps old bottleneck names."""
    return zoo_rename(load_state_dict(path, where, rename=False))


@dataclass
class LoadedModel:
    """A model ready to code, and the variable-rate scale its CDFs were last computed for."""

    model: CompressionModel
    architecture: str
    cdf_updated: bool
    last_scale: float | None = None

    @property
    def variable_rate(self) -> bool:
        return self.architecture in VARIABLE_RATE

    def vbr_arguments(self, quant_step: float) -> dict:
        """The keyword arguments of compress()/decompress() for a quantisation step, after
        recomputing the rate-dependent CDFs if the last call used another step (eval_model's order)."""
        device = next(self.model.parameters()).device  # eval_model: a float32 tensor of 1/step, on the model's device
        scale = torch.tensor(1.0 / quant_step, device=device)
        if self.architecture in VARIABLE_BOTTLENECK and self.last_scale != float(scale):
            self.model.update(force=True, scale=scale)
            self.last_scale = float(scale)
        return {"stage": 2, "s": 0, "inputscale": scale}


def build(architecture: str, cls: type[CompressionModel], path: Path, where: str, device: str) -> LoadedModel:
    """``cls`` built from the checkpoint at ``path`` (one-line errors), in eval mode on ``device``."""
    state = read_state(path, where)
    shown = f"{where} = {one_line(str(path), 200)}"
    updating = needs_cdf_update(state)
    try:
        if architecture in VARIABLE_BOTTLENECK:
            model = cls.from_state_dict(state, vr_entbttlnck=True)
        else:
            model = cls.from_state_dict(state)
    except (KeyError, IndexError, ValueError, TypeError, RuntimeError, AttributeError) as exc:
        raise CodecUnavailable(f"{shown}: does not match the {cls.__name__} layout ({one_line(exc, 300)})") from None
    if architecture in VARIABLE_RATE:
        model.no_quantoffset = False  # as eval_model sets them
        if architecture == "mbt2018-vbr":
            model.scl2ctx = True
    if updating and architecture not in VARIABLE_BOTTLENECK:  # those update for every rate
        model.update(force=True)
    return LoadedModel(model.eval().to(device), architecture, updating)


def pad(x: torch.Tensor) -> torch.Tensor:
    """Zero padding, centred, to a multiple of 64: eval_model's, so the strings match its strings."""
    padding, _ = compute_padding(x.shape[-2], x.shape[-1], min_div=PAD_MULTIPLE)
    return F.pad(x, padding, mode="constant", value=0)


def unpad(x_hat: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The reconstruction of the original ``height × width`` area (the padding cropped)."""
    _, inverse = compute_padding(height, width, min_div=PAD_MULTIPLE)
    return F.pad(x_hat, inverse)
