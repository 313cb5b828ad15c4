"""Loading dataset images as exactly what the metrics assume: 8-bit RGB, nothing else.

Every conversion that could change pixel values is refused with a one-line message naming the
file and the fix; the only conversions done are lossless ones (opaque alpha dropped, palette
expanded), documented in the README.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.errors import ImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: MS-SSIM downsamples four times and filters with an 11-pixel window at the coarsest scale.
MS_SSIM_MIN_SIDE = 161


def file_sha256(path: Path) -> str:
    """SHA-256 of the file bytes (what dataset checksum lists pin)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _png_bit_depth(path: Path) -> int | None:
    """Bit depth from a PNG's IHDR chunk; Pillow silently narrows 16-bit RGB to 8 bits."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    if len(head) == 26 and head.startswith(PNG_SIGNATURE) and head[12:16] == b"IHDR":
        return head[24]
    return None


def load_rgb8(path: Path, min_side: int = MS_SSIM_MIN_SIDE) -> np.ndarray:
    """Read ``path`` as an ``H×W×3`` uint8 array or raise ImageError saying what to do."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if _png_bit_depth(path) == 16:
        raise ImageError(
            f"{path}: 16-bit PNG; bench measures 8-bit RGB, convert it to 8 bits per channel first"
        )
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            has_palette_alpha = mode == "P" and "transparency" in im.info
            pixels = im.convert("RGBA") if (mode in ("RGBA", "LA", "PA") or has_palette_alpha) else im
            if mode == "P" and not has_palette_alpha:
                pixels = im.convert("RGB")
            array = np.asarray(pixels)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read; remove it from the dataset or fix it") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: corrupt or truncated image ({exc}); re-download or remove it") from None

    if mode in ("L", "1", "I", "I;16", "I;16B", "F", "LA"):
        raise ImageError(
            f"{path}: greyscale image (mode {mode}); bench measures 8-bit RGB, "
            "convert it (e.g. PIL Image.convert('RGB')) or remove it"
        )
    if mode not in ("RGB", "RGBA", "P", "PA"):
        raise ImageError(f"{path}: colour mode {mode} is not RGB; convert it to 8-bit RGB first")
    if array.ndim != 3 or array.dtype != np.uint8 or array.shape[2] not in (3, 4):
        raise ImageError(f"{path}: unexpected pixel layout {array.shape} {array.dtype}; convert to 8-bit RGB")
    if array.shape[2] == 4:
        if array[..., 3].min() != 255:
            raise ImageError(
                f"{path}: image has transparency; flatten it onto a background (8-bit RGB) first"
            )
        array = array[..., :3]
    height, width = array.shape[:2]
    if min(height, width) < min_side:
        raise ImageError(
            f"{path}: image is {width}×{height}; the configured metrics need at least "
            f"{min_side}×{min_side} pixels (MS-SSIM's five scales), use larger images"
        )
    return np.ascontiguousarray(array)
