"""Loading dataset images as exactly what the metrics assume: 8-bit RGB, nothing else.

Every conversion that could change pixel values is refused with a one-line message naming the
file and the fix; the only conversions done are lossless ones (opaque alpha dropped, palette
expanded), documented in the README.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.errors import ImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Containers read (the formats of ``bench.plan.datasets.IMAGE_SUFFIXES``), as Pillow names them.
READ_FORMATS = ("PNG", "JPEG", "PPM", "BMP", "TIFF", "WEBP")
#: A Pillow raw mode with samples of another width than 8 bits (``RGB;16B``, ``BGR;15``): the
#: decoder narrows or widens them, changing values. Palette index widths (``P;4``) are one digit.
NOT_8_BIT = re.compile(r";\d\d")
#: EXIF tag 0x0112: 1 means the stored pixels are shown as they are.
EXIF_ORIENTATION = 0x0112
#: MS-SSIM downsamples four times and filters with an 11-pixel window at the coarsest scale.
MS_SSIM_MIN_SIDE = 161
#: The smallest side each size-limited metric accepts, and what in it needs that size. Every
#: built-in codec encodes a 1×1 image; PSNR has no limit.
METRIC_MIN_SIDES: dict[str, tuple[int, str]] = {
    "ms_ssim": (MS_SSIM_MIN_SIDE, "MS-SSIM (five scales, 11-pixel window at the coarsest)"),
    "lpips": (31, "LPIPS (AlexNet's strided convolutions and pooling)"),
}

#: Digests of file versions hashed in this process: (path, device, inode, size, mtime, ctime) → hex.
_DIGESTS: dict[tuple[str, int, int, int, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of the file bytes (what dataset checksum lists pin), hashed once per file version.

    Resolving a dataset verifies every file against its pin and planning keys every task by the
    same digest, so both ask for it. The cache lives in this process only, keyed by the file's
    stat (path, device, inode, size, mtime_ns and ctime_ns: ctime cannot be set back by tools
    that preserve mtime, so a replaced file is hashed again). It is not kept on disk: hashing
    Kodak takes tens of milliseconds, far less than one codec call, while a cache file that can
    go stale or be edited would turn the tamper check into trusting that file.
    """
    before = _stamp(path)
    digest = _DIGESTS.get(before)
    if digest is None:
        digest = _hash_file(path)
        if _stamp(path) == before:  # not cached when the file changed while it was read
            _DIGESTS[before] = digest
    return digest


#: What ``stat`` calls a file that is not a regular one, as ``unreadable`` names it.
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be read as an image file (one line naming it and the fix), or None
    for a readable regular file, a link to one included.

    Decided from ``stat`` alone, before anything opens the file: opening a FIFO blocks until a
    writer comes (for ever, in a planner hashing it), and a device reads without end. Folder
    datasets keep such entries so their tasks become error rows with this line, never a silent
    drop; the worker refuses them with the same line before reading.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        if os.path.islink(path):
            return (f"{path}: a symbolic link to {os.readlink(path)}, which cannot be read ({exc.strerror}); "
                    "point the link at the image or remove it")
        return f"{path}: cannot be read ({exc.strerror}); restore the file or remove it from the dataset"
    for test, kind in _KINDS:
        if test(info.st_mode):
            return f"{path}: {kind}, not an image file; remove it from the dataset folder or put the image there"
    if not os.access(path, os.R_OK):
        return f"{path}: not readable (permission denied); fix its permissions or remove it from the dataset"
    return None


