"""Spatial quality maps for IAT (Cai et al. 2022, §3.3): training maps, encode-time maps, and
the bitstream variant that carries one.

Training (``sample_training_maps``): the map distribution of the authors' public code
(HiFi-VRIC ``QualityMapDataset`` in training mode, ``p = 0.3`` in their config), one map per
crop, at the crop's resolution:

- with probability p a uniform map: 0 with probability 0.01, else U(0, 1.01) (their
  ``(100 + 1) * random() / 100``);
- with probability p a linear gradient between two U(0, 1) levels across the crop's width,
  turned to run down its height with probability 0.5;
- otherwise (1 − 2p) the sum of 1–20 axis-aligned Gaussian blobs (centres uniform over the crop,
  variances U(1000, 3000) pixels² per axis), scaled so that its maximum is U(0.5, 1).

The public code builds the Gaussian maps by adding the blobs in place to an array that the
uniform branch also writes, so after the first uniform sample its "Gaussian" maps are that
uniform value (0–101) plus blobs whose summed density is at most 20/(2π·1000) ≈ 3·10⁻³,
rescaled: nearly uniform maps in [0.5, 1) unless that value was 0. Here each Gaussian map starts from zeros, as the branch's structure intends.
The blob variances are in pixels, as theirs (their crops are 256 × 256).

Encoding: a map (a named pattern or a file) is set against the image, shifted so that its mean
over the image is the level (then clipped to [0, 1]), averaged over the 16 × 16-pixel cells of the
latent grid of the padded image, quantised to 8 bits and carried in the bitstream. Encoder and
decoder both feed the model that 8-bit grid, upsampled bilinearly to the padded image size (the
modulations then pool it to each feature size), so the decoder needs nothing but the bitstream.

Bitstream with a map (format 2): the 14-byte header of ``coding.Bitstream`` with format byte 2,
then the length of the map block (uint32) and the map block (the grid's 2-D differences,
``differences``, row-major, raw DEFLATE), then the y-string length (uint32) and the y and z strings as in format 1. The grid's
size is 4 × the z shape. A stream without a map is format 1, unchanged.
"""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.errors import CodecFailure, ConfigError, one_line
from bench_codecs.inn.coding import HEADER, LENGTH, PAD_MULTIPLE, Bitstream, check_regular_file, padded_size

# -- training maps -------------------------------------------------------------------------

#: The authors' ``p``: the probability of a uniform map and of a gradient map each.
AUTHORS_P = 0.3
KINDS = ("uniform", "gradient", "gaussian")


def _rand(generator: torch.Generator | None) -> float:
    return float(torch.rand((), generator=generator, dtype=torch.float64))


def sample_training_map(height: int, width: int, p: float = AUTHORS_P,
                        generator: torch.Generator | None = None, classwise_p: float = 0.0) -> tuple[str, torch.Tensor]:
    """(kind, height × width float32 map) drawn from the authors' training distribution.

    ``classwise_p``: the share of Qmap's (Song et al. 2021) "one level per segmentation class"
    branch, taken between the uniform and the gradient branches. Without segmentation maps (none
    here, nor in their code when a training list has no ``seg_path``) every crop is one class,
    so it draws one uniform level U(0, 1.01) (no 1 % zeros). 0 (IAT) never takes it and leaves
    the draws unchanged.
    """
    rand = lambda: _rand(generator)  # noqa: E731
    choice = rand()
    if choice < p:
        value = 0.0 if rand() < 0.01 else 1.01 * rand()
        return "uniform", torch.full((height, width), value, dtype=torch.float32)
    if choice < p + classwise_p:
        return "uniform", torch.full((height, width), 1.01 * rand(), dtype=torch.float32)
    if choice < 2 * p + classwise_p:
        start, stop = rand(), rand()
        if rand() < 0.5:
            ramp = torch.linspace(start, stop, height, dtype=torch.float64)[:, None].expand(height, width)
        else:
            ramp = torch.linspace(start, stop, width, dtype=torch.float64)[None, :].expand(height, width)
        return "gradient", ramp.float().contiguous()
    rows = torch.arange(height, dtype=torch.float64)[:, None]
    cols = torch.arange(width, dtype=torch.float64)[None, :]
    total = torch.zeros(height, width, dtype=torch.float64)
    for _ in range(int(1 + 20 * rand())):
        mu_r, mu_c = height * rand(), width * rand()
        var_r, var_c = 2000 * rand() + 1000, 2000 * rand() + 1000
        total += (torch.exp(-(rows - mu_r) ** 2 / (2 * var_r) - (cols - mu_c) ** 2 / (2 * var_c))
                  / (2 * math.pi * math.sqrt(var_r * var_c)))
    return "gaussian", (total * ((0.5 * rand() + 0.5) / total.max())).float()


