"""The one interface every codec implements, and the registry that finds them.

Classical and learned codecs look the same to the harness: bytes out of ``encode``, an 8-bit
RGB image out of ``decode``. The core only ever sees this interface; concrete codecs live in
the ``bench_codecs`` package (folder ``codecs/``) or in any third-party package that adds an
entry to the ``bench.codecs`` entry-point group.
"""

from __future__ import annotations

import abc
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from bench import registry
from bench.errors import CodecUnavailable, ConfigError, ImageError, one_line

ENTRY_POINT_GROUP = registry.GROUPS["codec"]

_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list"}


@dataclass(frozen=True)
class ValueType:
    """What one parameter or decoder option accepts: a kind, and optionally choices or a range.

    Most are inferred from the default's type (see :func:`inferred_type`); a codec declares one
    where the default cannot say it: a None default (a checkpoint path), a closed set of strings
    (WebP has no ``method = "fast"``), or a range (ProbDec's ``scale`` in [0, 4]). ``float``
    accepts integers, since TOML writes ``1`` for ``1.0``; no kind accepts a bool but ``bool``.
    """

    kind: type
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    #: For ``list``: the kind of every item (checkpoint paths are strings).
    items: type | None = None

    def problem(self, value: Any) -> str | None:
        """None when ``value`` fits, else what was expected ("expected an integer")."""
        if not _is_kind(value, self.kind) or (self.items and not all(_is_kind(v, self.items) for v in value)):
            return f"expected {self.describe()}"
        if self.choices and value not in self.choices:
            return f"expected one of {', '.join(toml_value(c) for c in self.choices)}"
        if self.kind in (int, float) and not (
                (self.low is None or value >= self.low) and (self.high is None or value <= self.high)):
            return f"expected {self.describe()}"
        return None

    def describe(self) -> str:
        """The accepted values in words: "an integer in [0, 6]", "a list of strings"."""
        if self.kind is list and self.items:
            return f"a list of {_KIND_NAMES[self.items].removeprefix('a ').removeprefix('an ')}s"
        text = _KIND_NAMES.get(self.kind, self.kind.__name__)
        if self.low is not None and self.high is not None:
            return f"{text} in [{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{text} ≥ {self.low:g}"
        if self.high is not None:
            return f"{text} ≤ {self.high:g}"
        return text


