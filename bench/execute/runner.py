"""One run, start to end: configuration and flags → plan → skip finished work → execute → store.

``bench run`` and ``bench.api.run`` both call ``run``, so a notebook and the command line plan
and key the same tasks. ``--target-bpp`` plans one matched-rate task per image × codec ×
decoder options instead of one per configured rate (docs/matched-rate.md).

The store is checked for writing before anything is planned and locked for the whole run, and
SIGINT/SIGTERM end the run as ``Interrupted`` with the completed rows written
(docs/reliability.md). Notes the caller should see (a stale lock taken over, more jobs than
CPUs) are ``RunWarning`` warnings: one line each on the command line.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench.config import metric_names
from bench.config import settings as config_module
from bench.plan import datasets
from bench.execute import memory_budget
from bench.config.settings import Config
from bench.plan.datasets import ImageRef
from bench.errors import BenchError, ConfigError
from bench.execute.backends import Interrupted, StopOnSignals
from bench.execute.bitstreams import mismatched_keys
from bench.execute.driver import execute
from bench.plan.tasks import DEFAULT_TOLERANCE, Task, pending, plan, plan_matched, with_known_rates
from bench.config.provenance import new_provenance
from bench.store import Store, StoreLock
from bench.execute.summary import RunSummary
from bench.execute.worker import Settings


class RunWarning(UserWarning):
    """Something about a run worth one line that does not stop it."""


@dataclass(frozen=True)
class RunRequest:
    """What to run: bench.toml (``config``) with the command line's overrides."""

    config: Path | None = None
    datasets: tuple[str, ...] = ()
    codecs: tuple[str, ...] = ()
    jobs: int | None = None
    results: Path | None = None
    data_dir: Path | None = None
    metrics: tuple[str, ...] = ()
    limit: int | None = None
    #: Only these image names of each dataset (``--image``); empty: every image.
    images: tuple[str, ...] = ()
    #: These rates for every selected codec instead of its configured grid (``--rate``).
    rates: tuple[float, ...] = ()
    #: Measure dataset files that differ from their pinned SHA-256 (rows get image_modified = true).
    allow_modified: bool = False
    keep_bitstreams: bool = False
    device: str | None = None
    backend: str | None = None
    scheduler: str | None = None
    target_bpp: float | None = None
    tolerance: float | None = None
    #: first, all or off (``bench.config.settings.DETERMINISM_CHECKS``); None keeps bench.toml's.
    check_determinism: str | None = None


def apply_overrides(config: Config, dataset: list[str] | None, codec: list[str] | None, jobs: int | None,
                    results: Path | None, data_dir: Path | None, metric: list[str] | None, backend: str | None = None,
                    scheduler: str | None = None, check_determinism: str | None = None) -> Config:
    """Command-line flags win over bench.toml, each checked as the file's key is; the one place
    flags are applied (``bench run``, ``bench drift run``)."""
    if dataset:
        config.datasets = config_module.unique(dataset)
    if codec:
        for label in codec:
            config.spec(label)
        config.codecs = config_module.unique(codec)
    if jobs is not None:
        config.jobs = config_module.jobs_count(jobs, "--jobs")
    if results:
        config.results = results
    if data_dir:
        config.data_dir = data_dir
    if metric:
        config.metrics = metric_names.validate(metric)
    if backend:
        config.backend = config_module.parse({"run": {"backend": backend}}, source="--backend", codecs=()).backend
    if scheduler:
        config.scheduler = scheduler
    if check_determinism is not None:
        config.check_determinism = config_module.determinism_check(check_determinism, "--check-determinism", toml=False)
    return config


def configure(path: Path | None, *, datasets: tuple[str, ...] = (), codecs: tuple[str, ...] = (),
              jobs: int | None = None, results: Path | None = None, data_dir: Path | None = None,
              metrics: tuple[str, ...] = (), device: str | None = None, backend: str | None = None,
              scheduler: str | None = None, check_determinism: str | None = None) -> Config:
    """bench.toml with the flags applied and the device resolved: the set-up every measuring
    command shares (``run``, ``bench.execute.drift.run_study``). No codec is checked against its class
    here: each command checks the ones it uses (``Config.spec``)."""
    config = apply_overrides(config_module.load(path, codecs=()), list(datasets), list(codecs), jobs, results,
                             data_dir, list(metrics), backend, scheduler, check_determinism)
    config.device = resolve_device(device or config.device)
    return config


def resolve_images(config: Config, limit: int | None = None, allow_modified: bool = False,
                   names: tuple[str, ...] = ()) -> list[ImageRef]:
    """The first ``limit`` images (only ``names`` when given) of every configured dataset,
    checked against their pins."""
    images: list[ImageRef] = []
    for name in config.datasets:
        images.extend(datasets.resolve(name, config.data_dir, limit=limit, allow_modified=allow_modified,
                                       names=config_module.unique(list(names))))
    return images


@contextlib.contextmanager
def store_lock(store: Store, command: str, on_note: Callable[[str], None] | None = None) -> Iterator[StoreLock]:
    """Hold ``store``'s lock under ``command`` for the block, the store checked writable first; a
    held lock is StoreInUse (one line), a stale one taken over is reported through ``on_note``."""
    store.check_writable()
    lock = StoreLock(store.root, command).acquire()
    try:
        if lock.note and on_note:
            on_note(lock.note)
        yield lock
    finally:
        lock.release()


