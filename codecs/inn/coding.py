"""What every learned codec shares: safe checkpoint loading, padding, and the bitstream format.

Bitstream: a 14-byte header — format version (1 B), flags (1 B), original height and width
(2 × uint16), z height and width (2 × uint16), rate value (float32) — then the length of the y
string (uint32) and the y and z strings. Every byte of it counts towards bpp.
"""

from __future__ import annotations

import hashlib
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.errors import CodecFailure, CodecUnavailable

FORMAT_VERSION = 1
HEADER = struct.Struct(">BBHHHHf")
LENGTH = struct.Struct(">I")
#: INN codecs downsample by 2⁴ in the INN and 2² more in the hyperprior.
PAD_MULTIPLE = 64


@dataclass(frozen=True)
class Bitstream:
    height: int
    width: int
    z_shape: tuple[int, int]
    rate: float
    y_string: bytes
    z_string: bytes

    def pack(self) -> bytes:
        header = HEADER.pack(FORMAT_VERSION, 0, self.height, self.width, *self.z_shape, self.rate)
        return header + LENGTH.pack(len(self.y_string)) + self.y_string + self.z_string

    @classmethod
    def unpack(cls, data: bytes) -> "Bitstream":
        if len(data) < HEADER.size + LENGTH.size:
            raise CodecFailure(f"bitstream of {len(data)} bytes is shorter than its header")
        version, _, height, width, zh, zw, rate = HEADER.unpack_from(data)
        if version != FORMAT_VERSION:
            raise CodecFailure(f"bitstream format {version}, this decoder reads {FORMAT_VERSION}")
        (y_length,) = LENGTH.unpack_from(data, HEADER.size)
        start = HEADER.size + LENGTH.size
        return cls(height, width, (zh, zw), rate, data[start:start + y_length], data[start + y_length:])


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from ``path`` with ``torch.load(weights_only=True)``; one-line errors.

    Accepts a bare state dict or a training checkpoint holding one under ``state_dict``;
    strips DataParallel's ``module.`` prefix; casts half-precision weights to float32.
    """
    path = Path(path)
    if not path.is_file():
        raise CodecUnavailable(f"{path}: checkpoint not found; set the codec's checkpoint in bench.toml")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CodecUnavailable(
            f"{path}: refused to unpickle ({first}); bench loads checkpoints with weights_only=True, "
            "re-save it as a plain state dict of tensors"
        ) from None
    except (RuntimeError, EOFError, OSError) as exc:
        raise CodecUnavailable(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})") from None
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CodecUnavailable(f"{path}: expected a state dict of tensors")
    return {k.removeprefix("module."): (v.float() if v.dtype == torch.float16 else v) for k, v in state.items()}


def build_model(model_class: type, path: Path) -> torch.nn.Module:
    """Instantiate ``model_class`` from the checkpoint's own shapes and load it, strictly."""
    state = load_state_dict(path)
    try:
        model = model_class(**model_class.config_from_state_dict(state))
        model.load_state_dict(state)
    except (KeyError, RuntimeError) as exc:
        message = " ".join(str(exc).split())
        raise CodecUnavailable(
            f"{path}: does not match the {model_class.__name__} layout ({message[:300]})"
        ) from None
    model.eval()
    if model.entropy_bottleneck._quantized_cdf.numel() == 0:  # trained weights without CDF tables
        model.update(force=True)
    return model


def to_padded_tensor(image: np.ndarray, device: str) -> torch.Tensor:
    """uint8 H×W×3 (or float32 in [0, 255], a carried reconstruction) → 1×3×H'×W' in [0, 1],
    padded to a multiple of 64 by edge replication.

    Replication (not zeros) keeps the padded border smooth, so it costs few bits; the decoder
    crops it off, and bpp is computed on the original size. The input is copied because images
    handed over by the harness may be read-only arrays, which torch warns about.
    """
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float().div(255).to(device)
    height, width = image.shape[:2]
    pad_h, pad_w = (-height) % PAD_MULTIPLE, (-width) % PAD_MULTIPLE
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x


def to_uint8(x_hat: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Crop the padding and round to 8 bits, as a decoded file would be."""
    x_hat = x_hat[0, :, :height, :width].clamp(0, 1)
    return x_hat.mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def to_float255(x_hat: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Crop the padding and clip, without rounding: float32 in [0, 255] (``to_uint8`` rounds this)."""
    x_hat = x_hat[0, :, :height, :width].clamp(0, 1)
    return x_hat.mul(255).permute(1, 2, 0).contiguous().cpu().numpy().astype(np.float32)


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CodecUnavailable(f"device {name!r} requested but torch sees no CUDA device")
    return name