def sample_training_maps(batch: int, height: int, width: int, p: float = AUTHORS_P,
                         generator: torch.Generator | None = None,
                         classwise_p: float = 0.0) -> tuple[torch.Tensor, list[str]]:
    """A batch×1×height×width map tensor and each map's kind."""
    drawn = [sample_training_map(height, width, p, generator, classwise_p) for _ in range(batch)]
    return torch.stack([m for _, m in drawn])[:, None], [k for k, _ in drawn]


# -- encode-time maps ----------------------------------------------------------------------

#: INN downsampling: one latent (and one map cell) per 16 × 16 pixels of the padded image.
GRID_CELL = 16
#: How a map file's size is set against the image's: "match" (the map must have the image's
#: width and height) or "stretch" (resized to the image's size, aspect ratio not kept).
RESIZE_POLICIES = ("match", "stretch")
#: Largest map file read: a map is one channel at most the image's size.
MAX_MAP_BYTES = 256 * 1024 ** 2


def _ramp(height: int, width: int, axis: int, rising: bool) -> np.ndarray:
    n = (height, width)[axis]
    ramp = np.linspace(0.0, 1.0, n) if rising else np.linspace(1.0, 0.0, n)
    return np.broadcast_to(ramp[:, None] if axis == 0 else ramp[None, :], (height, width))


def _centre(height: int, width: int) -> np.ndarray:
    rows = (np.arange(height) + 0.5) / height - 0.5
    cols = (np.arange(width) + 0.5) / width - 0.5
    return np.exp(-(rows[:, None] ** 2 + cols[None, :] ** 2) / (2 * 0.25 ** 2))


#: Named patterns (values before the level shift), each a function of the image height and width.
PATTERNS: dict[str, Callable[[int, int], np.ndarray]] = {
    "gradient-lr": lambda h, w: _ramp(h, w, 1, True),   # 0 at the left edge → 1 at the right edge
    "gradient-rl": lambda h, w: _ramp(h, w, 1, False),  # 1 at the left edge → 0 at the right edge
    "gradient-tb": lambda h, w: _ramp(h, w, 0, True),   # 0 at the top → 1 at the bottom
    "gradient-bt": lambda h, w: _ramp(h, w, 0, False),  # 1 at the top → 0 at the bottom
    "centre": _centre,  # exp(−r²/(2·0.25²)), r the distance from the centre in image widths/heights
}


