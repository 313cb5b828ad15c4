"""The one interface every codec implements, and the registry that finds them.

Classical and learned codecs look the same to the harness: bytes out of ``encode``, an 8-bit
RGB image out of ``decode``. The core only ever sees this interface; concrete codecs live in
the ``bench_codecs`` package (folder ``codecs/``) or in any third-party package that adds an
entry to the ``bench.codecs`` entry-point group.
"""

from __future__ import annotations

import abc
import json
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, ClassVar

import numpy as np

from bench.errors import CodecUnavailable, ConfigError

ENTRY_POINT_GROUP = "bench.codecs"


class Codec(abc.ABC):
    """A lossy image codec swept over one rate parameter.

    Subclasses set the class attributes and implement ``version``, ``encode`` and ``decode``.
    ``params`` are fixed per configured codec (e.g. chroma subsampling); ``rate`` is the swept
    knob (quality, QP, lambda index, continuous level). ``decoder_options`` are knobs of the
    decoder alone (e.g. a sampling temperature and seed) so one bitstream can yield several
    reconstructions; they are recorded in every row.
    """

    #: Registry name, stable across versions; used in bench.toml and stored in rows.
    name: ClassVar[str]
    #: Human name of the swept parameter ("quality", "qp", "level", ...).
    rate_parameter: ClassVar[str] = "quality"
    #: Grid used when bench.toml gives none.
    default_rates: ClassVar[tuple[float, ...]] = ()
    #: Inclusive bounds of valid rate values, checked when the config is validated.
    rate_range: ClassVar[tuple[float, float]] = (float("-inf"), float("inf"))
    #: Whether the rate must be an integer (e.g. JPEG quality, QP).
    integer_rates: ClassVar[bool] = True
    #: Allowed parameters and their defaults; unknown keys in bench.toml are errors.
    param_defaults: ClassVar[dict[str, Any]] = {}
    #: Allowed decoder options and their defaults.
    decoder_option_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(self.param_defaults))
        if unknown:
            raise ConfigError(
                f"codec {self.name!r}: unknown parameter(s) {unknown}; "
                f"allowed: {sorted(self.param_defaults)}"
            )
        self.params: dict[str, Any] = {**self.param_defaults, **params}

    # -- what the harness records ------------------------------------------------------
    @property
    def device(self) -> str:
        """Where the codec computes ("cpu", "cuda:0"); stored with each row."""
        return "cpu"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when the codec can run here, else one line saying why not and how to fix it."""
        return None

    @abc.abstractmethod
    def version(self) -> str:
        """Library version, binary version string, or checkpoint hash: part of every row key."""

    def describe(self, rate: float) -> str:
        """The exact encode call or command line for ``rate``, stored so a row can be re-made."""
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"{self.name}.encode(image, {self.rate_parameter}={rate!r}{', ' if args else ''}{args})"

    # -- the work ---------------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, image: np.ndarray, rate: float) -> bytes:
        """Compress an ``H×W×3`` uint8 RGB image to the complete bitstream (every byte counted)."""

    @abc.abstractmethod
    def decode(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        """Reconstruct an ``H×W×3`` uint8 RGB image from ``data`` alone (plus fixed weights)."""

    #: Whether ``decode_float`` exists and ``encode`` accepts its output: drift studies may then
    #: carry unrounded reconstructions between generations (learned codecs only).
    supports_float_carry: ClassVar[bool] = False

    def decode_float(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        """The reconstruction before rounding to 8 bits: ``H×W×3`` float32 in [0, 255].

        ``decode`` must equal this rounded to nearest; ``encode`` then also accepts such an array.
        """
        raise NotImplementedError(f"codec {self.name!r} has no float reconstruction")

    def check_decoder_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Merge decoder options with their defaults, rejecting unknown names."""
        unknown = sorted(set(options) - set(self.decoder_option_defaults))
        if unknown:
            raise ConfigError(
                f"codec {self.name!r}: unknown decoder option(s) {unknown}; "
                f"allowed: {sorted(self.decoder_option_defaults)}"
            )
        return {**self.decoder_option_defaults, **options}


def canonical_json(value: Any) -> str:
    """Stable JSON (sorted keys, no spaces) so equal parameters always hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def registered_names() -> list[str]:
    """Names in the ``bench.codecs`` entry-point group, without importing any codec."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def registered_codecs() -> dict[str, type[Codec]]:
    """All codec classes registered under the ``bench.codecs`` entry-point group, by name."""
    return {name: codec_class(name) for name in registered_names()}


@lru_cache(maxsize=None)
def codec_class(name: str) -> type[Codec]:
    """The registered class for ``name``, or a ConfigError listing the known names.

    Only the named entry point is imported: a run of JPEG alone never pays for importing the
    learned codecs' torch stack in every worker.
    """
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        raise ConfigError(
            f"unknown codec {name!r}; registered codecs: {', '.join(registered_names())} "
            f"(a new codec registers in the {ENTRY_POINT_GROUP!r} entry-point group)"
        )
    cls = found[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise TypeError(f"entry point {found[0].value!r} in {ENTRY_POINT_GROUP} is not a Codec")
    return cls


def make_codec(name: str, params: dict[str, Any] | None = None) -> Codec:
    """Instantiate a registered codec, raising CodecUnavailable when it cannot run here."""
    cls = codec_class(name)
    reason = cls.unavailable_reason()
    if reason:
        raise CodecUnavailable(f"codec {name!r} unavailable: {reason}")
    return cls(**(params or {}))
