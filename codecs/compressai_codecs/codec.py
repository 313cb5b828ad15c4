"""CompressAI's zoo models and researchers' own CompressAI models as harness codecs.

Each zoo model is registered under its zoo name (``bmshj2018-hyperprior``, ``mbt2018-vbr``, …).
Fixed-rate models sweep ``quality`` (the zoo's index: one checkpoint per quality); the
variable-rate models sweep ``quant_step``, the quantisation step eval_model drives them with
(one checkpoint for every rate). ``compressai-model`` runs any CompressionModel subclass from
one's own checkpoints, one per ``model_index``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import compressai
import numpy as np
import torch

from bench.codec import Codec, ValueType
from bench.errors import CodecFailure, ConfigError
from bench.execute.memory_budget import ensure_fits
from bench_codecs.compressai_codecs.container import Container
from bench_codecs.compressai_codecs.models import (VARIABLE_RATE, LoadedModel, architecture_class, build,
                                                   needs_cdf_update, pad, read_state, unpad)
from bench_codecs.compressai_codecs.weights import ZOO_PREFIX, sha256_prefix, zoo_file, zoo_settings, zoo_vbr_setting
from bench_codecs.inn.coding import ReconstructionDecoder, checkpoint_sha256, resolve_device
from bench_codecs.listings import EVAL_MODEL_QUANT_STEPS

#: Peak RSS of one encode + decode (MiB, MiB per megapixel) of the zoo's largest size of each
#: architecture (quality 8, or 6 for Cheng 2020; a variable-rate model's one size) on the CPU: linear fits of seeded models measured
#: with benchmarks/codec_memory.py (docs/performance.md), so the memory budget refuses or serialises
#: a large image instead of the OOM killer ending a worker. Smaller qualities need less.
PEAK_MEMORY_MIB: dict[str, tuple[float, float]] = {
    "bmshj2018-factorized": (1183.0, 587.9),
    "bmshj2018-hyperprior": (1162.0, 667.5),
    "mbt2018-mean": (1281.0, 540.4),
    "mbt2018": (1253.0, 622.3),
    "cheng2020-anchor": (1271.0, 724.2),
    "cheng2020-attn": (1316.0, 779.6),
    # the variable-rate models: their one size, 512² and 1024² (mbt2018-vbr: 256² and 512²)
    "bmshj2018-hyperprior-vbr": (934.0, 815.5),
    "mbt2018-mean-vbr": (1023.0, 771.2),
    "mbt2018-vbr": (1038.0, 705.2),
}


class _CompressaiCodec(ReconstructionDecoder, Codec):
    """Encode/decode through a CompressAI model's compress()/decompress() in a Container."""

    learned = True
    supports_float_carry = True
    #: Tried from 1×1 up on every zoo architecture (1×1, 3×1, 7×5, 32×32, …): every size codes, as
    #: ``pad`` brings the image to a multiple of 64 before the analysis transform.
    min_image_size = (1, 1)
    #: (MiB, MiB per megapixel) from PEAK_MEMORY_MIB for the zoo architectures (all measured); None (never
    #: limited) for one's own model, whose size bench cannot know.
    peak_memory_mib: ClassVar[tuple[float, float] | None] = None

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._models: dict[str, LoadedModel] = {}

    @property
    def device(self) -> str:
        return resolve_device(str(self.params["device"]))

    @property
    def architecture(self) -> str:
        """The model's zoo name or ``package.module:Class``; also the container's model name."""
        raise NotImplementedError

    def settings(self) -> dict[str, str]:
        """Every checkpoint setting by the bench.toml key that sets it (``params.checkpoints[0]``)."""
        raise NotImplementedError

    def _setting(self, rate: float) -> tuple[str, str]:
        """The (bench.toml key, setting) of the checkpoint that codes ``rate``."""
        raise NotImplementedError

    def _path(self, key: str, setting: str) -> Path:
        where = f"codec {self.name!r}: params.{key.split('[')[0]}"
        return zoo_file(setting, where) if setting.startswith(ZOO_PREFIX) else Path(setting)

    def _model(self, rate: float) -> LoadedModel:
        key, setting = self._setting(rate)
        if setting not in self._models:
            cls = architecture_class(self.architecture, f"codec {self.name!r}: params.architecture")
            self._models[setting] = build(self.architecture, cls, self._path(key, setting),
                                          f"codec {self.name!r}: params.{key}", self.device)
        return self._models[setting]

    def version(self) -> str:
        """CompressAI's version, the class, each checkpoint's SHA-256 prefix (a zoo file's from its
        name, verified at download, so planning never downloads) and whether CDFs are computed on load."""
        cls = architecture_class(self.architecture, f"codec {self.name!r}: params.architecture")
        digests, updated = [], False
        for key, setting in self.settings().items():
            if setting.startswith(ZOO_PREFIX):
                digests.append(sha256_prefix(setting[len(ZOO_PREFIX):]))
                continue
            where = f"codec {self.name!r}: params.{key}"
            digests.append(checkpoint_sha256(setting, where)[:12])
            updated |= needs_cdf_update(read_state(Path(setting), where))
        text = f"CompressAI {compressai.__version__} {cls.__name__}; checkpoints sha256 {','.join(digests)}"
        return text + ("; CDF tables computed on load (update(force=True))" if updated else "")

    def describe(self, rate: float) -> str:
        """The row's ``command``, with the torch thread count on the CPU as the INN codecs give it."""
        where = f"device {self.device}"
        if self.device == "cpu":
            where += f" ({torch.get_num_threads()} torch threads)"
        return (f"{self.name}: {self.architecture}, checkpoint {self._setting(rate)[1]}, "
                f"{self.rate_parameter}={rate:g}, {where}")

    def _arguments(self, loaded: LoadedModel, rate: float) -> dict:
        return loaded.vbr_arguments(rate) if loaded.variable_rate else {}

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        ensure_fits(self.name, self.peak_memory_mib, image.shape[1], image.shape[0])
        loaded = self._model(rate)
        # eval_model's ToTensor: the 8-bit values divided by 255 (a carried float image likewise)
        x = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1)[None].div(255).to(self.device)
        with torch.no_grad():
            out = loaded.model.compress(pad(x), **self._arguments(loaded, rate))
        if any(len(s) != 1 for s in out["strings"]):
            raise CodecFailure(f"codec {self.name!r}: compress() gave {[len(s) for s in out['strings']]} strings per "
                               "entry for one image; expected one")
        height, width = image.shape[:2]
        return Container(self.architecture, float(rate), height, width, tuple(int(d) for d in out["shape"]),
                         tuple(s[0] for s in out["strings"])).pack()

    def _reconstruct(self, data: bytes) -> tuple[torch.Tensor, int, int]:
        stream = Container.unpack(data)
        if stream.model != self.architecture:
            raise CodecFailure(f"codec {self.name!r}: the bitstream was made by {stream.model!r}, "
                               f"this codec runs {self.architecture!r}")
        loaded = self._model(stream.rate)
        with torch.no_grad():
            x_hat = loaded.model.decompress([[s] for s in stream.strings], torch.Size(stream.shape),
                                            **self._arguments(loaded, stream.rate))["x_hat"]
        return unpad(x_hat, stream.height, stream.width), stream.height, stream.width