def _is_kind(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def inferred_type(default: Any) -> ValueType | None:
    """The type a default's own type implies (bool, int, float, str, list of str); None: unchecked."""
    for kind in (bool, int, float, str):
        if type(default) is kind:
            return ValueType(kind)
    if isinstance(default, list) and default and all(isinstance(v, str) for v in default):
        return ValueType(list, items=str)
    return None


def toml_value(value: Any) -> str:
    """``value`` as bench.toml writes it (``"fast"``, ``true``, ``[1, 2]``), capped to one short line."""
    return one_line(json.dumps(value, ensure_ascii=False, default=str), 80)


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
    #: Types of parameters beyond what their defaults imply (choices, ranges, None defaults).
    param_types: ClassVar[dict[str, ValueType]] = {}
    #: Types of decoder options beyond what their defaults imply.
    decoder_option_types: ClassVar[dict[str, ValueType]] = {}
    #: Whether the codec is a learned (trained-network) codec rather than a classical one: figures
    #: that group codecs (the crops grid) ask the implementation, never a list of names.
    learned: ClassVar[bool] = False
    #: How far (dB of PSNR RGB) two decodes of the same bitstream may differ on one machine. The
    #: regression gate (``bench compare``) holds bytes to exact equality and decoded PSNR to this:
    #: a float decoder gives slightly different pixels at another torch thread count, which
    #: ``bench run --jobs`` changes. Classical codecs keep 0, their decoders are integer; a learned
    #: codec declares its measured cross-thread worst case with a margin (docs/ci.md).
    decode_tolerance_db: ClassVar[float] = 0.0
    #: The smallest image the codec codes, (width, height) in pixels, found by trying sizes
    #: (docs/inn-codecs.md, docs/compressai-codecs.md). A smaller image is refused before it is
    #: encoded, in one line naming it (``check_image_size``): a network's own error on a too
    #: small input names neither the image nor the cause.
    min_image_size: ClassVar[tuple[int, int]] = (1, 1)

    def __init__(self, **params: Any) -> None:
        unknown, wrong = self.check_values(params)
        if unknown:
            raise ConfigError(
                f"codec {self.name!r}: unknown parameter(s) {unknown}; "
                f"allowed: {sorted(self.param_defaults)}"
            )
        for key, value, problem in wrong:
            raise ConfigError(f"codec {self.name!r}: params.{key} = {toml_value(value)}: {problem}")
        self.params: dict[str, Any] = {**self.param_defaults, **params}

    @classmethod
    def check_values(cls, values: dict[str, Any], decoder_option: bool = False) -> tuple[list[str], list[tuple[str, Any, str]]]:
        """The one check of a params (or decoder-options) table, wherever it comes from
        (bench.toml, a constructor, ``check_decoder_options``): the names this codec does not
        declare, sorted, and (key, value, what was expected) for each declared one whose value
        does not fit its type. Each caller words the error for where the table came from."""
        defaults = cls.decoder_option_defaults if decoder_option else cls.param_defaults
        unknown = sorted(set(values) - set(defaults))
        return unknown, cls.value_problems({k: v for k, v in values.items() if k in defaults}, decoder_option)

    @classmethod
    def value_type(cls, key: str, decoder_option: bool = False) -> ValueType | None:
        """The declared type of a parameter (or decoder option), else the one its default implies."""
        declared, defaults = ((cls.decoder_option_types, cls.decoder_option_defaults) if decoder_option
                              else (cls.param_types, cls.param_defaults))
        return declared.get(key) or inferred_type(defaults.get(key))

    @classmethod
    def value_problems(cls, values: dict[str, Any], decoder_option: bool = False) -> list[tuple[str, Any, str]]:
        """(key, value, what was expected) for each known key whose value does not fit its type."""
        problems = []
        for key, value in values.items():
            kind = cls.value_type(key, decoder_option)
            problem = kind.problem(value) if kind else None
            if problem:
                problems.append((key, value, problem))
        return problems

    # -- what the harness records ------------------------------------------------------
    @property
    def device(self) -> str:
        """Where the codec computes ("cpu", "cuda:0"); stored with each row."""
        return "cpu"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when the codec can run here, else one line saying why not and how to fix it."""
        return None

    def reference_name(self) -> str:
        """What the metrics compare the decoded image with, stored in each row's ``reference``
        (part of the key): ``"original"`` unless a codec measures against, say, the Y'CbCr
        round trip of the input as some published curves did (BPG, VTM)."""
        return "original"

    def reference_image(self, original: np.ndarray) -> np.ndarray:
        """The image the metrics compare the decoded image with: ``original`` unless the codec
        overrides ``reference_name`` and this together."""
        return original

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

    def check_image_size(self, image: np.ndarray, name: str) -> None:
        """Refuse ``image`` (called ``name`` in the message) when it is below ``min_image_size``."""
        height, width = image.shape[:2]
        min_width, min_height = self.min_image_size
        if width < min_width or height < min_height:
            raise ImageError(f"{name}: image is {width}×{height}; codec {self.name} needs at least "
                             f"{min_width}×{min_height} pixels, use larger images or leave {self.name} out")

    def check_decoder_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Merge decoder options with their defaults, rejecting unknown names."""
        unknown, wrong = self.check_values(options, decoder_option=True)
        if unknown:
            raise ConfigError(
                f"codec {self.name!r}: unknown decoder option(s) {unknown}; "
                f"allowed: {sorted(self.decoder_option_defaults)}"
            )
        for key, value, problem in wrong:
            raise ConfigError(f"codec {self.name!r}: decoder_options.{key} = {toml_value(value)}: {problem}")
        return {**self.decoder_option_defaults, **options}


def canonical_json(value: Any) -> str:
    """Stable JSON (sorted keys, no spaces) so equal parameters always hash equally."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def registered_names() -> list[str]:
    """Names in the ``bench.codecs`` entry-point group, without importing any codec."""
    return registry.names("codec")


def registered_codecs() -> dict[str, type[Codec]]:
    """All codec classes registered under the ``bench.codecs`` entry-point group, by name."""
    return {name: codec_class(name) for name in registered_names()}


@lru_cache(maxsize=None)
def codec_class(name: str) -> type[Codec]:
    """The registered class for ``name``, or a ConfigError listing the known names.

    Only the named entry point is imported: a run of JPEG alone never pays for importing the
    learned codecs' torch stack in every worker.
    """
    cls = registry.load("codec", name)
    if cls is None:
        raise ConfigError(
            f"unknown codec {name!r}; registered codecs: {', '.join(registered_names())} "
            f"(a new codec registers in the {ENTRY_POINT_GROUP!r} entry-point group)"
        )
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise TypeError(f"entry point {registry.entry_value('codec', name)!r} in {ENTRY_POINT_GROUP} is not a Codec")
    return cls


def make_codec(name: str, params: dict[str, Any] | None = None) -> Codec:
    """Instantiate a registered codec, raising CodecUnavailable when it cannot run here."""
    cls = codec_class(name)
    reason = cls.unavailable_reason()
    if reason:
        raise CodecUnavailable(f"codec {name!r} unavailable: {reason}")
    return cls(**(params or {}))