def _stamp(path: Path) -> tuple[str, int, int, int, int, int]:
    info = os.stat(path)
    return (os.path.abspath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def size_requirement(metrics: list[str] | tuple[str, ...]) -> tuple[int, str | None]:
    """The smallest side ``metrics`` can measure, and which of them needs it (None: no limit)."""
    needs = [METRIC_MIN_SIDES[m] for m in metrics if m in METRIC_MIN_SIDES]
    return max(needs) if needs else (1, None)


def _png_bit_depth(path: Path) -> int | None:
    """Bit depth from a PNG's IHDR chunk; Pillow silently narrows 16-bit RGB to 8 bits."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    if len(head) == 26 and head.startswith(PNG_SIGNATURE) and head[12:16] == b"IHDR":
        return head[24]
    return None


def refuse_changed_pixels(im: Image.Image, path: Path) -> None:
    """Raise ImageError when reading ``im`` as one 8-bit RGB array would change or pick pixels.

    The one rule for every container: bench measures the stored samples of one 8-bit-per-channel
    frame. Pillow would otherwise narrow 16-bit TIFF and PPM samples to 8 bits, rescale a PPM
    whose maximum is not 255 or a 5/6-bit BMP to 0..255, and silently read the first frame of an
    animation; an EXIF orientation other than 1 means viewers show a rotated or mirrored image,
    not the pixels that would be measured. Each is refused naming the file and the fix; only
    lossless steps (palette expansion, dropping opaque alpha) are taken in ``load_rgb8``.
    """
    if im.format not in READ_FORMATS:
        raise ImageError(f"{path}: a {im.format or 'unknown'} file; bench reads {', '.join(READ_FORMATS)}: "
                         "convert it to 8-bit RGB PNG")
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        raise ImageError(f"{path}: {frames} frames (animation or multi-page); bench measures one still image, "
                         "save the frame to measure as its own PNG")
    for tile in im.tile:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        raw = args[0] if args and isinstance(args[0], str) else ""
        maxval = args[1] if tile.codec_name == "ppm" and len(args) > 1 else 255
        if NOT_8_BIT.search(raw) or maxval != 255:
            depth = f"maximum sample value {maxval}" if maxval != 255 else f"samples stored as {raw}"
            raise ImageError(f"{path}: {depth}, not 8 bits per channel; Pillow would rescale them, "
                             "convert it to 8 bits per channel first")
    orientation = im.getexif().get(EXIF_ORIENTATION, 1)
    if orientation != 1:
        raise ImageError(f"{path}: EXIF orientation {orientation} (shown rotated or mirrored); bench measures the "
                         "stored pixels: apply the rotation (PIL ImageOps.exif_transpose) and save it without the tag")


def load_rgb8(path: Path, min_side: int = MS_SSIM_MIN_SIDE, needed_by: str | None = None) -> np.ndarray:
    """Read ``path`` as an ``H×W×3`` uint8 array or raise ImageError saying what to do.

    ``needed_by`` names what requires ``min_side`` (see ``size_requirement``); when not given it is
    the metric whose limit ``min_side`` is, so a small image is never blamed on a metric the
    run does not measure.
    """
    path = Path(path)
    problem = unreadable(path)
    if problem:
        raise ImageError(problem)
    if _png_bit_depth(path) == 16:
        raise ImageError(
            f"{path}: 16-bit PNG; bench measures 8-bit RGB, convert it to 8 bits per channel first"
        )
    try:
        with warnings.catch_warnings():
            # Images between Pillow's warning and error limits are measured; above it the
            # DecompressionBombError below is the one line, so Pillow's own warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                refuse_changed_pixels(im, path)
                im.load()
                mode = im.mode
                has_palette_alpha = mode == "P" and "transparency" in im.info
                pixels = im.convert("RGBA") if (mode in ("RGBA", "LA", "PA") or has_palette_alpha) else im
                if mode == "P" and not has_palette_alpha:
                    pixels = im.convert("RGB")
                array = np.asarray(pixels)
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"{path}: refused as a possible decompression bomb ({str(exc).split(',')[0]}); "
            "if the image is genuine, downscale or crop it first"
        ) from None
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
        needed_by = needed_by or next((who for side, who in METRIC_MIN_SIDES.values() if side == min_side), None)
        raise ImageError(
            f"{path}: image is {width}×{height}; {needed_by} needs at least {min_side}×{min_side} pixels, "
            "use larger images or leave that metric out" if needed_by else
            f"{path}: image is {width}×{height}, below the {min_side}×{min_side} pixels this run accepts "
            "(no measured metric needs that much); use larger images"
        )
    return np.ascontiguousarray(array)
