"""ILC and probabilistic decoding as harness codecs: one bitstream, a decoder that draws.

Both codecs take one checkpoint per rate point (the rate is its 1-based ``model_index``) and
expose the decoder's randomness as decoder options, recorded in every row:

* ``ilc``: ``z`` = ``"mode"`` (default, z = 0 as the paper evaluates) or ``"sample"``
  (z ~ N(0, temperature²·I)), ``temperature``, ``seed``.
* ``probdec``: ``variance_factor`` v (the factor on the estimated variance of Fig. 3 in Ma et al.:
  ỹ = μ + √v·σ·ε; 0 = the mode, default) and ``seed``. The legacy option ``scale`` s multiplies
  σ itself (ỹ = μ + s·σ·ε, the same as v = s²); it is still accepted so that rows and
  configurations written with it keep their meaning, and cannot be combined with
  ``variance_factor``.

Noise comes from a CPU ``torch.Generator`` seeded with ``seed``, so a given bitstream, option
set and device always decode to the same image; another seed gives another image of the same
bitstream. Images are padded by edge replication to a multiple of the model's stride (16);
the decoder crops it off and bpp counts every byte of the bitstream.

Bitstreams: ``ilc`` uses ``coding.Bitstream`` (the y string; no z string). ``probdec`` (format 2):
a 14-byte header (format version, number of strings n, height, width, LL_K height and width,
rate as float32), then n pairs of int16 (the smallest and largest symbol of each string's
sub-bands, the support of its range coder), then each string but the last prefixed by its
uint32 length. Format 1 (the earlier single-Gaussian model) is refused with a one-line error.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.codec import ValueType
from bench.errors import CodecFailure, ConfigError
from bench_codecs.inn.codec import CROSS_THREAD_TOLERANCE_DB, _LearnedCodec, checkpoint_path
from bench_codecs.inn.coding import Bitstream, check_latent_shape, to_float255, to_uint8
from bench_codecs.inn.ilc import ILC, STRIDE
from bench_codecs.inn.probdec import ProbDec
from bench_codecs.listings import DEMO_ILC, DEMO_PROBDEC

PROBDEC_VERSION = 2
#: Decoder-option ranges: v ∈ [0, 4] (σ up to 2×); the legacy σ multiplier s ∈ [0, 4] as before.
VARIANCE_FACTOR_MAX = 4.0
LEGACY_SCALE_MAX = 4.0
PROBDEC_HEADER = struct.Struct(">BBHHHHf")
LENGTH = struct.Struct(">I")
SYMBOL_RANGE = struct.Struct(">hh")


def to_padded(image: np.ndarray, multiple: int, device: str) -> torch.Tensor:
    """uint8 H×W×3 (or float32 in [0, 255]) → 1×3×H'×W' in [0, 1], edge-replicated to a multiple."""
    x = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float().div(255).to(device)  # a copy: inputs may be read-only
    height, width = image.shape[:2]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x


def pack_strings(height: int, width: int, shape: tuple[int, int], rate: float, strings: list[bytes],
                 ranges: list[tuple[int, int]]) -> bytes:
    out = [PROBDEC_HEADER.pack(PROBDEC_VERSION, len(strings), height, width, *shape, rate)]
    out += [SYMBOL_RANGE.pack(lo, hi) for lo, hi in ranges]
    for s in strings[:-1]:
        out += [LENGTH.pack(len(s)), s]
    out.append(strings[-1])
    return b"".join(out)


def unpack_strings(data: bytes) -> tuple[int, int, tuple[int, int], float, list[bytes], list[tuple[int, int]]]:
    if len(data) < PROBDEC_HEADER.size:
        raise CodecFailure(f"bitstream of {len(data)} bytes is shorter than its header")
    version, count, height, width, sh, sw, rate = PROBDEC_HEADER.unpack_from(data)
    if version != PROBDEC_VERSION:
        raise CodecFailure(f"bitstream format {version}, this decoder reads {PROBDEC_VERSION}")
    pos = PROBDEC_HEADER.size
    if pos + count * SYMBOL_RANGE.size > len(data):
        raise CodecFailure("truncated bitstream")
    ranges = [SYMBOL_RANGE.unpack_from(data, pos + k * SYMBOL_RANGE.size) for k in range(count)]
    pos += count * SYMBOL_RANGE.size
    strings = []
    for _ in range(count - 1):
        if pos + LENGTH.size > len(data):
            raise CodecFailure("truncated bitstream")
        (n,) = LENGTH.unpack_from(data, pos)
        pos += LENGTH.size
        if pos + n > len(data):
            raise CodecFailure("truncated bitstream")
        strings.append(data[pos:pos + n])
        pos += n
    strings.append(data[pos:])
    for lo, hi in ranges:
        if lo > hi:
            raise CodecFailure(f"bitstream symbol range {lo}..{hi} is empty")
    return height, width, (sh, sw), rate, strings, ranges


class _StochasticCodec(_LearnedCodec):
    rate_parameter = "model_index"
    default_rates = (1,)
    rate_range = (1, 64)
    param_types = {"checkpoints": ValueType(list, items=str)}
    #: Both decoders take a non-negative integer seed for their noise.
    decoder_option_types = {"seed": ValueType(int, low=0)}

    def _checkpoint(self, rate: float) -> Path:
        paths = self.params["checkpoints"]
        index = int(rate)
        if not 1 <= index <= len(paths):
            raise CodecFailure(f"{self.name}: model_index {index} outside 1..{len(paths)} (configured checkpoints)")
        return checkpoint_path(paths[index - 1])

    def version(self) -> str:
        return f"{self.model_class.__name__}; checkpoints sha256 {self.checkpoint_digests()}"

    def check_decoder_options(self, options: dict[str, Any]) -> dict[str, Any]:
        merged = super().check_decoder_options(options)
        self._validate(merged, ConfigError)
        return merged

    def _validate(self, options: dict[str, Any], error: type[Exception]) -> None:
        raise NotImplementedError

    def _reconstruct(self, data: bytes, **options: Any) -> tuple[torch.Tensor, int, int]:
        raise NotImplementedError

    def decode(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        options = {**self.decoder_option_defaults, **decoder_options}
        self._validate(options, CodecFailure)
        x_hat, height, width = self._reconstruct(data, **options)
        return to_uint8(x_hat, height, width)

    def decode_float(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        options = {**self.decoder_option_defaults, **decoder_options}
        self._validate(options, CodecFailure)
        x_hat, height, width = self._reconstruct(data, **options)
        return to_float255(x_hat, height, width)


class IlcCodec(_StochasticCodec):
    """ILC (Wang et al. 2020): factorised prior on y; z at its mode or sampled at the decoder."""

    name = "ilc"
    decode_tolerance_db = CROSS_THREAD_TOLERANCE_DB
    param_defaults = {"checkpoints": [DEMO_ILC], "device": "cpu"}
    decoder_option_defaults = {"z": "mode", "temperature": 1.0, "seed": 0}
    decoder_option_types = {**_StochasticCodec.decoder_option_types, "z": ValueType(str, choices=("mode", "sample")),
                            "temperature": ValueType(float, low=0)}
    model_class = ILC

    def _validate(self, options: dict[str, Any], error: type[Exception]) -> None:
        unknown = sorted(set(options) - set(self.decoder_option_defaults))
        if unknown:
            raise error(f"ilc: unknown decoder option(s) {unknown}")
        if options["z"] not in ("mode", "sample"):
            raise error(f"ilc: decoder option z must be 'mode' or 'sample', got {options['z']!r}")
        if not float(options["temperature"]) >= 0:
            raise error(f"ilc: temperature must be >= 0, got {options['temperature']!r}")
        if int(options["seed"]) != options["seed"] or int(options["seed"]) < 0:
            raise error(f"ilc: seed must be a non-negative integer, got {options['seed']!r}")

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        model = self._model(self._checkpoint(rate))
        with torch.no_grad():
            out = model.compress(to_padded(image, STRIDE, self.device))
        return Bitstream(image.shape[0], image.shape[1], tuple(out["shape"]), float(rate),
                         out["strings"][0][0], b"").pack()

    def _reconstruct(self, data: bytes, **options: Any) -> tuple[torch.Tensor, int, int]:
        stream = Bitstream.unpack(data)
        check_latent_shape("ilc", stream.height, stream.width, stream.z_shape, STRIDE)
        model = self._model(self._checkpoint(stream.rate))
        with torch.no_grad():
            x_hat = model.decompress([[stream.y_string]], stream.z_shape, z=options["z"],
                                     temperature=float(options["temperature"]), seed=int(options["seed"]))["x_hat"]
        return x_hat, stream.height, stream.width


class ProbDecCodec(_StochasticCodec):
    """Probabilistic decoding (Ma et al. 2021): ỹ = μ + √v·σ·ε, one bitstream, many images.

    ``variance_factor`` v multiplies the estimated variance (Fig. 3: 0, 0.3, 0.5, 0.7, 1.0).
    ``scale`` is the legacy name of a σ multiplier s (v = s²): rows stored with it stay what
    they were, and it may not be combined with ``variance_factor``.
    """

    name = "probdec"
    #: 1×1 and up, thin strips included: a sub-band narrower than the context's reach has empty
    #: wavefronts, which coding skips, and a group whose symbols are all equal is coded by its range.
    min_image_size = (1, 1)
    decode_tolerance_db = CROSS_THREAD_TOLERANCE_DB
    param_defaults = {"checkpoints": [DEMO_PROBDEC], "device": "cpu"}
    #: ``scale`` defaults to None (unset): rows then record variance_factor and seed only.
    decoder_option_defaults = {"variance_factor": 0.0, "seed": 0, "scale": None}
    decoder_option_types = {**_StochasticCodec.decoder_option_types,
                            "variance_factor": ValueType(float, low=0, high=VARIANCE_FACTOR_MAX),
                            "scale": ValueType(float, low=0, high=LEGACY_SCALE_MAX)}
    model_class = ProbDec

    def check_decoder_options(self, options: dict[str, Any]) -> dict[str, Any]:
        if "scale" in options and "variance_factor" in options:
            raise ConfigError("codec 'probdec': decoder options 'scale' (legacy: multiplies σ) and "
                              "'variance_factor' (multiplies σ²) exclude each other; use variance_factor = scale²")
        merged = super().check_decoder_options(options)
        return self._resolved(merged)

    @staticmethod
    def _resolved(options: dict[str, Any]) -> dict[str, Any]:
        """Without ``scale``: variance_factor and seed. With it: scale and seed (what the row was)."""
        options = dict(options)
        if options.get("scale") is None:
            options.pop("scale", None)
        else:
            options.pop("variance_factor", None)
        return options

    def _validate(self, options: dict[str, Any], error: type[Exception]) -> None:
        unknown = sorted(set(options) - set(self.decoder_option_defaults))
        if unknown:
            raise error(f"probdec: unknown decoder option(s) {unknown}")
        if options.get("scale") is not None:
            if not 0 <= float(options["scale"]) <= LEGACY_SCALE_MAX:
                raise error(f"probdec: scale (legacy σ multiplier) must lie in [0, {LEGACY_SCALE_MAX:g}], "
                            f"got {options['scale']!r}")
        elif not 0 <= float(options.get("variance_factor", 0.0)) <= VARIANCE_FACTOR_MAX:
            raise error(f"probdec: variance_factor must lie in [0, {VARIANCE_FACTOR_MAX:g}] (0 = the mode, "
                        f"1 = the learned variance), got {options['variance_factor']!r}")
        if int(options["seed"]) != options["seed"] or int(options["seed"]) < 0:
            raise error(f"probdec: seed must be a non-negative integer, got {options['seed']!r}")

    def decode(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        if "scale" in decoder_options and "variance_factor" in decoder_options:
            raise CodecFailure("probdec: decoder options 'scale' and 'variance_factor' exclude each other")
        return super().decode(data, **decoder_options)

    def decode_float(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        if "scale" in decoder_options and "variance_factor" in decoder_options:
            raise CodecFailure("probdec: decoder options 'scale' and 'variance_factor' exclude each other")
        return super().decode_float(data, **decoder_options)

    def _model(self, path: Path) -> torch.nn.Module:
        """The model in float64: its entropy parameters then differ across devices and thread
        counts by ~1e-13 at most, far inside the grid they are rounded to (``quantise_mixture``)."""
        return super()._model(path).double()

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        model = self._model(self._checkpoint(rate))
        with torch.no_grad():
            out = model.compress(to_padded(image, model.stride, self.device))
        return pack_strings(image.shape[0], image.shape[1], out["shape"], float(rate), out["strings"], out["ranges"])

    def _reconstruct(self, data: bytes, **options: Any) -> tuple[torch.Tensor, int, int]:
        height, width, shape, rate, strings, ranges = unpack_strings(data)
        model = self._model(self._checkpoint(rate))
        if len(strings) != model.levels + 1:
            raise CodecFailure(f"probdec: {len(strings)} strings, the model codes {model.levels + 1}")
        check_latent_shape("probdec", height, width, shape, model.stride)
        legacy = options.get("scale")
        with torch.no_grad():
            x_hat = model.decompress(strings, ranges, shape, variance_factor=float(options.get("variance_factor") or 0.0),
                                     seed=int(options["seed"]),
                                     sigma_multiplier=None if legacy is None else float(legacy))["x_hat"]
        return x_hat, height, width
