"""The worker side of execution: what runs inside a worker process for one unit of work.

The unit of work is a ``bench.plan.tasks.Unit``: the tasks of one image, codec and rate that differ
only in decoder options. ``run_unit`` encodes once, decodes once per option set and measures
the decoded images in one batch, then returns one row per task (a unit of one task is
``run_task``). The units of one image go to one worker together (``run_batch``;
``bench.plan.tasks.by_image``), each unit's rows sent back as soon as they are complete.

Workers keep one instance per configured codec and a few decoded images, so a learned model is
loaded once per worker, not once per image. A failing task becomes a row carrying its one-line
error; the run goes on. A matched-rate task first searches its rate inside the worker
(``bench.plan.rate_search``, one encode per step), then measures at the rate found exactly as an
ordinary task would, so both kinds of task parallelise alike.

The driver (``bench.execute``) hands units out and writes the rows that come back.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Sequence

import numpy as np

from bench.codec import Codec, canonical_json, make_codec
from bench.config.metric_names import FLOAT_METRIC
from bench.config.settings import DETERMINISM_CHECKS
from bench.errors import BenchError, CodecFailure
from bench.execute.thread_portability import decodes_alike_at_other_thread_count
from bench.plan.images import load_rgb8, size_requirement
from bench.plan.tasks import RateTarget, Task, Unit
from bench.config.provenance import Provenance, utc_now
from bench.plan.rate_search import RateSearch, search_rate
from bench.schema import SCHEMA_VERSION
from bench.outputs import output_folder

_CODECS: dict[tuple[str, str], Codec] = {}


@dataclass(frozen=True)
class Settings:
    """What every task needs besides its own identity."""

    metrics: tuple[str, ...]
    #: One of ``bench.config.settings.DETERMINISM_CHECKS``; True and False (the old boolean) mean "all" and "off".
    check_determinism: str | bool = "first"
    device: str = "cpu"
    #: When set, every bitstream is kept as ``<bitstream_dir>/<row key>.bin`` for later re-measuring.
    bitstream_dir: Path | None = None

    def __post_init__(self) -> None:
        mode = self.check_determinism
        if isinstance(mode, bool):
            object.__setattr__(self, "check_determinism", "all" if mode else "off")
        elif mode not in DETERMINISM_CHECKS:
            raise ValueError(f"check_determinism {mode!r}: expected one of {', '.join(DETERMINISM_CHECKS)}")

    def redecodes(self, first_rate: bool) -> bool:
        """Whether a row (at its image and codec's first rate or not) gets the second decode."""
        return self.check_determinism == "all" or (self.check_determinism == "first" and first_rate)

    def determinism_label(self, first_rate: bool) -> str:
        """The row's ``determinism_check`` value."""
        if self.check_determinism == "first" and not first_rate:
            return "skipped-not-first"
        return str(self.check_determinism)

    @property
    def size_requirement(self) -> tuple[int, str | None]:
        """The smallest image side the run's metrics can measure, and which metric needs it."""
        return size_requirement(self.metrics)


@dataclass
class Measurement:
    """The result of one encode → decode → measure pass."""

    data: bytes
    decoded: np.ndarray
    values: dict[str, Any] = field(default_factory=dict)
    #: The unrounded reconstruction (float32, [0, 255]) when it was asked for.
    decoded_float: np.ndarray | None = None


def rounded(image: np.ndarray) -> np.ndarray:
    """An image as an 8-bit file holds it: float reconstructions rounded to nearest and clipped."""
    if image.dtype == np.uint8:
        return image
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def codec_for(impl: str, params: dict[str, Any]) -> Codec:
    """One codec instance per (implementation, parameters) per process."""
    key = (impl, canonical_json(params))
    if key not in _CODECS:
        _CODECS[key] = make_codec(impl, params)
    return _CODECS[key]


def metric_stack() -> ModuleType:
    """``bench.metrics``, imported on first use in a worker.

    It imports torch (about 2 s). The driver imports this module only to hand its functions to
    the workers by reference and never measures, so a module-level import would add that time to
    every run before the first worker starts.
    """
    from bench import metrics
    return metrics


@lru_cache(maxsize=8)
def cached_image(path: Path, requirement: tuple[int, str | None] = (1, None)) -> np.ndarray:
    image = load_rgb8(path, min_side=requirement[0], needed_by=requirement[1])
    image.setflags(write=False)
    return image


def encode_decode_measure(
    codec: Codec, source: np.ndarray, reference: np.ndarray, rate: float,
    decoder_options: dict[str, Any], settings: Settings, keep_float: bool = False, first_rate: bool = True,
) -> Measurement:
    """Encode ``source``, decode, and measure the decoded image against ``reference``.

    ``keep_float`` decodes with ``codec.decode_float`` and measures its rounding (which equals
    ``decode``), keeping the float image for a drift study that carries it. ``first_rate`` says
    whether the "first" determinism check applies (a drift generation stands alone: it does).
    """
    start = time.perf_counter()
    data = codec.encode(source, rate)
    encode_s = time.perf_counter() - start
    decoded_float, decoded, values = decode_checked(codec, data, source.shape, rate, decoder_options, settings,
                                                    keep_float=keep_float, first_rate=first_rate)
    values["encode_s"] = encode_s
    values.update(metric_stack().measure(reference, decoded, list(settings.metrics), device=settings.device,
                                         reconstruction=float_reconstruction(decoded_float)))
    return Measurement(bytes(data), decoded, values, decoded_float if keep_float else None)


def wants_float(codec: Codec, metrics: Sequence[str]) -> bool:
    """Whether to decode with ``decode_float``: a metric of the float reconstruction is asked for
    and the codec has one (its rounding is the decoded image, so one decode serves both)."""
    return FLOAT_METRIC in metrics and codec.supports_float_carry


def float_reconstruction(decoded: np.ndarray) -> np.ndarray | None:
    """The image a float metric measures: ``decoded`` when it is a float reconstruction."""
    return None if decoded.dtype == np.uint8 else decoded


def decode_checked(
    codec: Codec, data: bytes, shape: tuple[int, ...], rate: float, decoder_options: dict[str, Any],
    settings: Settings, keep_float: bool = False, first_rate: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Decode ``data`` (and again when the determinism check applies: at the same torch thread
    count and, for a learned codec, at another), check the bytes and the decoded image's shape
    and type: the reconstruction as decoded, rounded to 8 bits, and the row's values except
    ``encode_s`` and the metrics. Raises CodecFailure on a bad codec result."""
    keep_float = keep_float or wants_float(codec, settings.metrics)
    decode = codec.decode_float if keep_float else codec.decode
    started = time.perf_counter()
    decoded_float = decode(data, **decoder_options)
    decode_s = time.perf_counter() - started
    decoded = rounded(decoded_float)
    if not isinstance(data, (bytes, bytearray)) or len(data) == 0:
        raise CodecFailure(f"{codec.name}: encode returned no bytes")
    expected_dtype = np.float32 if keep_float else np.uint8
    if decoded_float.shape != shape or decoded_float.dtype != expected_dtype:
        raise CodecFailure(
            f"{codec.name}: decoded {decoded_float.shape} {decoded_float.dtype}, expected {shape} {np.dtype(expected_dtype)}"
        )
    deterministic = None
    if settings.redecodes(first_rate):
        deterministic = bool(np.array_equal(decoded_float, decode(data, **decoder_options)))
        if codec.learned:
            deterministic = deterministic and decodes_alike_at_other_thread_count(decode, data, decoder_options,
                                                                                   decoded_float)
    height, width = shape[:2]
    values: dict[str, Any] = {
        "bytes": len(data),
        "bitstream_sha256": hashlib.sha256(data).hexdigest(),
        "bpp": len(data) * 8.0 / (width * height),
        "decode_s": decode_s,
        "deterministic_decode": deterministic,
        "command": codec.describe(rate),
        "device": codec.device,
    }
    return decoded_float, decoded, values


def keep_bitstream(folder: Path, key: str, data: bytes) -> Path:
    """Write ``data`` as ``folder/<key>.bin`` atomically (temporary name, then rename)."""
    output_folder(folder, "kept bitstreams")
    target = folder / f"{key}.bin"
    tmp = folder / f".tmp-{key}-{os.getpid()}"
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def base_row(task: Task, provenance: Provenance) -> dict[str, Any]:
    """The identity and provenance columns of a task's row."""
    return {
        "key": task.key, "dataset": task.dataset, "image": task.image,
        "image_sha256": task.image_sha256, "image_modified": task.image_modified,
        "codec": task.codec, "codec_impl": task.codec_impl,
        "codec_version": task.codec_version, "params": canonical_json(task.params),
        "rate_parameter": task.rate_parameter, "rate": float(task.rate),
        "decoder_options": canonical_json(task.decoder_options), "generation": task.generation,
        "chain": task.chain, "reference": task.reference, "schema_version": SCHEMA_VERSION,
        "target_bpp": task.target.bpp if task.target is not None else None,
        **provenance.fields(),
    }


def one_line(exc: BaseException) -> str:
    """A single-line error text: the message for BenchErrors, type and message otherwise."""
    text = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__


def search_target_rate(codec: Codec, image: np.ndarray, target: RateTarget) -> RateSearch:
    """The rate at which ``codec`` encodes ``image`` nearest ``target.bpp``: one encode per step,
    none for the points ``target.known`` already holds."""
    pixels = image.shape[0] * image.shape[1]

    def measure_bpp(rate: float) -> float:
        return len(codec.encode(image, rate)) * 8.0 / pixels

    return search_rate(measure_bpp, target.bpp, target.low, target.high, target.integer,
                       tolerance=target.tolerance, known=dict(target.known))


def run_task(task: Task, settings: Settings, provenance: Provenance) -> dict[str, Any]:
    """Run one single-pass task in whatever process this is; never raises.

    A matched-rate task searches its rate first; the row records the search, and the rate found.
    """
    row = base_row(task, provenance)
    row["determinism_check"] = settings.determinism_label(task.first_rate)
    try:
        image = cached_image(task.image_path, settings.size_requirement)
        height, width = image.shape[:2]
        row.update(width=width, height=height)
        codec = codec_for(task.codec_impl, task.params)
        codec.check_image_size(image, str(task.image_path))
        rate = task.rate
        if task.target is not None:
            search = search_target_rate(codec, image, task.target)
            rate = search.rate
            row.update(rate=float(rate), rate_search=search.to_json())
        row["command"] = codec.describe(rate)
        reference = codec.reference_image(image)  # e.g. the Y'CbCr round-tripped input (row['reference'])
        measurement = encode_decode_measure(codec, image, reference, rate, task.decoder_options, settings,
                                            first_rate=task.first_rate)
        row.update(measurement.values)
        if settings.bitstream_dir is not None:
            keep_bitstream(settings.bitstream_dir, task.key, measurement.data)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a row, the run goes on
        row["error"] = one_line(exc)
    row["created_utc"] = utc_now()
    return row


def run_unit(unit: Unit, settings: Settings, provenance: Provenance) -> list[dict[str, Any]]:
    """The rows of ``unit`` (one per task, each equal to ``run_task``'s) from one encode: a decode
    per task, the decoded images measured in one ``measure_many`` batch; never raises.

    Each row records the shared encode's seconds and its own decode's. A failed encode fails
    every row; a failed decode only its own.
    """
    if len(unit.tasks) == 1:
        return [run_task(unit.tasks[0], settings, provenance)]
    first = unit.tasks[0]
    rows = [base_row(task, provenance) for task in unit.tasks]
    for task, row in zip(unit.tasks, rows):
        row["determinism_check"] = settings.determinism_label(task.first_rate)
    try:
        image = cached_image(first.image_path, settings.size_requirement)
        height, width = image.shape[:2]
        for row in rows:
            row.update(width=width, height=height)
        codec = codec_for(first.codec_impl, first.params)
        codec.check_image_size(image, str(first.image_path))
        for row in rows:
            row["command"] = codec.describe(first.rate)
        reference = codec.reference_image(image)
        start = time.perf_counter()
        data = codec.encode(image, first.rate)
        encode_s = time.perf_counter() - start
    except Exception as exc:  # noqa: BLE001 - every failure becomes a row, the run goes on
        return [_failed(row, exc) for row in rows]
    decoded: list[tuple[Task, dict[str, Any], np.ndarray, np.ndarray, dict[str, Any]]] = []
    for task, row in zip(unit.tasks, rows):
        try:
            as_decoded, image_8bit, values = decode_checked(codec, data, image.shape, first.rate, task.decoder_options,
                                                            settings, first_rate=task.first_rate)
            decoded.append((task, row, image_8bit, as_decoded, values | {"encode_s": encode_s}))
        except Exception as exc:  # noqa: BLE001
            _failed(row, exc)
    try:
        measured = metric_stack().measure_many(reference, [item[2] for item in decoded], list(settings.metrics),
                                                 device=settings.device,
                                                 reconstructions=[float_reconstruction(item[3]) for item in decoded])
        for (task, row, _, _, values), metric_values in zip(decoded, measured):
            row.update(values)
            row.update(metric_values)
            if settings.bitstream_dir is not None:
                keep_bitstream(settings.bitstream_dir, task.key, bytes(data))
    except Exception as exc:  # noqa: BLE001
        for task, row, *_ in decoded:
            _failed(row, exc)
    for row in rows:
        row.setdefault("created_utc", utc_now())
    return rows


def _failed(row: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    """``row`` as a failed task's row: its one-line error and the time."""
    row["error"] = one_line(exc)
    row["created_utc"] = utc_now()
    return row


def run_batch(batch: list[Unit], settings: Settings, provenance: Provenance, send: Callable[[list[dict[str, Any]]], None],
              unit_worker: Callable[..., list[dict[str, Any]]] = run_unit) -> int:
    """Run every unit of ``batch`` (one image's units, ``bench.plan.tasks.by_image``) in one worker,
    handing each unit's rows to ``send`` as soon as they are complete; returns how many rows it sent.

    The batch keeps the image's decoded pixels, reference-side metric state and loaded models in
    one worker; sending unit by unit means a row reaches the store (and a Ctrl-C keeps it) when its
    task is done, not when the whole image is.
    """
    sent = 0
    for unit in batch:
        rows = unit_worker(unit, settings, provenance)
        send(rows)
        sent += len(rows)
    return sent