def resolve_device(name: str) -> str:
    """``auto`` means the first CUDA device when torch sees one, else the CPU.

    ``cpu`` is answered without importing torch (about 2 s), which the workers import anyway."""
    if name == "cpu":
        return name
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"--device {name}: torch sees no CUDA device here; use --device cpu or auto")
    if name != "cpu" and not name.startswith("cuda"):
        raise BenchError(f"--device {name!r}: expected cpu, cuda, cuda:N or auto")
    return name


def plan_tasks(images: list[ImageRef], config: Config, target_bpp: float | None, tolerance: float | None) -> list[Task]:
    """Ordinary tasks (every configured rate), or one matched-rate task per image × codec × options."""
    if target_bpp is None:
        if tolerance is not None:
            raise ConfigError("--tolerance applies to matched-rate runs only; add --target-bpp T or drop --tolerance")
        return plan(images, config.selected_specs())
    return plan_matched(images, config.selected_specs(), target_bpp, DEFAULT_TOLERANCE if tolerance is None else tolerance)


def run(request: RunRequest, on_start: Callable[[str, int], None] | None = None,
        on_row: Callable[[dict], None] | None = None) -> RunSummary:
    """Plan, skip stored work, execute the rest; ``on_start(message, tasks_to_run)`` is called
    once planning is done, ``on_row(row)`` per stored row."""
    config = configure(request.config, datasets=request.datasets, codecs=request.codecs, jobs=request.jobs,
                       results=request.results, data_dir=request.data_dir, metrics=request.metrics,
                       device=request.device, backend=request.backend, scheduler=request.scheduler,
                       check_determinism=request.check_determinism)
    if not request.codecs:
        config.check_codecs()  # only the codecs this run uses are checked against their classes
    if request.rates:
        config_module.with_rates(config, request.rates)
    store = Store(config.results)
    store.check_writable()
    with StopOnSignals() as stop:
        lock = StoreLock(store.root)
        try:
            with stop.held():  # a signal here must not leave a half-written lock file
                lock.acquire()
            return _run_locked(request, config, store, stop, lock, on_start, on_row)
        except Interrupted as interrupted:
            interrupted.folder = interrupted.folder or store.root
            raise
        finally:
            lock.release()


def count(n: int, noun: str) -> str:
    """"1 image", "24 images": a start line a user reads reads as English."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def cpu_count() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _run_locked(request: RunRequest, config: Config, store: Store, stop: StopOnSignals, lock: StoreLock,
                on_start: Callable[[str, int], None] | None, on_row: Callable[[dict], None] | None) -> RunSummary:
    """Plan, skip stored work and execute the rest, with the store locked and signals caught."""
    if lock.note:
        warnings.warn(lock.note, RunWarning, stacklevel=3)
    store.remove_temporaries()  # a killed run's half-written parts; no one else writes while we hold the lock
    images = resolve_images(config, request.limit, request.allow_modified, request.images)
    tasks = plan_tasks(images, config, request.target_bpp, request.tolerance)
    todo = pending(tasks, finished_keys(store, request.keep_bitstreams))
    if request.target_bpp is not None and todo:
        todo = with_known_rates(todo, store.read(include_errors=False))
    local = config.backend == "loky" or not config.scheduler
    if local and config.jobs > cpu_count():
        warnings.warn(f"jobs = {config.jobs} is more than the {cpu_count()} CPUs here; going on, "
                      "each worker runs slower", RunWarning, stacklevel=3)
    workers = max(1, min(config.jobs, len(todo)))
    if local:  # learned codecs on large images: no more workers than the memory holds (bench.execute.memory_budget)
        workers, note = memory_budget.limit_workers(workers, memory_budget.task_loads(todo))
        if note:
            warnings.warn(note, RunWarning, stacklevel=3)
    where = config.scheduler or f"{workers} job(s)"
    mode = ("" if request.target_bpp is None
            else f" at {request.target_bpp:g} bpp ±{100 * (request.tolerance or DEFAULT_TOLERANCE):g} %")
    if on_start:
        on_start(f"{count(len(images), 'image')} × {count(len(config.codecs), 'codec')}{mode}: {len(tasks)} tasks, "
                 f"{len(tasks) - len(todo)} already stored, {len(todo)} to run on {config.backend} with {where} "
                 f"→ {store.root}", len(todo))
    settings = Settings(metrics=tuple(config.metrics), check_determinism=config.check_determinism, device=config.device,
                        bitstream_dir=store.root / "bitstreams" if request.keep_bitstreams else None)
    summary = execute(todo, len(tasks) - len(todo), settings, store, new_provenance(), jobs=workers, on_row=on_row,
                      backend=config.backend, scheduler=config.scheduler, stop=stop)
    for row in stored_rows(store, tasks, todo):
        summary.add_stored(row)
    return summary


def finished_keys(store: Store, keep_bitstreams: bool) -> set[str]:
    """Keys whose work is done: every successful row's, except, when this run keeps bitstreams,
    those whose kept bitstream is not the row's (``bench measure`` refuses them and names this run
    as the fix), so the file is written again."""
    finished = store.finished_keys()
    if keep_bitstreams and (store.root / "bitstreams").is_dir():
        finished -= mismatched_keys(store.root, store.read(include_errors=False))
    return finished


def stored_rows(store: Store, tasks: list[Task], todo: list[Task]) -> list[dict]:
    """The stored successful rows of the planned tasks this run skipped, so its summary
    describes all the requested work, not only what was left to do."""
    done = {task.key for task in tasks} - {task.key for task in todo}
    if not done:
        return []
    rows = store.read(include_errors=False)
    return rows[rows["key"].isin(done)].to_dict("records")
