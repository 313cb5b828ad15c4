"""RGB ↔ Y'CbCr conversion and planar ``.yuv`` files, for codecs that take YUV input.

Stated, because PSNR depends on it: the matrix (BT.709 or BT.601 luma coefficients), the range
(full: Y and C span 0…2^n−1, C centred on 2^(n−1); limited: Y 16…235 and C 16…240 scaled by
2^(n−8)), the bit depth n (8 or 10) and the chroma format. 4:2:0 chroma is the mean of each 2×2
block (chroma sited between the four luma samples; odd sizes replicate the last row/column) and
is upsampled by sample replication. All rounding is round-half-to-even on float64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.errors import CodecFailure, ConfigError

#: (Kr, Kb) luma coefficients.
MATRICES = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}
RANGES = ("full", "limited")
CHROMA_FORMATS = ("444", "420")
BIT_DEPTHS = (8, 10)

Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


def check_format(matrix: str, value_range: str, bit_depth: int, chroma: str) -> None:
    """Raise ConfigError for an unsupported combination, naming the allowed values."""
    if matrix not in MATRICES:
        raise ConfigError(f"YUV matrix {matrix!r}: use one of {', '.join(MATRICES)}")
    if value_range not in RANGES:
        raise ConfigError(f"YUV range {value_range!r}: use one of {', '.join(RANGES)}")
    if int(bit_depth) not in BIT_DEPTHS:
        raise ConfigError(f"YUV bit depth {bit_depth!r}: use 8 or 10")
    if str(chroma) not in CHROMA_FORMATS:
        raise ConfigError(f"YUV chroma format {chroma!r}: use one of {', '.join(CHROMA_FORMATS)}")


def _scales(value_range: str, bit_depth: int) -> tuple[float, float, float, float]:
    """(luma scale, luma offset, chroma scale, chroma offset) in code values."""
    if value_range == "full":
        top = 2.0 ** bit_depth - 1
        return top, 0.0, top, 2.0 ** (bit_depth - 1)
    step = 2.0 ** (bit_depth - 8)
    return 219 * step, 16 * step, 224 * step, 128 * step


def rgb_to_ycbcr(rgb: np.ndarray, matrix: str = "bt709", value_range: str = "full",
                 bit_depth: int = 8, chroma: str = "444") -> Planes:
    """``H×W×3`` uint8 RGB → (Y, Cb, Cr) uint16 planes (chroma halved in both axes for 4:2:0)."""
    check_format(matrix, value_range, bit_depth, chroma)
    kr, kb = MATRICES[matrix]
    x = rgb.astype(np.float64) / 255.0
    y = kr * x[..., 0] + (1 - kr - kb) * x[..., 1] + kb * x[..., 2]
    cb = (x[..., 2] - y) / (2 * (1 - kb))
    cr = (x[..., 0] - y) / (2 * (1 - kr))
    if str(chroma) == "420":
        cb, cr = _down2(cb), _down2(cr)
    ys, yo, cs, co = _scales(value_range, int(bit_depth))
    top = 2 ** int(bit_depth) - 1
    return tuple(np.clip(np.rint(p), 0, top).astype(np.uint16)
                 for p in (y * ys + yo, cb * cs + co, cr * cs + co))


def ycbcr_to_rgb(planes: Planes, matrix: str = "bt709", value_range: str = "full",
                 bit_depth: int = 8, chroma: str = "444") -> np.ndarray:
    """(Y, Cb, Cr) planes → ``H×W×3`` uint8 RGB, the inverse of :func:`rgb_to_ycbcr`."""
    check_format(matrix, value_range, bit_depth, chroma)
    kr, kb = MATRICES[matrix]
    ys, yo, cs, co = _scales(value_range, int(bit_depth))
    y = (planes[0].astype(np.float64) - yo) / ys
    cb = (planes[1].astype(np.float64) - co) / cs
    cr = (planes[2].astype(np.float64) - co) / cs
    if str(chroma) == "420":
        h, w = y.shape
        cb = np.repeat(np.repeat(cb, 2, 0), 2, 1)[:h, :w]
        cr = np.repeat(np.repeat(cr, 2, 0), 2, 1)[:h, :w]
    r = y + 2 * (1 - kr) * cr
    b = y + 2 * (1 - kb) * cb
    g = (y - kr * r - kb * b) / (1 - kr - kb)
    rgb = np.stack([r, g, b], axis=-1) * 255.0
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _down2(plane: np.ndarray) -> np.ndarray:
    """Mean of each 2×2 block; odd sizes replicate the last row/column first."""
    h, w = plane.shape
    padded = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).mean(axis=(1, 3))


def roundtrip(rgb: np.ndarray, matrix: str = "bt709", value_range: str = "full",
              bit_depth: int = 8, chroma: str = "444") -> np.ndarray:
    """RGB after conversion to Y'CbCr at the stated format and back: a PSNR reference option."""
    return ycbcr_to_rgb(rgb_to_ycbcr(rgb, matrix, value_range, bit_depth, chroma), matrix, value_range, bit_depth, chroma)


