"""Planning: every task of a run is known, and keyed, before any work starts.

A task's key hashes everything that determines its result (image bytes and the image's name
within its dataset, codec implementation, version and parameters, rate, decoder options,
generation, metric reference, schema version), so finished tasks are found in the store and
dropped here: resuming is free, and changing a codec's version or parameters invalidates exactly
its rows. The name is in the key because byte-identical files are still different images of the
dataset: each needs its own rows, or the dataset would lose images (docs/datasets-and-keys.md).

A matched-rate task (``bench run --target-bpp``) does not know its rate before it runs: its
key holds the target bpp and tolerance in place of the rate, so it is keyed, and skipped on
resume, like any other task, and never collides with an ordinary row at the rate it finds.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from bench.codec import Codec, canonical_json, make_codec
from bench.config.settings import CodecSpec
from bench.plan.datasets import ImageRef
from bench.errors import ConfigError
from bench.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    import pandas as pd

#: Relative bpp tolerance of a matched-rate run when none is given: ±5 %.
DEFAULT_TOLERANCE = 0.05


@dataclass(frozen=True)
class RateTarget:
    """What a matched-rate task searches: the rate in ``[low, high]`` whose bpp is within
    ``tolerance`` (relative) of ``bpp``, on integer rates when the codec takes only those.

    ``known`` holds (rate, bpp) points already stored for the image and codec, so the search
    never encodes them again; it does not enter the key.
    """

    bpp: float
    tolerance: float
    low: float
    high: float
    integer: bool
    known: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class Task:
    """One (image, codec, rate, decoder options, generation) measurement."""

    dataset: str
    image: str
    image_path: Path
    image_sha256: str
    codec: str
    codec_impl: str
    codec_version: str
    params: dict[str, Any] = field(hash=False)
    rate_parameter: str = "quality"
    rate: float = 0.0
    decoder_options: dict[str, Any] = field(default_factory=dict, hash=False)
    generation: int = 1
    chain: str = ""
    reference: str = "original"
    #: Set for a matched-rate task: ``rate`` is then unknown (NaN) until the search finds it.
    target: RateTarget | None = field(default=None, hash=False)
    #: The dataset's ``ImageRef.modified``: True when the file differs from its pinned SHA-256 and
    #: the run allowed it. Not in the key, which holds the file's actual digest already.
    image_modified: bool | None = None
    #: The first configured rate (the lowest: bench.toml's rates are sorted) of its image, codec
    #: and decoder options, where the default determinism check re-decodes. Not in the key.
    first_rate: bool = True

    def identity(self) -> dict[str, Any]:
        """What the key hashes: the same for matched-rate and ordinary tasks except the rate."""
        return identity(
            dataset=self.dataset, image=self.image, image_sha256=self.image_sha256, codec=self.codec,
            codec_impl=self.codec_impl, codec_version=self.codec_version, params=canonical_json(self.params),
            rate=float(self.rate), decoder_options=canonical_json(self.decoder_options), generation=self.generation,
            chain=self.chain, reference=self.reference,
            target=None if self.target is None else (self.target.bpp, self.target.tolerance))

    @property
    def key(self) -> str:
        return key_of(self.identity())


def identity(*, dataset: str, image: str, image_sha256: str, codec: str, codec_impl: str, codec_version: str,
             params: str, rate: float, decoder_options: str, generation: int, chain: str, reference: str,
             target: tuple[float, float] | None = None) -> dict[str, Any]:
    """The key's fields, from a task or from a stored row (``bench migrate`` rekeys old rows with it).
    ``params`` and ``decoder_options`` are canonical JSON; ``target`` is (bpp, tolerance) of a
    matched-rate task, which then has no rate in its identity."""
    fields: dict[str, Any] = {
        "dataset": dataset, "image": image, "image_sha256": image_sha256, "codec": codec, "codec_impl": codec_impl,
        "codec_version": codec_version, "params": params, "rate": float(rate), "decoder_options": decoder_options,
        "generation": int(generation), "chain": chain, "reference": reference, "schema_version": SCHEMA_VERSION,
    }
    if target is not None:
        del fields["rate"]
        fields.update(target_bpp=float(target[0]), tolerance=float(target[1]))
    return fields


def key_of(fields: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()


def plan(images: Iterable[ImageRef], specs: list[CodecSpec], codecs: dict[str, Codec] | None = None) -> list[Task]:
    """All tasks for ``images`` × ``specs`` × rates × decoder options, in a stable order.

    ``codecs`` maps labels to instances already built (their ``version()`` enters the key);
    missing ones are built here.
    """
    return _plan(images, specs, codecs, lambda spec, codec: [{"rate": float(rate)} for rate in spec.rates])


def plan_matched(images: Iterable[ImageRef], specs: list[CodecSpec], target_bpp: float, tolerance: float = DEFAULT_TOLERANCE,
                 codecs: dict[str, Codec] | None = None) -> list[Task]:
    """One matched-rate task per image × spec × decoder options, searching for ``target_bpp``."""
    if not (target_bpp > 0 and math.isfinite(target_bpp)):
        raise ConfigError(f"--target-bpp {target_bpp}: give a positive bpp, e.g. --target-bpp 0.5")
    if not 0 < tolerance < 1:
        raise ConfigError(f"--tolerance {tolerance}: give a relative tolerance between 0 and 1, e.g. 0.05 for ±5 %")

    def targets(spec: CodecSpec, codec: Codec) -> list[dict[str, Any]]:
        low, high = search_bounds(spec, codec)
        target = RateTarget(float(target_bpp), float(tolerance), low, high, bool(codec.integer_rates))
        return [{"rate": math.nan, "target": target}]

    return _plan(images, specs, codecs, targets)


def search_bounds(spec: CodecSpec, codec: Codec) -> tuple[float, float]:
    """The rates a matched-rate search may try for ``spec``.

    The codec's declared ``rate_range``, except where it cannot be encoded throughout: an
    unbounded range, or a model index (learned codecs declare 1–64 but hold only the
    configured checkpoints), is narrowed to the span of the configured rates.
    """
    low, high = (float(v) for v in codec.rate_range)
    if codec.rate_parameter == "model_index" or not (math.isfinite(low) and math.isfinite(high)):
        return float(min(spec.rates)), float(max(spec.rates))
    return low, high


def _plan(images: Iterable[ImageRef], specs: list[CodecSpec], codecs: dict[str, Codec] | None,
          points: Callable[[CodecSpec, Codec], list[dict[str, Any]]]) -> list[Task]:
    """Tasks for ``images`` × ``specs`` × decoder options × ``points(spec, codec)`` (the
    per-task fields that vary: a rate, or a rate target), in a stable order."""
    codecs = dict(codecs or {})
    for spec in specs:
        codecs.setdefault(spec.label, make_codec(spec.impl, spec.params))
    tasks = []
    for ref in images:
        digest = ref.sha256()
        for spec in specs:
            codec = codecs[spec.label]
            version = codec.version()
            for options in spec.decoder_options:
                for index, point in enumerate(points(spec, codec)):
                    tasks.append(Task(
                        dataset=ref.dataset, image=ref.name, image_path=ref.path, image_sha256=digest,
                        image_modified=ref.modified,
                        codec=spec.label, codec_impl=spec.impl, codec_version=version,
                        params=codec.params, rate_parameter=codec.rate_parameter,
                        decoder_options=codec.check_decoder_options(options),
                        reference=codec.reference_name(), first_rate=index == 0,
                        **point,
                    ))
    return tasks


@dataclass(frozen=True)
class Unit:
    """Tasks that share one encode: the same image, codec label, rate, generation and chain,
    differing only in decoder options. A worker encodes once and decodes once per task.

    Matched-rate tasks (their rate is found by a search of their own) are units of one task.
    """

    tasks: tuple[Task, ...]

    @property
    def image(self) -> tuple[str, str]:
        """The (dataset, image) whose pixels, reference metric state and codecs the unit uses."""
        return self.tasks[0].dataset, self.tasks[0].image


def units(tasks: Iterable[Task]) -> list[Unit]:
    """``tasks`` grouped into units, in the order of each unit's first task.

    Only the tasks given are grouped, so a unit whose other rows are stored carries just the
    missing ones (and still encodes once).
    """
    groups: dict[tuple[Any, ...], list[Task]] = {}
    for index, task in enumerate(tasks):
        shared = (task.dataset, task.image, task.image_sha256, task.codec, float(task.rate), task.generation, task.chain)
        groups.setdefault(("alone", index) if task.target is not None else shared, []).append(task)
    return [Unit(tuple(group)) for group in groups.values()]


def by_image(work: list[Unit], workers: int) -> list[list[Unit]]:
    """``work`` in batches that keep each image's units together, so one worker reuses the
    decoded image, the metrics' reference state and the loaded models for all of them.

    With fewer images than ``workers``, each image's units are split into contiguous parts
    so that every worker still gets work (a one-image run keeps its parallelism).
    """
    images: dict[tuple[str, str], list[Unit]] = {}
    for unit in work:
        images.setdefault(unit.image, []).append(unit)
    parts = max(1, math.ceil(workers / max(1, len(images))))
    batches = []
    for group in images.values():
        size = math.ceil(len(group) / parts)
        batches.extend(group[start:start + size] for start in range(0, len(group), size))
    return batches


def pending(tasks: list[Task], finished: set[str]) -> list[Task]:
    """Tasks whose key has no successful row yet."""
    return [t for t in tasks if t.key not in finished]


def with_known_rates(tasks: list[Task], rows: pd.DataFrame) -> list[Task]:
    """Matched-rate tasks seeded with the (rate, bpp) points of stored successful single-pass
    rows of the same image, codec label, parameters and codec version, so their searches
    reuse those encodes instead of repeating them. Ordinary tasks pass through unchanged."""
    if rows.empty:
        return tasks
    ok = rows[rows["error"].isna() & (rows["generation"] == 1) & (rows["chain"].fillna("") == "") & rows["bpp"].notna()]
    points: dict[tuple[str, str, str, str], dict[float, float]] = {}
    for image, label, params, version, rate, bpp in zip(ok["image_sha256"], ok["codec"], ok["params"],
                                                        ok["codec_version"], ok["rate"], ok["bpp"]):
        points.setdefault((image, label, params, version), {})[float(rate)] = float(bpp)
    seeded = []
    for task in tasks:
        known = points.get((task.image_sha256, task.codec, canonical_json(task.params), task.codec_version))
        if task.target is not None and known:
            task = replace(task, target=replace(task.target, known=tuple(sorted(known.items()))))
        seeded.append(task)
    return seeded
