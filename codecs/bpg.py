"""BPG (Fabrice Bellard's HEVC-based image format) through its ``bpgenc``/``bpgdec`` binaries.

The papers' BPG curves are 4:4:4 x265 at 8 bits (CompressAI: ``-f 444 -e x265 -c ycbcr -b 8``),
swept over QP; those are the defaults. bpp counts the whole ``.bpg`` file. The binaries are not
on any package registry: put them on PATH, or set BENCH_BPGENC / BENCH_BPGDEC, or give their
paths as ``params = { bpgenc = "...", bpgdec = "..." }`` (docs/reference-codecs.md).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.codec import Codec, ValueType
from bench.errors import CodecFailure, CodecUnavailable, ConfigError
from bench_codecs import listings
from bench_codecs import subprocess_runner as sp
from bench_codecs.yuv import PSNR_REFERENCES, RoundTripReference

ENCODERS = ("x265", "jctvc")
CHROMA = ("444", "420", "422")
#: bpgenc's -c values and the (matrix, range) each applies, for the round-trip PSNR reference.
COLOR_SPACES = {"ycbcr": ("bt601", "full"), "ycbcr_bt709": ("bt709", "full")}


class BpgCodec(RoundTripReference, Codec):
    name = "bpg"
    rate_parameter = "qp"
    default_rates = (22, 27, 32, 37, 42, 47)
    rate_range = (0, 51)
    param_defaults = {
        "bpgenc": "", "bpgdec": "", "chroma": "444", "encoder": "x265", "speed": 8,
        "color_space": "ycbcr", "bit_depth": 8, "timeout_s": 600, "psnr_reference": "original",
    }
    param_types = {
        "chroma": ValueType(str, choices=CHROMA), "encoder": ValueType(str, choices=ENCODERS),
        "speed": ValueType(int, low=1, high=9), "color_space": ValueType(str, choices=tuple(COLOR_SPACES)),
        "bit_depth": ValueType(int, choices=(8, 10, 12)), "timeout_s": ValueType(float, low=1, high=sp.MAX_TIMEOUT_S),
        "psnr_reference": ValueType(str, choices=PSNR_REFERENCES),
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        if p["encoder"] not in ENCODERS:
            raise ConfigError(f"codec {self.name}: encoder must be one of {', '.join(ENCODERS)}")
        if str(p["chroma"]) not in CHROMA:
            raise ConfigError(f"codec {self.name}: chroma must be one of {', '.join(CHROMA)}")
        if p["color_space"] not in COLOR_SPACES:
            raise ConfigError(f"codec {self.name}: color_space must be one of {', '.join(COLOR_SPACES)}")
        if not 1 <= int(p["speed"]) <= 9:
            raise ConfigError(f"codec {self.name}: speed (bpgenc -m) must be 1..9")
        if int(p["bit_depth"]) not in (8, 10, 12):
            raise ConfigError(f"codec {self.name}: bit_depth must be 8, 10 or 12")
        self._check_reference()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return listings.bpg_unavailable()

    def _binary(self, which: str) -> str:
        found = sp.find_binary(self.params[which] or None, f"BENCH_{which.upper()}", which)
        if found is None:
            raise CodecUnavailable(f"codec {self.name}: {which} not found (set params.{which}, BENCH_{which.upper()} or PATH)")
        return found

    def reference_format(self) -> tuple[str, str, int, str]:
        matrix, value_range = COLOR_SPACES[self.params["color_space"]]
        return matrix, value_range, 8, "444"

    def version(self) -> str:
        return sp.probe_version(self._binary("bpgenc"), ("-h",), "version")

    def encode_args(self, source: str, target: str, rate: float) -> list[str]:
        p = self.params
        return [self._binary("bpgenc"), "-q", str(int(rate)), "-f", str(p["chroma"]), "-e", p["encoder"],
                "-c", p["color_space"], "-b", str(int(p["bit_depth"])), "-m", str(int(p["speed"])),
                "-o", target, source]

    def describe(self, rate: float) -> str:
        return sp.command_text(self.encode_args("input.png", "out.bpg", rate))

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        with sp.task_dir("bpgenc") as folder:
            source, target = folder / "input image.png", folder / "out.bpg"
            Image.fromarray(np.ascontiguousarray(image)).save(source, compress_level=1)
            args = self.encode_args(str(source), str(target), rate)
            sp.run(args, float(self.params["timeout_s"]), f"codec {self.name}")
            return sp.read_output(target, f"codec {self.name}", args[0])

    def decode(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        with sp.task_dir("bpgdec") as folder:
            source, target = folder / "in.bpg", folder / "decoded image.png"
            source.write_bytes(data)
            binary = self._binary("bpgdec")
            sp.run([binary, "-b", "8", "-o", str(target), str(source)], float(self.params["timeout_s"]), f"codec {self.name}")
            return read_png(sp.read_output(target, f"codec {self.name}", binary), f"codec {self.name}", binary)


def read_png(data: bytes, what: str, binary: str) -> np.ndarray:
    """The RGB pixels of the PNG a decoder wrote; anything Pillow cannot read is the tool's fault.

    Pillow's own errors (UnidentifiedImageError, truncated data, decompression bombs) would say
    nothing about which binary produced the file, so they become one CodecFailure naming it.
    """
    name = sp.one_line(Path(binary).name)
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode not in ("RGB", "RGBA"):
                raise CodecFailure(f"{what}: {name} wrote a {im.mode} image, expected RGB")
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise CodecFailure(f"{what}: {name} exited 0 but its output is not a readable PNG "
                           f"({sp.one_line(str(exc) or type(exc).__name__, 120)}); check the binary") from None
