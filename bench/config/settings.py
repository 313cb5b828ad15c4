"""``bench.toml``: read once, validated once, into typed settings.

Every unknown key, wrong type or bad rate grid is a ConfigError that names the file and the
key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import math
import re
import stat
import tomllib
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from bench.config import metric_names as metric_registry
from bench.config import toml_limits
from bench.config.defaults import BACKENDS
from bench.config.paths import user_path
from bench.codec import codec_class, toml_value
from bench.errors import ConfigError, one_line

DEFAULT_CONFIG = Path("bench.toml")
RUN_KEYS = {"datasets", "codecs", "metrics", "jobs", "results", "data_dir", "check_determinism", "device",
            "backend", "scheduler"}
CODEC_KEYS = {"impl", "params", "rates", "decoder_options"}
TOP_LEVEL_KEYS = {"run", "codecs", "drift"}
#: Keys of ``[drift]`` (generation-loss studies, ``bench drift``; docs/drift.md).
DRIFT_KEYS = {"generations", "schedules", "carry", "threshold_db"}
#: Most generations a drift study may run: every one is a task per image and codec, planned up front.
MAX_GENERATIONS = 10_000
#: ``check_determinism`` values: re-decode the first rate of every (image, codec, decoder
#: options), every row, or none. TOML ``true`` keeps its old meaning, every row (``all``);
#: ``false`` is ``off``.
DETERMINISM_CHECKS = ("first", "all", "off")
#: Devices the torch metrics accept; whether CUDA exists is checked when the run starts.
DEVICE = re.compile(r"cpu|auto|cuda(:\d+)?")
#: Most rates one codec section may sweep: checked before a ``{start, stop, count}`` grid is built,
#: so a typo such as ``count = 1e12`` is one line instead of gigabytes allocated.
MAX_RATES = 1000
#: Most worker processes a run may ask for (``run.jobs``, ``--jobs``): each is a Python process
#: with its own imports, so more than this is a typo, not a machine.
MAX_JOBS = 1024
#: Integers a parameter may hold: what numpy, torch and the C libraries behind codecs take (int64).
INT64 = (-(2 ** 63), 2 ** 63 - 1)


@dataclass(frozen=True)
class CodecSpec:
    """One configured codec: a label, its implementation, fixed params and the rate sweep."""

    label: str
    impl: str
    params: dict[str, Any]
    rates: tuple[float, ...]
    decoder_options: tuple[dict[str, Any], ...] = ({},)


@dataclass
class Config:
    datasets: list[str] = field(default_factory=lambda: ["sample"])
    codecs: list[str] = field(default_factory=lambda: ["jpeg", "webp"])
    metrics: list[str] = field(default_factory=lambda: ["psnr_rgb", "psnr_y", "ms_ssim", "lpips"])
    jobs: int = 1
    results: Path = Path("results/parts")
    data_dir: Path | None = None
    check_determinism: str = "first"
    device: str = "cpu"
    backend: str = "loky"
    scheduler: str | None = None
    codec_specs: dict[str, CodecSpec] = field(default_factory=dict)
    source: str = "<defaults>"
    #: Every ``[codecs.*]`` section as written, in file order (the order that fixes colours);
    #: a section is checked against its codec (``codec_specs``) when a command uses it.
    codec_sections: dict[str, Any] = field(default_factory=dict)
    #: The validated ``[drift]`` section (empty when absent).
    drift: dict[str, Any] = field(default_factory=dict)

    def spec(self, label: str) -> CodecSpec:
        """The spec for ``label``; a registered name without a section gets its defaults. A
        section is validated against its codec class the first time it is asked for."""
        if label in self.codec_specs:
            return self.codec_specs[label]
        if label in self.codec_sections:
            try:
                self.codec_specs[label] = parse_codec(label, self.codec_sections[label], self.source)
            except ConfigError as exc:
                raise ConfigError(str(exc) if str(exc).startswith(self.source) else f"{self.source}: {exc}") from None
            return self.codec_specs[label]
        cls = codec_class(label)
        return CodecSpec(label, label, {}, tuple(cls.default_rates))

    def check_codecs(self) -> None:
        """Validate ``run.codecs``: an unknown label is an error naming the file."""
        for label in self.codecs:
            try:
                self.spec(label)
            except ConfigError as exc:
                raise ConfigError(str(exc) if str(exc).startswith(self.source) else f"{self.source}: {exc}") from None

    def selected_specs(self) -> list[CodecSpec]:
        return [self.spec(label) for label in self.codecs]


def load(path: Path | None = None, codecs: Iterable[str] | None = None) -> Config:
    """Read and validate ``path`` (default ./bench.toml; defaults when it does not exist).

    ``codecs`` None checks every codec section and ``run.codecs`` against their codec classes
    (importing each codec); otherwise only the labels given are, now, and any other section
    when ``Config.spec`` first asks for it: a command that reads the store (``bench table``)
    passes ``()`` and imports no codec at all.
    """
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.exists():
        if path != DEFAULT_CONFIG:
            raise ConfigError(f"{path}: config file not found")
        return Config()
    text = read_config_text(path)
    toml_limits.check_nesting(text, path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deep to parse; a bench.toml needs three levels at most") from None
    return parse(raw, source=str(path), codecs=codecs)


def read_config_text(path: Path) -> str:
    """The file as UTF-8 (TOML's encoding) whatever the locale; anything but a readable regular
    file of UTF-8 text is one line. Checked with ``stat`` first: opening a FIFO would block."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or type(exc).__name__})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path}: not a regular file; pass --config a bench.toml file")
    toml_limits.check_size(info.st_size, path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8, as TOML requires") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or type(exc).__name__})") from None


