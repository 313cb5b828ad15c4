"""What every learned codec shares: safe checkpoint loading, padding, and the bitstream format.

Bitstream: a 14-byte header — format version (1 B), flags (1 B), original height and width
(2 × uint16), z height and width (2 × uint16), rate value (float32) — then the length of the y
string (uint32) and the y and z strings. Every byte of it counts towards bpp.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.errors import CodecFailure, CodecUnavailable, one_line

FORMAT_VERSION = 1
HEADER = struct.Struct(">BBHHHHf")
LENGTH = struct.Struct(">I")
#: INN codecs downsample by 2⁴ in the INN and 2² more in the hyperprior.
PAD_MULTIPLE = 64
#: Largest image a bitstream header may declare, in pixels (8192 × 8192): decoders allocate
#: latents and feature maps from the header before reading a symbol, so an edited or corrupt
#: header must fail here, not after gigabytes of allocation.
MAX_DECODE_PIXELS = 8192 * 8192


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
    def of_compressed(cls, height: int, width: int, rate: float, out: dict) -> "Bitstream":
        """The stream of one image's ``model.compress()`` output (its ``shape`` and its y and z
        strings), for an image of ``height × width`` coded at ``rate``."""
        return cls(height, width, tuple(out["shape"]), rate, out["strings"][0][0], out["strings"][1][0])

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


def check_latent_shape(codec: str, height: int, width: int, shape: tuple[int, int], stride: int,
                       minimum: int = 1) -> None:
    """CodecFailure unless the header's image size is within MAX_DECODE_PIXELS and its latent
    ``shape`` is the image padded to ``stride`` (and to ``minimum`` latents each way), divided by
    it: the only shape the encoder writes."""
    if height == 0 or width == 0 or height * width > MAX_DECODE_PIXELS:
        raise CodecFailure(f"{codec}: bitstream header declares a {width}×{height} image, outside 1 … "
                           f"{MAX_DECODE_PIXELS:,} pixels")
    expected = (max(minimum, -(-height // stride)), max(minimum, -(-width // stride)))
    if tuple(shape) != expected:
        raise CodecFailure(f"{codec}: bitstream header declares {shape[0]}×{shape[1]} latents for a {width}×{height} "
                           f"image, which has {expected[0]}×{expected[1]} (stride {stride})")


#: Largest checkpoint bench reads or hashes: the papers' models are a few hundred MB, and a path
#: pointing at something huge (a disk image, a dataset archive) must fail at once, not after
#: minutes of hashing or a MemoryError.
MAX_CHECKPOINT_BYTES = 2 * 1024 ** 3
#: Most a checkpoint archive's members may declare, as a multiple of the file's own size (plus
#: 1 MiB for tiny files). ``torch.save`` stores members uncompressed, so their declared sizes add
#: up to about the file's size; a compressed member far larger than its file is a zip bomb that
#: ``torch.load`` would inflate into memory (973 kB to 2 GB) before anything else is checked.
MAX_INFLATION = 4

#: Buffers CompressAI resizes to the checkpoint's own shape when loading (CDF tables).
RESIZED_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")

#: Entropy-bottleneck parameter names before CompressAI 1.2: ``_biases.N`` (CompressAI 1.0's
#: ParameterLists) and ``_biasN`` (1.1), likewise for matrices and factors; 1.2 names them
#: ``biases.N``. ``compressai.zoo.pretrained.rename_key`` maps only the first to the second and
#: reads one digit of N; this maps both to 1.2's names, for any N.
OLD_BOTTLENECK_NAME = re.compile(r"^(.*entropy_bottleneck)\._(matrix|matrices|bias|biases|factor|factors)\.?(\d+)$")
PLURAL = {"matrix": "matrices", "bias": "biases", "factor": "factors"}

#: Keys under which training scripts nest the weights: CompressAI's examples and InvCompress save
#: ``state_dict``, HiFi-VRIC's IAT training script saves ``model``; CompressAI's eval_model also
#: reads ``network`` and ``model_state_dict``. A file holding several gives the first here its
#: weights: eval_model's precedence (its last match wins) among the keys it reads.
NESTING_KEYS = ("model_state_dict", "state_dict", "network", "model")


def check_regular_file(path: Path, shown: str, error: type[Exception], *, max_bytes: int, what: str,
                       missing: str, irregular: str, directory: str | None = None) -> None:
    """Raise ``error("<shown>: <problem>")`` unless ``path`` is a readable regular file of at most
    ``max_bytes`` (``what`` names it in the size message: "a checkpoint").

    Checked before any read or hash, because reading a missing path, a directory, a FIFO (blocks
    for ever) or a device such as /dev/zero (reads until MemoryError) gives a traceback or a
    hang instead of a line naming the setting to change. ``missing`` and ``irregular`` say what to
    do instead of a missing file and of anything that is not a regular file (``directory``, when
    given, instead of a directory).
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{shown}: {missing}") from None
    except OSError as exc:
        raise error(f"{shown}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if directory is not None and stat.S_ISDIR(info.st_mode):
        raise error(f"{shown}: {directory}")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{shown}: {irregular}")
    if info.st_size > max_bytes:
        raise error(f"{shown}: {info.st_size:,} bytes, above the {max_bytes:,}-byte limit for {what}; "
                    "is this the right file?")
    if not os.access(path, os.R_OK):
        raise error(f"{shown}: not readable (permissions)")


def check_checkpoint(path: str | Path, where: str = "checkpoint") -> Path:
    """``path`` if it is a readable regular file of at most MAX_CHECKPOINT_BYTES, else
    CodecUnavailable naming ``where``, the setting to change (``codec 'iat': params.checkpoint``)."""
    path = Path(path)
    check_regular_file(path, f"{where} = {one_line(str(path), 200)}", CodecUnavailable,
                       max_bytes=MAX_CHECKPOINT_BYTES, what="a checkpoint",
                       missing="no such file; point it at a checkpoint file in bench.toml",
                       directory="is a directory; point it at the checkpoint file inside",
                       irregular="is not a regular file (a FIFO, socket or device); point it at a checkpoint file")
    return path


def checkpoint_sha256(path: str | Path, where: str = "checkpoint") -> str:
    """SHA-256 of a checked checkpoint, read in chunks (a large one never sits in memory twice)."""
    with open(check_checkpoint(path, where), "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def load_state_dict(path: Path, where: str = "checkpoint", rename: bool = True) -> dict[str, torch.Tensor]:
    """A state dict from ``path`` with ``torch.load(weights_only=True)``; one-line errors.

    Accepts the authors' layouts unchanged: a bare state dict, or one nested under ``state_dict``
    or ``model`` (see NESTING_KEYS); DataParallel's ``module.`` prefix; CompressAI's pre-1.2
    entropy-bottleneck names (``rename=False`` keeps them: CompressAI's own models map old names
    themselves, and its variable-rate bottleneck still uses 1.1's). Half-precision weights are
    cast to float32.
    """
    path = check_checkpoint(path, where)
    shown = f"{where} = {one_line(str(path), 200)}"
    check_declared_sizes(path, shown)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CodecUnavailable(
            f"{shown}: refused to unpickle ({one_line(first, 200)}); bench loads checkpoints with weights_only=True, "
            "re-save it as a plain state dict of tensors"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CodecUnavailable(f"{shown}: not a readable torch checkpoint ({one_line(exc, 200)})") from None
    state = unwrap_state_dict(loaded)
    if state is None:
        found = sorted(map(str, loaded)) if isinstance(loaded, dict) else []
        what = f"found top-level keys {one_line(str(found[:12]), 300)}" if found else f"found a {type(loaded).__name__}"
        raise CodecUnavailable(f"{shown}: expected a state dict of tensors, bare or under "
                               f"{nesting_keys_text()}; {what}")
    return {(rename_key(k) if rename else k): (v.float() if v.dtype == torch.float16 else v) for k, v in state.items()}


def check_declared_sizes(path: Path, shown: str) -> None:
    """Refuse a zip checkpoint (torch's format) whose members declare more bytes than
    MAX_CHECKPOINT_BYTES or MAX_INFLATION times the file, from the central directory alone:
    nothing is inflated. A file that is not a zip (torch's legacy format) is left to torch.load."""
    size = path.stat().st_size
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a zip: torch.load reads the legacy format or says it is unreadable
    limit = min(MAX_CHECKPOINT_BYTES, MAX_INFLATION * size + (1 << 20))
    if declared > limit:
        raise CodecUnavailable(f"{shown}: its zip members declare {declared:,} bytes from a {size:,}-byte file "
                               f"(limit {limit:,}; torch.save stores members uncompressed); refused before "
                               "inflating anything: is this the right file?")


def nesting_keys_text() -> str:
    """NESTING_KEYS in words: "'model_state_dict', 'state_dict', 'network' or 'model'"."""
    quoted = [repr(k) for k in NESTING_KEYS]
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def unwrap_state_dict(loaded: object) -> dict[str, torch.Tensor] | None:
    """The dict of tensors in ``loaded``: itself, or under one of NESTING_KEYS; None when neither."""
    for candidate in (loaded, *(loaded.get(k) for k in NESTING_KEYS if isinstance(loaded, dict))):
        if isinstance(candidate, dict) and candidate and all(
                isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in candidate.items()):
            return candidate
    return None


def rename_key(key: str) -> str:
    """A parameter name in this CompressAI's (1.2) terms: no ``module.``, new bottleneck names."""
    key = key.removeprefix("module.")
    match = OLD_BOTTLENECK_NAME.match(key)
    if match:
        module, name, index = match.groups()
        key = f"{module}.{PLURAL.get(name, name)}.{index}"
    return key


def build_model(model_class: type, path: Path, where: str = "checkpoint") -> torch.nn.Module:
    """Instantiate ``model_class`` from the checkpoint's own shapes and load it, strictly.

    A tensor of the wrong shape is named (key, file, expected and found shape) before loading,
    since PyTorch's and CompressAI's own errors for it are multi-line or bare (IndexError).
    """
    state = load_state_dict(path, where)
    shown = f"{where} = {one_line(str(path), 200)}"
    try:
        model = model_class(**model_class.config_from_state_dict(state))
    except KeyError as exc:
        raise CodecUnavailable(f"{shown}: does not match the {model_class.__name__} layout "
                               f"(no tensor {one_line(str(exc.args[0]) if exc.args else '', 120)})") from None
    except (IndexError, ValueError, TypeError, RuntimeError, AttributeError) as exc:
        raise CodecUnavailable(f"{shown}: does not match the {model_class.__name__} layout ({one_line(exc, 300)})") from None
    check_shapes(model, state, shown)
    try:
        model.load_state_dict(state)
    except (KeyError, IndexError, ValueError, RuntimeError) as exc:
        raise CodecUnavailable(f"{shown}: does not match the {model_class.__name__} layout ({one_line(exc, 300)})") from None
    model.eval()
    bottleneck = getattr(model, "entropy_bottleneck", None)  # models with per-symbol mixtures have none
    if bottleneck is not None and bottleneck._quantized_cdf.numel() == 0:  # trained weights without CDF tables
        model.update(force=True)
    return model


def check_shapes(model: torch.nn.Module, state: dict[str, torch.Tensor], shown: str) -> None:
    """CodecUnavailable naming the first missing, unexpected or wrongly shaped tensor of ``state``."""
    expected = model.state_dict()
    name = type(model).__name__
    for key, tensor in state.items():
        if key in expected and key.rsplit(".", 1)[-1] not in RESIZED_BUFFERS and tensor.shape != expected[key].shape:
            raise CodecUnavailable(f"{shown}: tensor {key} has shape {tuple(tensor.shape)}, the {name} built from "
                                   f"this file expects {tuple(expected[key].shape)}")
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    for keys, what in ((missing, "lacks"), (unexpected, "has unexpected")):
        if keys:
            more = f" and {len(keys) - 1} more" if len(keys) > 1 else ""
            raise CodecUnavailable(f"{shown}: does not match the {name} layout: {what} tensor {one_line(keys[0], 120)}{more}")


def padded_size(height: int, width: int, minimum: int = PAD_MULTIPLE) -> tuple[int, int]:
    """The size an image is padded to: the next multiple of PAD_MULTIPLE, at least ``minimum``."""
    return (max(minimum, -(-height // PAD_MULTIPLE) * PAD_MULTIPLE),
            max(minimum, -(-width // PAD_MULTIPLE) * PAD_MULTIPLE))


def to_padded_tensor(image: np.ndarray, device: str, minimum: int = PAD_MULTIPLE) -> torch.Tensor:
    """uint8 H×W×3 (or float32 in [0, 255], a carried reconstruction) → 1×3×H'×W' in [0, 1],
    padded to a multiple of 64 (and at least ``minimum`` each way) by edge replication.

    Replication (not zeros) keeps the padded border smooth, so it costs few bits; the decoder
    crops it off, and bpp is computed on the original size. The input is copied because images
    handed over by the harness may be read-only arrays, which torch warns about.
    """
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float().div(255).to(device)
    height, width = image.shape[:2]
    padded_h, padded_w = padded_size(height, width, minimum)
    pad_h, pad_w = padded_h - height, padded_w - width
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x


def to_uint8(x_hat: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Crop the padding and round to 8 bits, as a decoded file would be."""
    x_hat = x_hat[0, :, :height, :width].clamp(0, 1)
    return x_hat.mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def to_float255(x_hat: torch.Tensor, height: int, width: int) -> np.ndarray:
    """Crop the padding and clip, without rounding: float32 in [0, 255] (``to_uint8`` rounds this)."""
    x_hat = x_hat[0, :, :height, :width].clamp(0, 1)
    return x_hat.mul(255).permute(1, 2, 0).contiguous().cpu().numpy().astype(np.float32)


class ReconstructionDecoder:
    """``decode`` and ``decode_float`` of a learned codec from its one ``_reconstruct``: the
    8-bit image is the float reconstruction rounded, so both come from the same decoded tensor
    and cannot drift apart (InvCompress/IAT and CompressAI's codecs share this)."""

    def _reconstruct(self, data: bytes) -> tuple[torch.Tensor, int, int]:
        """The model's float reconstruction of ``data`` (padded) and the original size."""
        raise NotImplementedError

    def decode(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        x_hat, height, width = self._reconstruct(data)
        return to_uint8(x_hat, height, width)

    def decode_float(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        x_hat, height, width = self._reconstruct(data)
        return to_float255(x_hat, height, width)


def resolve_device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CodecUnavailable(f"device {name!r} requested but torch sees no CUDA device")
    return name