@dataclass(frozen=True)
class QualityMap:
    """An encode-time quality map: a named pattern, or a map file's values (float64 in [0, 1])."""

    name: str
    resize: str = "match"
    values: np.ndarray | None = None
    sha256: str | None = None
    where: str = "params.quality_map"

    def at_image(self, height: int, width: int) -> np.ndarray:
        """The map at the image's size (float64 in [0, 1]), after the resize policy."""
        if self.values is None:
            return np.array(PATTERNS[self.name](height, width), dtype=np.float64)
        mh, mw = self.values.shape
        if (mh, mw) == (height, width):
            return self.values
        if self.resize == "match":
            raise CodecFailure(f"{self.shown}: the map is {mw}×{mh}, the image {width}×{height}; give a map of the "
                               f"image's size or set quality_map_resize = \"stretch\"")
        resized = F.interpolate(torch.from_numpy(self.values)[None, None], size=(height, width), mode="bilinear",
                                align_corners=False, antialias=True)
        return resized[0, 0].clamp(0, 1).numpy()

    @property
    def shown(self) -> str:
        return f"{self.where} = {one_line(self.name, 200)}"

    def padded(self, level: float, height: int, width: int, minimum: int = PAD_MULTIPLE) -> torch.Tensor:
        """The map for ``level`` at the padded image's size (1×1×H'×W', float64): shifted to mean
        ``level`` over the image, clipped to [0, 1], replicated into the padding (to a multiple of
        64, at least ``minimum`` each way, as ``coding.to_padded_tensor`` pads the image)."""
        if not 0.0 <= level <= 1.0:
            raise CodecFailure(f"quality level must be in [0, 1], got {level}")
        values = self.at_image(height, width)
        shifted = torch.from_numpy(np.clip(values + (level - values.mean()), 0.0, 1.0))[None, None]
        padded_h, padded_w = padded_size(height, width, minimum)
        pad_h, pad_w = padded_h - height, padded_w - width
        if pad_h or pad_w:
            shifted = F.pad(shifted, (0, pad_w, 0, pad_h), mode="replicate")
        return shifted

    def grid(self, level: float, height: int, width: int) -> np.ndarray:
        """The 8-bit map the bitstream carries for ``level``: ``padded``, averaged per latent cell."""
        cells = F.avg_pool2d(self.padded(level, height, width), GRID_CELL)[0, 0].numpy()
        return np.rint(cells * 255).astype(np.uint8)