def unique(names: list[str]) -> list[str]:
    """``names`` with repeats dropped, first occurrence kept: a codec or dataset named twice
    (in a list or by repeated flags) is run once, not twice into the same keys."""
    return list(dict.fromkeys(names))


def jobs_count(value: Any, where: str) -> int:
    """A worker count in [1, MAX_JOBS]."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_JOBS:
        raise ConfigError(f"{where} = {toml_value(value)}: expected an integer in [1, {MAX_JOBS}]")
    return value


def parse(raw: dict[str, Any], source: str = "<dict>", codecs: Iterable[str] | None = None) -> Config:
    """Validate a parsed TOML document; relative paths resolve against the file's folder.
    ``codecs``: which codec sections to check against their codecs now (``load``)."""
    try:
        return _parse(raw, source, codecs)
    except ConfigError as exc:
        if str(exc).startswith(source):
            raise
        raise ConfigError(f"{source}: {exc}") from None


def _parse(raw: dict[str, Any], source: str, codecs: Iterable[str] | None) -> Config:
    _reject_unknown(raw, TOP_LEVEL_KEYS, source, "")
    run = raw.get("run", {})
    _expect(run, dict, source, "run")
    _reject_unknown(run, RUN_KEYS, source, "run.")
    base = Path(source).parent if source.endswith(".toml") else Path(".")
    config = Config(source=source)
    if "datasets" in run:
        config.datasets = [str(_path(name, source, "run.datasets")) if name.startswith("~") or "$" in name else name
                           for name in _string_list(run["datasets"], source, "run.datasets", "dataset")]
    if "codecs" in run:
        config.codecs = _string_list(run["codecs"], source, "run.codecs", "codec")
    if "metrics" in run:
        config.metrics = metric_registry.validate(_string_list(run["metrics"], source, "run.metrics", "metric"))
    if "jobs" in run:
        config.jobs = jobs_count(run["jobs"], f"{source}: run.jobs")
    if "results" in run:
        config.results = base / _path(run["results"], source, "run.results")
    if "data_dir" in run:
        config.data_dir = base / _path(run["data_dir"], source, "run.data_dir")
    if "check_determinism" in run:
        config.check_determinism = determinism_check(run["check_determinism"], f"{source}: run.check_determinism")
    if "device" in run:
        config.device = _expect(run["device"], str, source, "run.device")
        if not DEVICE.fullmatch(config.device):
            raise ConfigError(f"{source}: run.device = {toml_value(config.device)}: expected cpu, cuda, cuda:N or auto")
    if "backend" in run:
        config.backend = _expect(run["backend"], str, source, "run.backend")
        if config.backend not in BACKENDS:
            raise ConfigError(f"{source}: run.backend must be one of {', '.join(BACKENDS)}, got {config.backend!r}")
    if "scheduler" in run:
        config.scheduler = _expect(run["scheduler"], str, source, "run.scheduler")

    if "drift" in raw:
        config.drift = drift_section(raw["drift"], source)
    sections = raw.get("codecs", {})
    _expect(sections, dict, source, "codecs")
    for label, body in sections.items():
        _expect(body, dict, source, f"codecs.{label}")
        _reject_unknown(body, CODEC_KEYS, source, f"codecs.{label}.")
        section_numbers(label, body, source)
        config.codec_sections[label] = body
    if codecs is None:
        for label in sections:
            config.spec(label)
        config.check_codecs()  # unknown labels fail here, at load time
    else:
        for label in codecs:
            config.spec(label)
    return config


def drift_section(section: Any, source: str) -> dict[str, Any]:
    """``[drift]``: known keys, a generation count in [1, MAX_GENERATIONS], schedules as strings."""
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [drift] must be a table")
    unknown = sorted(set(section) - DRIFT_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join('drift.' + k for k in unknown)}; allowed: {', '.join(sorted(DRIFT_KEYS))}")
    generations = section.get("generations", 1)
    if isinstance(generations, bool) or not isinstance(generations, int) or not 1 <= generations <= MAX_GENERATIONS:
        raise ConfigError(f"{source}: drift.generations must be an integer in [1, {MAX_GENERATIONS}]")
    if "schedules" in section and not (isinstance(section["schedules"], list) and all(isinstance(s, str) for s in section["schedules"])):
        raise ConfigError(f"{source}: drift.schedules must be a list of strings like 'jpeg:75'")
    return dict(section)


def parse_codec(label: str, body: Any, source: str) -> CodecSpec:
    where = f"codecs.{label}"
    _expect(body, dict, source, where)
    _reject_unknown(body, CODEC_KEYS, source, where + ".")
    impl = _expect(body.get("impl", label), str, source, where + ".impl")
    cls = codec_class(impl)
    params = _expect(body.get("params", {}), dict, source, where + ".params")
    unknown, wrong = cls.check_values(params)
    if unknown:
        raise ConfigError(
            f"{source}: {where}.params: unknown parameter(s) {unknown} for codec {impl!r}; "
            f"allowed: {sorted(cls.param_defaults)}"
        )
    _check_numbers(params, f"{source}: [{where}] params.")
    for key, value, problem in wrong:
        raise ConfigError(f"{source}: [{where}] params.{key} = {toml_value(value)}: {problem}")
    rates = rate_grid(body.get("rates", list(cls.default_rates)), cls, source, where + ".rates")
    options = body.get("decoder_options", [{}])
    single = isinstance(options, dict)
    if single:
        options = [options]
    _expect(options, list, source, where + ".decoder_options")
    for index, option in enumerate(options):
        _expect(option, dict, source, where + ".decoder_options[]")
        bad, wrong = cls.check_values(option, decoder_option=True)
        if bad:
            raise ConfigError(
                f"{source}: {where}.decoder_options: unknown option(s) {bad} for codec {impl!r}; "
                f"allowed: {sorted(cls.decoder_option_defaults)}"
            )
        at = "decoder_options" if single else f"decoder_options[{index}]"
        _check_numbers(option, f"{source}: [{where}] {at}.")
        for key, value, problem in wrong:
            raise ConfigError(f"{source}: [{where}] {at}.{key} = {toml_value(value)}: {problem}")
    return CodecSpec(label, impl, dict(params), rates, tuple(dict(o) for o in options))


def determinism_check(value: Any, where: str, toml: bool = True) -> str:
    """One of ``DETERMINISM_CHECKS`` from a TOML value (booleans as documented there) or a flag."""
    if toml and isinstance(value, bool):
        return "all" if value else "off"
    if value not in DETERMINISM_CHECKS:
        booleans = ' (true means "all", false "off")' if toml else ""
        raise ConfigError(f'{where} = {toml_value(value)}: expected "first", "all" or "off"{booleans}')
    return str(value)


def with_rates(config: Config, rates: Iterable[float]) -> Config:
    """``bench run --rate``: every selected codec sweeps ``rates`` instead of its configured grid,
    each rate checked against the codec's range as bench.toml's are."""
    for label in config.codecs:
        spec = config.spec(label)
        grid = rate_grid(list(dict.fromkeys(rates)), codec_class(spec.impl), "command line", f"--rate for {label}")
        config.codec_specs[label] = dataclasses.replace(spec, rates=grid)
    return config


def rate_grid(value: Any, cls: type, source: str, where: str) -> tuple[float, ...]:
    """A list of rates, or ``{start, stop, count}`` for an evenly spaced continuous sweep."""
    if isinstance(value, dict):
        _reject_unknown(value, {"start", "stop", "count"}, source, where + ".")
        if not {"start", "stop", "count"} <= set(value):
            raise ConfigError(f"{source}: {where} needs numeric start, stop and an integer count")
        for key in ("start", "stop", "count"):
            number = value[key]
            if not _is_finite_number(number) or (key == "count" and isinstance(number, float) and not number.is_integer()):
                expected = "an integer number of rates" if key == "count" else "a number"
                raise ConfigError(f"{source}: {where}.{key} = {toml_value(number)}: expected {expected}")
        start, stop, count = float(value["start"]), float(value["stop"]), int(value["count"])
        if not 1 <= count <= MAX_RATES:
            raise ConfigError(f"{source}: {where}.count = {toml_value(value['count'])}: expected an integer in [1, {MAX_RATES}]")
        step = 0.0 if count == 1 else (stop - start) / (count - 1)
        value = [round(start + i * step, 10) for i in range(count)]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{source}: {where} must be a non-empty list of numbers or {{start, stop, count}}")
    if len(value) > MAX_RATES:
        raise ConfigError(f"{source}: {where}: {len(value)} rates, more than the {MAX_RATES} one codec may sweep")
    low, high = cls.rate_range
    for rate in value:
        if not _is_finite_number(rate):
            what = "is not a number" if isinstance(rate, bool) or not isinstance(rate, (int, float)) else "is not a finite number"
            raise ConfigError(f"{source}: {where}: {one_line(repr(rate), 80)} {what}")
        if not low <= rate <= high:
            raise ConfigError(f"{source}: {where}: {toml_value(rate)} outside {cls.name}'s {cls.rate_parameter} range [{low}, {high}]")
        if cls.integer_rates and float(rate) != int(rate):
            raise ConfigError(f"{source}: {where}: {cls.name} takes integer {cls.rate_parameter} values, got {rate}")
    if len(set(value)) != len(value):
        raise ConfigError(f"{source}: {where} has duplicate values")
    return tuple(sorted(float(r) for r in value))


def section_numbers(label: str, body: dict[str, Any], source: str) -> None:
    """The checks of a codec section that need no codec class, run on every section when the
    file is read, selected or not: numbers finite and within 64 bits, at most MAX_RATES rates,
    a grid count bounded before anything is built. The rest (types, ranges) waits for the class."""
    where = f"codecs.{label}"
    if isinstance(body.get("params"), dict):
        _check_numbers(body["params"], f"{source}: [{where}] params.")
    options = body.get("decoder_options")
    for index, option in enumerate(options if isinstance(options, list) else [options]):
        if isinstance(option, dict):
            at = "decoder_options" if isinstance(options, dict) else f"decoder_options[{index}]"
            _check_numbers(option, f"{source}: [{where}] {at}.")
    rates = body.get("rates")
    if isinstance(rates, list):
        if len(rates) > MAX_RATES:
            raise ConfigError(f"{source}: {where}.rates: {len(rates)} rates, more than the {MAX_RATES} one codec may sweep")
        for rate in rates:
            if isinstance(rate, (int, float)) and not isinstance(rate, bool) and not _is_finite_number(rate):
                raise ConfigError(f"{source}: {where}.rates: {one_line(repr(rate), 80)} is not a finite number")
    elif isinstance(rates, dict):
        for key in ("start", "stop", "count"):
            number = rates.get(key)
            if isinstance(number, (int, float)) and not isinstance(number, bool) and not _is_finite_number(number):
                raise ConfigError(f"{source}: {where}.rates.{key} = {toml_value(number)}: expected a finite number")
        count = rates.get("count")
        if isinstance(count, (int, float)) and not isinstance(count, bool) and not 1 <= count <= MAX_RATES:
            raise ConfigError(f"{source}: {where}.rates.count = {toml_value(count)}: expected an integer in [1, {MAX_RATES}]")


def _is_finite_number(value: Any) -> bool:
    """An int within 64 bits or a finite float; never a bool."""
    if isinstance(value, bool):
        return False
    return INT64[0] <= value <= INT64[1] if isinstance(value, int) else isinstance(value, float) and math.isfinite(value)


def _check_numbers(values: dict[str, Any], where: str) -> None:
    """Every number of a params or decoder-options table finite and within int64, whatever the
    codec declares: an infinite timeout or a 30-digit seed must be one line here, not an
    OverflowError inside a worker."""
    for key, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(f"{where}{key} = {toml_value(value)}: expected a finite number")
            if isinstance(item, int) and not isinstance(item, bool) and not INT64[0] <= item <= INT64[1]:
                raise ConfigError(f"{where}{key} = {toml_value(value)}: expected an integer within 64 bits")


def _reject_unknown(section: dict, allowed: set[str], source: str, prefix: str) -> None:
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(prefix + k for k in unknown)}; allowed: {', '.join(sorted(allowed))}")


def _expect(value: Any, kind: type, source: str, where: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {where} must be {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def _path(value: Any, source: str, where: str) -> Path:
    """A path key: a string, ``~`` expanded, environment variables refused (``user_path``)."""
    return user_path(_expect(value, str, source, where), f"{source}: {where} = {toml_value(value)}")


def _string_list(value: Any, source: str, where: str, what: str) -> list[str]:
    """A non-empty list of names: an empty one would plan nothing and still "succeed"."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{source}: {where} must be a list of strings")
    if not value:
        raise ConfigError(f"{source}: {where} = []: nothing to run; name at least one {what}")
    return unique(value)