def chroma_shape(height: int, width: int, chroma: str) -> tuple[int, int]:
    return (height, width) if str(chroma) == "444" else ((height + 1) // 2, (width + 1) // 2)


def write_yuv(path: str | Path, planes: Planes, bit_depth: int) -> None:
    """Planar Y, Cb, Cr; 8-bit as bytes, more bits as little-endian 16-bit words (VTM, FFmpeg)."""
    dtype = np.uint8 if int(bit_depth) == 8 else np.dtype("<u2")
    with open(path, "wb") as handle:
        for plane in planes:
            handle.write(np.ascontiguousarray(plane, dtype=dtype).tobytes())


def read_yuv(path: str | Path, width: int, height: int, bit_depth: int, chroma: str) -> Planes:
    """Read one planar frame written like :func:`write_yuv`; a wrong size is a CodecFailure."""
    dtype = np.uint8 if int(bit_depth) == 8 else np.dtype("<u2")
    ch, cw = chroma_shape(height, width, chroma)
    expected = (height * width + 2 * ch * cw) * np.dtype(dtype).itemsize
    data = Path(path).read_bytes()
    if len(data) != expected:
        raise CodecFailure(f"{Path(path).name}: {len(data)} bytes, expected {expected} for one "
                           f"{width}x{height} {chroma} {bit_depth}-bit frame")
    flat = np.frombuffer(data, dtype=dtype).astype(np.uint16)
    y = flat[: height * width].reshape(height, width)
    cb = flat[height * width: height * width + ch * cw].reshape(ch, cw)
    cr = flat[height * width + ch * cw:].reshape(ch, cw)
    return y, cb, cr


PSNR_REFERENCES = ("original", "ycbcr-roundtrip")


def reference_label(matrix: str, value_range: str, bit_depth: int, chroma: str = "444") -> str:
    """The ``reference`` column value for a round trip, e.g. ``ycbcr709-8bit-roundtrip``."""
    label = f"ycbcr{matrix.removeprefix('bt')}"
    if value_range != "full":
        label += f"-{value_range}"
    label += f"-{int(bit_depth)}bit"
    if str(chroma) != "444":
        label += f"-{chroma}"
    return f"{label}-roundtrip"


class RoundTripReference:
    """Mixin: PSNR against the original RGB (default) or against its Y'CbCr round trip.

    Published curves differ here (CompressAI's VTM points compare with the BT.709 8-bit
    round-tripped input); the harness core asks a codec for ``reference_name()`` when planning
    and ``reference_image(original)`` when measuring. The subclass sets ``reference_format``:
    (matrix, range, bit depth, chroma) of the round trip, from its params.
    """

    params: dict

    def reference_format(self) -> tuple[str, str, int, str]:
        return ("bt709", "full", 8, "444")

    def _check_reference(self) -> None:
        if self.params.get("psnr_reference", "original") not in PSNR_REFERENCES:
            raise ConfigError(f"psnr_reference {self.params['psnr_reference']!r}: use one of {', '.join(PSNR_REFERENCES)}")

    def reference_name(self) -> str:
        if self.params.get("psnr_reference", "original") == "original":
            return "original"
        return reference_label(*self.reference_format())

    def reference_image(self, original: np.ndarray) -> np.ndarray:
        if self.params.get("psnr_reference", "original") == "original":
            return original
        return roundtrip(original, *self.reference_format())