def _indexed(codec: Codec, settings: list[str], index: int) -> tuple[str, str]:
    if not 1 <= index <= len(settings):
        raise CodecFailure(f"codec {codec.name!r}: {codec.rate_parameter} {index} outside 1..{len(settings)} "
                           "(configured checkpoints)")
    return f"checkpoints[{index - 1}]", settings[index - 1]


class ZooCodec(_CompressaiCodec):
    """A fixed-rate zoo model: quality i runs the zoo's i-th file, or the i-th of ``checkpoints``."""

    zoo_name: ClassVar[str]
    param_defaults = {"metric": "mse", "checkpoints": None, "device": "cpu"}
    param_types = {"metric": ValueType(str, choices=("mse", "ms-ssim")), "checkpoints": ValueType(list, items=str)}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.params["checkpoints"] is None:  # the zoo's files, named as the row key records them
            self.params["checkpoints"] = zoo_settings(self.zoo_name, self.params["metric"])

    @property
    def architecture(self) -> str:
        return self.zoo_name

    def settings(self) -> dict[str, str]:
        return {f"checkpoints[{i}]": s for i, s in enumerate(self.params["checkpoints"])}

    def _setting(self, rate: float) -> tuple[str, str]:
        return _indexed(self, self.params["checkpoints"], int(rate))


