"""Generation loss: decode → re-encode N times, one row per generation, resumable per chain.

A chain is one image under one schedule. A schedule is a list of (codec label, rate) steps
cycled over the generations: ``jpeg:75`` (fixed rate), ``jpeg:90..50:5`` (a ramp of 5 rates,
varying every generation, as in the IAT paper's Fig. 6), ``iat:0.6,jpeg:75,webp:75`` (a chain of
different codecs). Rows carry the schedule in ``chain`` and the generation number; metrics are
against the original image, ``*_prev`` against the previous generation's decoded image.

By default every generation encodes the previous generation's decoded 8-bit image
(``carry = uint8``, also for learned codecs), as a re-saved file would be. ``carry = float`` hands
a learned codec's unrounded reconstruction to the next generation instead (for analysis: how much
of the loss is the 8-bit rounding); metrics are still taken on the rounded image, and the carry
is part of the ``chain`` column, so the two kinds of rows never mix.

Workers write their rows to the store themselves, in small atomic parts, and keep the bitstream
of the last written generation of each chain, so an interrupted study resumes where it stopped,
from that bitstream only when its SHA-256 is its row's (``bench.execute.bitstreams``).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from bench.codec import Codec, canonical_json, codec_class
from bench.config.settings import MAX_RATES, CodecSpec, Config, rate_grid
from bench.plan.datasets import ImageRef
from bench.errors import BitstreamMismatch, ConfigError, ImageError
from bench.execute.bitstreams import read_checked
from bench.execute.worker import Settings, base_row, cached_image, codec_for, encode_decode_measure, one_line, rounded
from bench.metrics.msssim import ms_ssim
from bench.metrics.psnr import psnr_rgb
from bench.plan.tasks import Task
from bench.config.provenance import Provenance, new_provenance, utc_now
from bench.store import BufferedWriter, Store
from bench.outputs import output_folder

#: What the next generation encodes: the decoded 8-bit image, as a file on disk would hold it,
#: or (codecs with ``supports_float_carry``) the float reconstruction before rounding.
CARRY = ("uint8", "float")
STATE_DIR = "drift-state"


@dataclass(frozen=True)
class Step:
    codec: str
    rate: float


def parse_schedule(text: str) -> tuple[Step, ...]:
    """``label:rate[,label:rate…]``; a step ``label:a..b:n`` expands to n rates from a to b."""
    steps: list[Step] = []
    for item in text.split(","):
        parts = item.strip().split(":")
        try:
            if len(parts) == 2 and ".." not in parts[1]:
                steps.append(Step(parts[0], float(parts[1])))
            elif len(parts) == 3 and ".." in parts[1]:
                start, stop = (float(v) for v in parts[1].split(".."))
                count = int(parts[2])
                if not 2 <= count <= MAX_RATES:
                    raise ValueError
                steps += [Step(parts[0], round(start + (stop - start) * i / (count - 1), 6)) for i in range(count)]
            else:
                raise ValueError
        except ValueError:
            raise ConfigError(f"bad drift schedule step {item!r}: use label:rate or label:start..stop:count "
                              f"(count 2 to {MAX_RATES})") from None
    return tuple(steps)


def check_schedules(texts: list[str], config: Config, where: str) -> dict[str, tuple[Step, ...]]:
    """Every schedule parsed and each step checked as ``bench run`` checks its rates, before any
    work: the label configured or registered, the rate finite, within the codec's range and of
    its kind (``settings.rate_grid``). Unchecked, ``jpeg:500`` would run at quality 100 and
    store rows labelled rate 500. ``where`` says where the schedules came from, for the message."""
    parsed = {}
    for text in texts:
        named = f"{where} {text!r}"
        try:
            steps = parse_schedule(text)
            for step in steps:
                rate_grid([step.rate], codec_class(config.spec(step.codec).impl), named, f"step {step.codec}:{step.rate:g}")
        except ConfigError as exc:
            raise ConfigError(str(exc) if str(exc).startswith(named) else f"{named}: {exc}") from None
        parsed[text] = steps
    return parsed


@dataclass(frozen=True)
class Chain:
    """One image under one schedule."""

    image: ImageRef
    image_sha256: str
    schedule: str
    steps: tuple[Step, ...]
    carry: str = "uint8"

    def step(self, generation: int) -> Step:
        return self.steps[(generation - 1) % len(self.steps)]

    @property
    def description(self) -> str:
        """The ``chain`` column: independent of the number of generations, so studies extend."""
        return canonical_json({"schedule": self.schedule, "steps": [[s.codec, s.rate] for s in self.steps], "carry": self.carry})

    @property
    def state_name(self) -> str:
        return hashlib.sha256(f"{self.image.dataset}|{self.image_sha256}|{self.description}".encode()).hexdigest()[:20]


def plan_chains(images: list[ImageRef], parsed: dict[str, tuple[Step, ...]], carry: str) -> list[Chain]:
    """One chain per image × schedule (``check_schedules``' output)."""
    chains = []
    for ref in images:
        digest = ref.sha256()
        chains += [Chain(ref, digest, text, steps, carry) for text, steps in parsed.items()]
    return chains


def generation_task(chain: Chain, generation: int, spec: CodecSpec, codec: Codec) -> Task:
    step = chain.step(generation)
    return Task(
        dataset=chain.image.dataset, image=chain.image.name, image_path=chain.image.path,
        image_sha256=chain.image_sha256, codec=spec.label, codec_impl=spec.impl, codec_version=codec.version(),
        params=codec.params, rate_parameter=codec.rate_parameter, rate=step.rate,
        decoder_options=codec.check_decoder_options(spec.decoder_options[0]), generation=generation,
        chain=chain.description,
    )


def chain_keys(chain: Chain, generations: int, specs: dict[str, CodecSpec], codecs: dict[str, Codec]) -> list[str]:
    return [generation_task(chain, g, specs[chain.step(g).codec], codecs[chain.step(g).codec]).key
            for g in range(1, generations + 1)]


def first_missing(keys: list[str], finished: set[str]) -> int:
    """1-based generation to start from: the first whose row is not stored."""
    for index, key in enumerate(keys):
        if key not in finished:
            return index + 1
    return len(keys) + 1


def _state_file(root: Path, chain: Chain, generation: int) -> Path:
    return root / STATE_DIR / chain.state_name / f"gen-{generation:04d}.bin"


def _atomic_write(path: Path, data: bytes) -> None:
    output_folder(path.parent, "drift state")
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def check_float_carry(chain: Chain, specs: dict[str, CodecSpec]) -> None:
    """A float chain needs every codec in it to have a float reconstruction."""
    if chain.carry != "float":
        return
    for step in chain.steps:
        spec = specs[step.codec]
        if not codec_for(spec.impl, spec.params).supports_float_carry:
            raise ConfigError(f"drift carry 'float': codec {step.codec!r} has no float reconstruction "
                              "(only learned codecs do); use carry 'uint8' for this schedule")


def run_chain(chain: Chain, generations: int, start: int, specs: dict[str, CodecSpec], settings: Settings,
              provenance: Provenance, store_root: Path, carried_sha256: str | None = None) -> dict[str, Any]:
    """Run generations ``start..generations`` of one chain, writing rows as they complete.

    A refused image (not 8-bit RGB, a FIFO, a dangling link) is one error row, as in ``bench
    run``, and the other chains go on. Resuming decodes the carried bitstream of generation
    ``start - 1`` only when it is that row's (``carried_sha256``); one that is not becomes
    generation ``start``'s error row.
    """
    store = Store(store_root)
    try:
        original = cached_image(chain.image.path, settings.size_requirement)
    except ImageError as exc:
        spec = specs[chain.step(start).codec]
        row = base_row(generation_task(chain, start, spec, codec_for(spec.impl, spec.params)), provenance)
        row.update(error=one_line(exc), created_utc=utc_now())
        with BufferedWriter(store, max_rows=1) as writer:
            writer.add(row)
        return {"chain": chain.state_name, "written": 0}
    carry_float = chain.carry == "float"
    current: np.ndarray = original  # what the next generation encodes (float32 when carrying floats)
    refused: BitstreamMismatch | None = None
    if start > 1:
        previous = _state_file(store_root, chain, start - 1)
        spec = specs[chain.step(start - 1).codec]
        if previous.is_file():
            codec = codec_for(spec.impl, spec.params)
            decode = codec.decode_float if carry_float else codec.decode
            try:
                data = read_checked(previous, str(carried_sha256), fix="delete it and run `bench drift run` "
                                    "again, which recomputes this chain from generation 1")
                current = decode(data, **codec.check_decoder_options(spec.decoder_options[0]))
            except BitstreamMismatch as exc:
                refused = exc
        else:  # rows exist but their bitstream does not: recompute deterministically from the start
            start = 1
    written = 0
    with BufferedWriter(store, max_rows=8, max_seconds=5.0) as writer:
        if refused is not None:
            spec = specs[chain.step(start).codec]
            row = base_row(generation_task(chain, start, spec, codec_for(spec.impl, spec.params)), provenance)
            writer.add(row | {"error": one_line(refused), "created_utc": utc_now()})
            return {"chain": chain.state_name, "written": 0}
        for generation in range(start, generations + 1):
            spec = specs[chain.step(generation).codec]
            codec = codec_for(spec.impl, spec.params)
            task = generation_task(chain, generation, spec, codec)
            row = base_row(task, provenance)
            row.update(width=original.shape[1], height=original.shape[0])
            try:
                codec.check_image_size(original, str(chain.image.path))
                measurement = encode_decode_measure(codec, current, original, task.rate, task.decoder_options,
                                                    settings, keep_float=carry_float)
                row.update(measurement.values)
                previous_8bit = rounded(current)
                row["psnr_rgb_prev"] = psnr_rgb(previous_8bit, measurement.decoded)
                if "ms_ssim" in settings.metrics:
                    row["ms_ssim_prev"] = ms_ssim(previous_8bit, measurement.decoded, settings.device)
                _atomic_write(_state_file(store_root, chain, generation), measurement.data)
                current = measurement.decoded_float if carry_float else measurement.decoded
            except Exception as exc:  # noqa: BLE001 - the failure is a row; the chain stops here
                row["error"] = one_line(exc)
                row["created_utc"] = utc_now()
                writer.add(row)
                break
            row["created_utc"] = utc_now()
            writer.add(row)
            written += 1
            stale = _state_file(store_root, chain, generation - 2)  # keep the last two: resume needs one
            if stale.exists():
                stale.unlink()
    return {"chain": chain.state_name, "written": written}


@dataclass(frozen=True)
class DriftRequest:
    """A drift study: bench.toml's ``[run]`` and ``[drift]`` with the command line's overrides."""

    config: Path | None = None
    schedules: tuple[str, ...] = ()
    generations: int | None = None
    datasets: tuple[str, ...] = ()
    jobs: int | None = None
    results: Path | None = None
    metrics: tuple[str, ...] = ()
    limit: int | None = None
    carry: str | None = None
    device: str | None = None


@dataclass
class DriftSummary:
    """What a study wrote: generation rows, and each distinct error message with its count."""

    root: Path
    written: int
    errors: Counter[str]


def run_study(request: DriftRequest, on_start: Callable[[str, int], None] | None = None,
              on_chain: Callable[[dict[str, Any]], None] | None = None,
              on_note: Callable[[str], None] | None = None) -> DriftSummary:
    """Run what is missing of every chain (image × schedule) into the store, with the runner's
    set-up: configuration and flags, device, datasets, store lock, streamed workers.
    ``on_start(message, chains_to_run)`` once planned, ``on_chain`` per finished chain,
    ``on_note`` for a stale lock taken over."""
    from bench.execute.runner import configure, resolve_images, store_lock

    config = configure(request.config, datasets=request.datasets, jobs=request.jobs, results=request.results,
                       metrics=request.metrics, device=request.device)
    schedules = list(request.schedules) or config.drift.get("schedules")
    if not schedules:
        raise ConfigError("no drift schedule: pass --schedule jpeg:75 or set drift.schedules in bench.toml")
    parsed = check_schedules(schedules, config, "--schedule" if request.schedules else f"{config.source}: drift.schedules")
    carry = request.carry or config.drift.get("carry", "uint8")
    if carry not in CARRY:
        raise ConfigError(f"drift carry must be one of {', '.join(CARRY)}, got {carry!r}")
    generations = request.generations or config.drift.get("generations", 10)
    images = resolve_images(config, request.limit)
    chains = plan_chains(images, parsed, carry)
    labels = {step.codec for chain in chains for step in chain.steps}
    specs = {label: config.spec(label) for label in labels}
    codecs = {label: codec_for(spec.impl, spec.params) for label, spec in specs.items()}
    for chain in chains:
        check_float_carry(chain, specs)
    store = Store(config.results)
    with store_lock(store, "bench drift run", on_note):
        return _run_chains(chains, generations, specs, codecs, config, store, on_start, on_chain)


def _run_chains(chains: list[Chain], n: int, specs: dict[str, CodecSpec], codecs: dict[str, Codec], config: Config,
                store: Store, on_start: Callable[[str, int], None] | None,
                on_chain: Callable[[dict[str, Any]], None] | None) -> DriftSummary:
    """Run what is missing of every chain into ``store`` (locked by the caller)."""
    from bench.execute.backends import stream_results

    stored = store.read(include_errors=False)
    digests = dict(zip(stored["key"], stored["bitstream_sha256"])) if not stored.empty else {}
    todo = []
    for chain in chains:
        keys = chain_keys(chain, n, specs, codecs)
        start = first_missing(keys, set(digests))
        if start <= n:  # the carried bitstream's digest: its row's, generation start - 1
            todo.append((chain, start, digests.get(keys[start - 2]) if start > 1 else None))
    remaining = sum(n - start + 1 for _, start, _ in todo)
    if on_start:
        on_start(f"{len(chains)} chains × {n} generations; {len(chains) * n - remaining} rows stored, "
                 f"{remaining} to run → {store.root}", len(todo))
    settings = Settings(metrics=tuple(config.metrics), check_determinism=config.check_determinism, device=config.device)
    kwargs = {"generations": n, "specs": specs, "settings": settings, "provenance": new_provenance(),
              "store_root": store.root}
    written = 0
    for summary in stream_results(_run_item, todo, kwargs, backend=config.backend, jobs=config.jobs,
                                  scheduler=config.scheduler):
        written += summary["written"]
        if on_chain:
            on_chain(summary)
    rows = store.read()
    errors = rows[rows["error"].notna() & (rows["chain"].fillna("") != "")]
    return DriftSummary(store.root, written, Counter(dict(errors["error"].value_counts().items())))


def _run_item(item: tuple[Chain, int, str | None], **kwargs: Any) -> dict[str, Any]:
    """One worker call: ``run_chain`` of a (chain, first generation to run, carried digest) item."""
    chain, start, carried_sha256 = item
    return run_chain(chain, start=start, carried_sha256=carried_sha256, **kwargs)