def model_map(grid: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """The 1×1×H'×W' map the model reads: the 8-bit grid / 255, upsampled bilinearly to the padded
    image size on the CPU in float32 (the same tensor at the encoder and the decoder)."""
    cells = torch.from_numpy(np.array(grid, dtype=np.float32)).div(255)[None, None]
    return F.interpolate(cells, size=tuple(size), mode="bilinear", align_corners=False)


def load_quality_map(value: str, resize: str = "match", where: str = "params.quality_map") -> QualityMap:
    """A named pattern, or a map file: a single-channel image (8-bit values / 255, 16-bit / 65535,
    1-bit 0 or 1, 32-bit float as is) or a 2-D ``.npy`` array of floats. Values must lie in
    [0, 1]. Problems raise ConfigError in one line naming ``where`` and the file."""
    if resize not in RESIZE_POLICIES:
        raise ConfigError(f"{where}_resize = {one_line(repr(resize), 80)}: expected one of "
                          f"{', '.join(RESIZE_POLICIES)}")
    if value in PATTERNS:
        return QualityMap(value, resize, where=where)
    shown = f"{where} = {one_line(value, 200)}"
    if not value:
        raise ConfigError(f"{shown}: empty; give a pattern ({', '.join(PATTERNS)}) or a map file")
    path = Path(value)
    check_regular_file(path, shown, ConfigError, max_bytes=MAX_MAP_BYTES, what="a map",
                       missing=f"no such file, and not a named pattern ({', '.join(PATTERNS)})",
                       irregular="not a regular file; give a map image or a .npy array")
    data = path.read_bytes()
    values = _read_npy(data, shown) if path.suffix.lower() == ".npy" else _read_image(path, shown)
    if values.ndim != 2 or values.size == 0:
        raise ConfigError(f"{shown}: expected one channel (a 2-D map), found shape {tuple(values.shape)}")
    if not np.isfinite(values).all():
        raise ConfigError(f"{shown}: has non-finite values (NaN or infinity)")
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        raise ConfigError(f"{shown}: values must lie in [0, 1], found [{low:g}, {high:g}]")
    return QualityMap(value, resize, values.astype(np.float64), hashlib.sha256(data).hexdigest(), where)


def _read_npy(data: bytes, shown: str) -> np.ndarray:
    import io

    try:
        values = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ConfigError(f"{shown}: not a readable .npy array ({one_line(exc, 200)})") from None
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "fb":
        kind = getattr(values, "dtype", type(values).__name__)
        raise ConfigError(f"{shown}: expected an array of floats in [0, 1], found {kind}")
    if values.ndim == 3 and values.shape[-1] == 1:
        values = values[..., 0]
    return values.astype(np.float64)


#: Image modes read as maps, with the value that means quality 1.
IMAGE_SCALES = {"1": 1.0, "L": 255.0, "I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I": 65535.0, "F": 1.0}


def _read_image(path: Path, shown: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            mode = image.mode
            if mode not in IMAGE_SCALES:
                raise ConfigError(f"{shown}: a {mode} image; give a single-channel (grayscale) map, 8- or 16-bit, "
                                  "or a .npy array")
            values = np.asarray(image, dtype=np.float64)
    except ConfigError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ConfigError(f"{shown}: not a readable map image or .npy array ({one_line(exc, 200)})") from None
    if mode == "I" and (values.min() < 0 or values.max() > 65535):
        raise ConfigError(f"{shown}: 32-bit integer values outside [0, 65535]; give an 8- or 16-bit map")
    return values / IMAGE_SCALES[mode]


# -- the bitstream variant -----------------------------------------------------------------

#: Format byte of a stream that carries a quality map (format 1: uniform level, no map).
MAP_FORMAT_VERSION = 2
MAP_LENGTH = struct.Struct(">I")


def differences(grid: np.ndarray) -> np.ndarray:
    """Each cell minus its left and upper neighbours plus the upper-left one (zero outside the
    grid), modulo 256: near 0 wherever the map is smooth, so DEFLATE packs it well."""
    padded = np.pad(grid.astype(np.int64), ((1, 0), (1, 0)))
    return ((padded[1:, 1:] - padded[1:, :-1] - padded[:-1, 1:] + padded[:-1, :-1]) % 256).astype(np.uint8)


def undo_differences(residual: np.ndarray) -> np.ndarray:
    """The inverse of ``differences``: cumulative sums down and across, modulo 256."""
    return (np.cumsum(np.cumsum(residual.astype(np.int64), axis=0), axis=1) % 256).astype(np.uint8)


def pack_with_map(stream: Bitstream, grid: np.ndarray) -> bytes:
    """Format 2: ``stream``'s header with format byte 2, the map block, then y and z as format 1."""
    zh, zw = stream.z_shape
    if grid.dtype != np.uint8 or grid.shape != (4 * zh, 4 * zw):
        raise ValueError(f"map grid {grid.shape} {grid.dtype} does not fit z shape {stream.z_shape}")
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflate.compress(differences(grid).tobytes()) + deflate.flush()
    header = HEADER.pack(MAP_FORMAT_VERSION, 0, stream.height, stream.width, zh, zw, stream.rate)
    return (header + MAP_LENGTH.pack(len(block)) + block + LENGTH.pack(len(stream.y_string))
            + stream.y_string + stream.z_string)


def unpack(data: bytes) -> tuple[Bitstream, np.ndarray | None]:
    """An IAT stream of either format: (the stream, the 8-bit map grid or None for format 1)."""
    if not data or data[0] != MAP_FORMAT_VERSION:
        return Bitstream.unpack(data), None
    if len(data) < HEADER.size + MAP_LENGTH.size:
        raise CodecFailure(f"bitstream of {len(data)} bytes is shorter than its header")
    _, _, height, width, zh, zw, rate = HEADER.unpack_from(data)
    (block_length,) = MAP_LENGTH.unpack_from(data, HEADER.size)
    start = HEADER.size + MAP_LENGTH.size
    if start + block_length + LENGTH.size > len(data):
        raise CodecFailure(f"bitstream of {len(data)} bytes is shorter than its {block_length}-byte quality map")
    cells = 16 * zh * zw
    inflate = zlib.decompressobj(-15)
    try:
        raw = inflate.decompress(data[start:start + block_length], cells + 1)
    except zlib.error as exc:
        raise CodecFailure(f"bitstream's quality map does not inflate ({exc})") from None
    if len(raw) != cells:
        raise CodecFailure(f"bitstream's quality map has {len(raw)} cells, its z shape {zh}×{zw} needs {cells}")
    grid = undo_differences(np.frombuffer(raw, dtype=np.uint8).reshape(4 * zh, 4 * zw))
    (y_length,) = LENGTH.unpack_from(data, start + block_length)
    begin = start + block_length + LENGTH.size
    return Bitstream(height, width, (zh, zw), rate, data[begin:begin + y_length], data[begin + y_length:]), grid