class ZooVbrCodec(_CompressaiCodec):
    """A variable-rate zoo model (Kamisli et al. 2024): one checkpoint, a continuous quantisation step."""

    zoo_name: ClassVar[str]
    rate_parameter = "quant_step"
    integer_rates = False
    default_rates = EVAL_MODEL_QUANT_STEPS
    rate_range = (min(EVAL_MODEL_QUANT_STEPS), max(EVAL_MODEL_QUANT_STEPS))
    param_defaults = {"metric": "mse", "checkpoint": None, "device": "cpu"}
    param_types = {"metric": ValueType(str, choices=("mse",)), "checkpoint": ValueType(str)}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.params["checkpoint"] is None:
            self.params["checkpoint"] = zoo_vbr_setting(self.zoo_name, self.params["metric"])

    @property
    def architecture(self) -> str:
        return self.zoo_name

    def settings(self) -> dict[str, str]:
        return {"checkpoint": self.params["checkpoint"]}

    def _setting(self, rate: float) -> tuple[str, str]:
        return "checkpoint", self.params["checkpoint"]


class CompressaiModelCodec(_CompressaiCodec):
    """One's own CompressAI model: ``architecture`` (a zoo name or ``package.module:Class``) and
    ``checkpoints``, one per ``model_index``, in any layout CompressAI's examples/train.py saves."""

    name = "compressai-model"
    rate_parameter = "model_index"
    default_rates = (1,)
    rate_range = (1, 64)
    param_defaults = {"architecture": None, "checkpoints": None, "device": "cpu"}
    param_types = {"architecture": ValueType(str), "checkpoints": ValueType(list, items=str)}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        for key in ("architecture", "checkpoints"):
            if not self.params[key]:
                raise ConfigError(f"codec {self.name!r}: params.{key} is required")
        if self.params["architecture"] in VARIABLE_RATE:
            raise ConfigError(f"codec {self.name!r}: params.architecture = {self.params['architecture']!r} takes a "
                              f"continuous rate: use codec {self.params['architecture']!r} with params.checkpoint")

    @property
    def architecture(self) -> str:
        return self.params["architecture"]

    def settings(self) -> dict[str, str]:
        return {f"checkpoints[{i}]": s for i, s in enumerate(self.params["checkpoints"])}

    def _setting(self, rate: float) -> tuple[str, str]:
        return _indexed(self, self.params["checkpoints"], int(rate))


def _zoo_codec(base: type[_CompressaiCodec], zoo_name: str, qualities: int | None = None) -> type[_CompressaiCodec]:
    """The codec class registered under a zoo name (entry points need one class per name)."""
    attributes: dict[str, Any] = {"name": zoo_name, "zoo_name": zoo_name, "__doc__": f"CompressAI zoo {zoo_name!r}."}
    if qualities:
        attributes |= {"rate_range": (1, qualities), "default_rates": tuple(range(1, qualities + 1))}
    if zoo_name in PEAK_MEMORY_MIB:
        attributes["peak_memory_mib"] = PEAK_MEMORY_MIB[zoo_name]
    return type("".join(part.capitalize() for part in zoo_name.split("-")), (base,), attributes)


Bmshj2018Factorized = _zoo_codec(ZooCodec, "bmshj2018-factorized", 8)
Bmshj2018Hyperprior = _zoo_codec(ZooCodec, "bmshj2018-hyperprior", 8)
Mbt2018Mean = _zoo_codec(ZooCodec, "mbt2018-mean", 8)
Mbt2018 = _zoo_codec(ZooCodec, "mbt2018", 8)
Cheng2020Anchor = _zoo_codec(ZooCodec, "cheng2020-anchor", 6)
Cheng2020Attn = _zoo_codec(ZooCodec, "cheng2020-attn", 6)
Bmshj2018HyperpriorVbr = _zoo_codec(ZooVbrCodec, "bmshj2018-hyperprior-vbr")
Mbt2018MeanVbr = _zoo_codec(ZooVbrCodec, "mbt2018-mean-vbr")
Mbt2018Vbr = _zoo_codec(ZooVbrCodec, "mbt2018-vbr")

