"""InvCompress, IAT and Qmap as harness codecs: real range-coded bitstreams, 8-bit reconstructions.

Models load lazily, once per process, on the configured device (``cpu``, ``cuda``, ``auto``).
The context model's entropy parameters come out of floating-point convolutions; they run on one
torch thread (``one_torch_thread``), so a bitstream decodes at any thread count
(docs/inn-codecs.md, "Portable bitstreams", also says what holds across devices).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from bench.codec import Codec, ValueType
from bench.errors import CodecFailure, CodecUnavailable, ConfigError
from bench.execute.memory_budget import ensure_fits
from bench_codecs.inn.coding import (PAD_MULTIPLE, Bitstream, ReconstructionDecoder, build_model, check_latent_shape,
                                     checkpoint_sha256, padded_size, resolve_device, to_padded_tensor)
from bench_codecs.inn.iat import InvCompressIAT, uniform_level
from bench_codecs.inn.iat_maps import RESIZE_POLICIES, QualityMap, load_quality_map, model_map, pack_with_map
from bench_codecs.inn.iat_maps import unpack as unpack_iat
from bench_codecs.inn.invcompress import InvCompress
from bench_codecs.inn.qmap import MIN_LATENT, SpatiallyAdaptiveCompression, uniform_map
from bench_codecs.inn.qmap import STRIDE as QMAP_STRIDE
from bench_codecs.listings import DEMO_IAT, DEMO_INVCOMPRESS, DEMO_PREFIX, DEMO_QMAP, WEIGHTS


def checkpoint_path(setting: str) -> Path:
    """The file a checkpoint setting names: ``demo:NAME`` in the shipped weights, else the path."""
    if not setting.startswith(DEMO_PREFIX):
        return Path(setting)
    name = setting[len(DEMO_PREFIX):]
    path = WEIGHTS / name
    if Path(name).name != name or path.suffix != ".pt" or not path.is_file():  # a plain file name only
        shipped = sorted(p.name for p in WEIGHTS.glob("*.pt"))
        raise CodecUnavailable(f"checkpoint {setting!r}: no such demo weights; shipped: "
                               f"{', '.join(DEMO_PREFIX + n for n in shipped) or 'none'}")
    return path


#: Decode tolerance (dB of PSNR RGB) of the demo codecs: the float decoders give slightly different
#: pixels from the same bitstream at another torch thread count. Measured decoding the same
#: bitstreams at 1, 2 and 4 threads: at most 1.6e-5 dB on kodim01 and kodim23 (ILC, z=mode;
#: InvCompress 1.3e-5, IAT 3.9e-6) and 4.9e-5 dB on 128×128 crops, where one changed pixel weighs
#: more (ILC on kodim23). 1e-3 dB leaves a margin of 20 and is 50 times below the gate's default
#: PSNR limit (docs/ci.md).
CROSS_THREAD_TOLERANCE_DB = 1e-3


class _LearnedCodec(ReconstructionDecoder, Codec):
    learned = True
    #: Tried from 1×1 up (1×1, 3×1, 1×64, 7×5, 32×32, …): every size codes, as the image is padded
    #: by edge replication to the model's stride before the transform and cropped after it.
    min_image_size = (1, 1)
    integer_rates = True
    supports_float_carry = True
    model_class: ClassVar[type]

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._models: dict[str, torch.nn.Module] = {}

    @property
    def device(self) -> str:
        return resolve_device(str(self.params["device"]))

    def _checkpoint(self, rate: float) -> Path:
        raise NotImplementedError

    def checkpoints(self) -> dict[str, Path]:
        """Every configured checkpoint by the bench.toml key that sets it (``params.checkpoint``)."""
        paths = self.params.get("checkpoints")
        if paths is not None:
            return {f"params.checkpoints[{i}]": checkpoint_path(p) for i, p in enumerate(paths)}
        return {"params.checkpoint": checkpoint_path(self.params["checkpoint"])}

    def _where(self, path: Path) -> str:
        """The setting that names ``path``, for error messages: ``codec 'iat': params.checkpoint``."""
        key = next((k for k, p in self.checkpoints().items() if p == path), "checkpoint")
        return f"codec {self.name!r}: {key}"

    def checkpoint_digests(self) -> str:
        """The checkpoints' SHA-256 prefixes, each file checked first (size, type) so a bad path
        fails in one line when the run is planned, before anything is read."""
        return ",".join(checkpoint_sha256(path, self._where(path))[:12] for path in self.checkpoints().values())

    def _model(self, path: Path) -> torch.nn.Module:
        key = str(path)
        if key not in self._models:
            self._models[key] = build_model(self.model_class, path, self._where(path)).to(self.device)
        return self._models[key]


    def describe(self, rate: float) -> str:
        """The row's ``command``; on the CPU it names the torch thread count too, because the same
        bitstream decodes to different pixels at different counts (docs/inn-speed.md) and a run's
        count depends on its ``jobs`` (loky gives each of n workers cpus/n threads)."""
        where = f"device {self.device}"
        if self.device == "cpu":
            where += f" ({torch.get_num_threads()} torch threads)"
        return f"{self.name}: checkpoint {self._checkpoint(rate)}, {self.rate_parameter}={rate:g}, {where}"


class InvCompressCodec(_LearnedCodec):
    """InvCompress (Xie et al. 2021): one checkpoint per rate point; the rate is its 1-based index."""

    name = "invcompress"
    decode_tolerance_db = CROSS_THREAD_TOLERANCE_DB
    rate_parameter = "model_index"
    default_rates = tuple(range(1, len(DEMO_INVCOMPRESS) + 1))
    rate_range = (1, 64)
    param_defaults = {"checkpoints": list(DEMO_INVCOMPRESS), "device": "cpu"}
    param_types = {"checkpoints": ValueType(list, items=str)}
    model_class = InvCompress
    #: Peak RSS of encode + decode, MiB and MiB per megapixel: the demo weights (N=64) on the CPU,
    #: linear fit over 512² … 2048×1080 (docs/performance.md); larger models need more.
    peak_memory_mib = (825.0, 1876.7)

    def _checkpoint(self, rate: float) -> Path:
        paths = self.params["checkpoints"]
        index = int(rate)
        if not 1 <= index <= len(paths):
            raise CodecFailure(f"invcompress: model_index {index} outside 1..{len(paths)} (configured checkpoints)")
        return checkpoint_path(paths[index - 1])

    def version(self) -> str:
        return f"InvCompress; checkpoints sha256 {self.checkpoint_digests()}"

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        ensure_fits(self.name, self.peak_memory_mib, image.shape[1], image.shape[0])
        model = self._model(self._checkpoint(rate))
        with torch.no_grad():
            out = model.compress(to_padded_tensor(image, self.device))
        return Bitstream.of_compressed(image.shape[0], image.shape[1], float(rate), out).pack()

    def _reconstruct(self, data: bytes) -> tuple[torch.Tensor, int, int]:
        stream = Bitstream.unpack(data)
        check_latent_shape(self.name, stream.height, stream.width, stream.z_shape, PAD_MULTIPLE)
        model = self._model(self._checkpoint(stream.rate))
        with torch.no_grad():
            x_hat = model.decompress([[stream.y_string], [stream.z_string]], torch.Size(stream.z_shape))["x_hat"]
        return x_hat, stream.height, stream.width


class _QualityMapCodec(_LearnedCodec):
    """A codec with one checkpoint and a continuous quality level L ∈ [0, 1] as the rate, and an
    optional spatial quality map (IAT, Qmap).

    Advanced: ``quality_map`` (a named pattern of ``iat_maps.PATTERNS`` or a map file) encodes
    with a spatial quality map, shifted so that its mean over the image is the level;
    ``quality_map_resize`` ("match" or "stretch") sets how a map file's size is set against the
    image. Both stay out of ``params`` (and so out of the row key) unless a map is given; a map
    file's SHA-256 enters ``version()``.
    """

    rate_parameter = "level"
    integer_rates = False
    rate_range = (0.0, 1.0)
    decode_tolerance_db = CROSS_THREAD_TOLERANCE_DB
    param_types = {"quality_map": ValueType(str), "quality_map_resize": ValueType(str, choices=RESIZE_POLICIES)}
    #: The map parameters' defaults, part of each subclass's ``param_defaults``.
    MAP_DEFAULTS = {"quality_map": None, "quality_map_resize": "match"}
    #: Parameters recorded only with a map: rows without one keep the keys they had before maps.
    MAP_PARAMS = ("quality_map", "quality_map_resize")
    #: The model's name in ``version()``.
    label: ClassVar[str]

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._quality_map: QualityMap | None = None
        if "quality_map" in params:
            self._quality_map = load_quality_map(params["quality_map"], self.params["quality_map_resize"],
                                                 f"codec {self.name!r}: params.quality_map")
            return
        if "quality_map_resize" in params:
            raise ConfigError(f"codec {self.name!r}: params.quality_map_resize is set without params.quality_map")
        for key in self.MAP_PARAMS:
            del self.params[key]

    def _checkpoint(self, rate: float) -> Path:
        return checkpoint_path(self.params["checkpoint"])

    def version(self) -> str:
        text = f"{self.label}; checkpoint sha256 {self.checkpoint_digests()}"
        if self._quality_map is not None and self._quality_map.sha256:
            text += f"; quality map sha256 {self._quality_map.sha256[:12]}"
        return text

    def describe(self, rate: float) -> str:
        text = super().describe(rate)
        if self._quality_map is not None:
            text += f", quality map {self._quality_map.name} (resize {self._quality_map.resize}, mean = level)"
        return text


class IatCodec(_QualityMapCodec):
    """IAT (Cai et al. 2022): one checkpoint, a continuous quality level L ∈ [0, 1] as the rate.

    A spatial map (``quality_map``) is carried in the bitstream (format 2,
    ``bench_codecs.inn.iat_maps``): IAT's synthesis needs it.
    """

    name = "iat"
    label = "IAT"
    default_rates = tuple(round(i / 20, 4) for i in range(21))
    param_defaults = {"checkpoint": DEMO_IAT, "device": "cpu", **_QualityMapCodec.MAP_DEFAULTS}
    model_class = InvCompressIAT
    #: Peak RSS of encode + decode, as InvCompress's: the demo weights on the CPU, fit over 512² and
    #: 1024² (docs/performance.md).
    peak_memory_mib = (1100.0, 1341.0)

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        level = float(np.float32(rate))  # the header stores float32: both sides must use that value
        ensure_fits(self.name, self.peak_memory_mib, image.shape[1], image.shape[0])
        model = self._model(self._checkpoint(rate))
        x = to_padded_tensor(image, self.device)
        height, width = image.shape[:2]
        if self._quality_map is None:
            with torch.no_grad():
                out = model.compress(x, uniform_level(level).to(self.device))
            return Bitstream.of_compressed(height, width, level, out).pack()
        grid = self._quality_map.grid(level, height, width)
        with torch.no_grad():
            out = model.compress(x, model_map(grid, x.shape[-2:]).to(self.device))
        return pack_with_map(Bitstream.of_compressed(height, width, level, out), grid)

    def _reconstruct(self, data: bytes) -> tuple[torch.Tensor, int, int]:
        stream, grid = unpack_iat(data)  # the map, if any, comes from the bitstream, never from params
        check_latent_shape(self.name, stream.height, stream.width, stream.z_shape, PAD_MULTIPLE)
        model = self._model(self._checkpoint(stream.rate))
        if grid is None:
            level = uniform_level(stream.rate)
        else:
            level = model_map(grid, (PAD_MULTIPLE * stream.z_shape[0], PAD_MULTIPLE * stream.z_shape[1]))
        with torch.no_grad():
            x_hat = model.decompress([[stream.y_string], [stream.z_string]], torch.Size(stream.z_shape),
                                     level.to(self.device))["x_hat"]
        return x_hat, stream.height, stream.width


class QmapCodec(_QualityMapCodec):
    """Qmap (Song et al. 2021): one checkpoint in the authors' layout, a continuous quality level
    q ∈ [0, 1] as the rate, fed to the encoder as a uniform map (the authors' test maps), or a
    spatial map (``quality_map``) shifted to mean q.

    The synthesis reads the quality from z_hat alone, so no map travels: every bitstream is
    ``coding.Bitstream`` (format 1), whose rate field records the level. The image and the map are
    padded by edge replication to a multiple of 64, and to at least 128 × 128 (z of 2 × 2, the
    smallest the analysis's reflect padding takes), so every image size codes.
    """

    name = "qmap"
    label = "Qmap"
    default_rates = tuple(round(i / 10, 4) for i in range(11))
    param_defaults = {"checkpoint": DEMO_QMAP, "device": "cpu", **_QualityMapCodec.MAP_DEFAULTS}
    model_class = SpatiallyAdaptiveCompression
    #: Padded size at least MIN_PADDED × MIN_PADDED pixels: z at least qmap.MIN_LATENT each way.
    MIN_PADDED = MIN_LATENT * QMAP_STRIDE
    #: Peak RSS of encode + decode, MiB and MiB per megapixel: the demo weights (N=M=64) on the CPU,
    #: linear fit over 512² and 1024² (docs/qmap.md); the authors' N=M=192 models need more.
    peak_memory_mib = (863.0, 645.0)

    def quality_map(self, level: float, height: int, width: int) -> torch.Tensor:
        """The 1×1×H'×W' map the encoder reads for an image of ``height × width`` (padded size)."""
        if self._quality_map is None:
            size = padded_size(height, width, self.MIN_PADDED)
            return uniform_map(level, *size)
        return self._quality_map.padded(level, height, width, self.MIN_PADDED).float()

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        level = float(np.float32(rate))  # the header stores float32, as IAT's
        ensure_fits(self.name, self.peak_memory_mib, image.shape[1], image.shape[0])
        model = self._model(self._checkpoint(rate))
        x = to_padded_tensor(image, self.device, self.MIN_PADDED)
        height, width = image.shape[:2]
        with torch.no_grad():
            out = model.compress(x, self.quality_map(level, height, width).to(self.device))
        return Bitstream.of_compressed(height, width, level, out).pack()

    def _reconstruct(self, data: bytes) -> tuple[torch.Tensor, int, int]:
        stream = Bitstream.unpack(data)
        check_latent_shape(self.name, stream.height, stream.width, stream.z_shape, QMAP_STRIDE, MIN_LATENT)
        model = self._model(self._checkpoint(stream.rate))
        with torch.no_grad():
            x_hat = model.decompress([[stream.y_string], [stream.z_string]], torch.Size(stream.z_shape))["x_hat"]
        return x_hat, stream.height, stream.width
