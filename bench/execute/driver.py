"""The driver side of execution: hand planned work to workers (in process, a loky pool or a
Dask cluster) and stream the rows that come back into the store.

Tasks go out as units (``bench.execute.worker.run_unit``: one encode per image, codec and rate, a
decode per decoder-option set), the units of one image together (``bench.plan.tasks.by_image``),
each unit's rows sent back the moment they are complete, and every row is written as it arrives,
in small atomic parts. What runs inside a worker is ``bench.execute.worker``.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable

from bench.execute.backends import Interrupted, StopOnSignals, abort, stream_results
from bench.plan.tasks import Task, by_image, units
from bench.config.provenance import Provenance
from bench.errors import BenchError, OutOfResources
from bench.store import BufferedWriter, Store, StoreWriteError, save_recovery
from bench.store.shortage import shortage
from bench.store.parts import part_name
from bench.execute.summary import RunSummary
from bench.execute.worker import Settings, run_batch, run_unit


def execute(tasks: list[Task], skipped: int, settings: Settings, store: Store, provenance: Provenance,
            jobs: int = 1, on_row: Callable[[dict], None] | None = None,
            backend: str = "loky",
            scheduler: str | None = None, stop: StopOnSignals | None = None,
            unit_worker: Callable[..., list[dict]] = run_unit) -> RunSummary:
    """Run ``tasks``, writing every row to ``store`` as it arrives (small atomic parts).

    The tasks run as units (``unit_worker``, one encode per unit) in per-image batches.

    Returns the run's summary: counts, per-codec means of the rows written, wall time. Never
    more workers than work items. On Interrupted (``stop`` turns SIGINT/SIGTERM into it) the
    workers are stopped, the rows already here are written and the exception says how many
    this run stored. A part that cannot be written stops the run at once: the rows not in the
    store go to a recovery file, and the error names it (or says how many rows were lost). Out
    of file descriptors or memory (``bench.store.shortage``) is one line too, the workers ended.
    """
    start = time.perf_counter()
    summary = RunSummary(planned=len(tasks) + skipped, skipped=skipped, results=store.root)
    held = stop.held if stop is not None else contextlib.nullcontext
    kwargs: dict[str, Any] = {"settings": settings, "provenance": provenance}
    batches = by_image(units(tasks), jobs)
    if backend == "loky" and (jobs == 1 or len(batches) <= 1):  # in process: unit by unit, each stored at once
        function, items, streams = unit_worker, units(tasks), False
    else:  # an image's units on one worker, each unit's rows sent back as soon as they are complete
        function, items, streams = run_batch, batches, True
        kwargs["unit_worker"] = unit_worker
    rows = stream_results(function, items, kwargs, backend=backend, jobs=max(1, min(jobs, len(items))),
                          scheduler=scheduler, streams=streams)
    writer = BufferedWriter(store)
    try:
        for row in rows:
            with held():
                writer.add(row)
            summary.add(row)
            if on_row:
                on_row(row)
        with held():
            writer.flush()
    except Interrupted as interrupted:
        abort(rows, interrupted)
        try:
            writer.flush()
        except StoreWriteError as failed:
            raise write_failure(failed, writer, store, provenance.run_id) from None
        interrupted.stored, interrupted.folder = writer.written, store.root
        raise
    except StoreWriteError as failed:
        abort(rows, failed)
        raise write_failure(failed, writer, store, provenance.run_id) from None
    except (OSError, MemoryError) as exc:
        if shortage(exc) is None:
            raise
        abort(rows, exc)  # the workers' pipes and memory are freed first, so the rows here can be written
        raise out_of_resources(exc, writer, store, provenance.run_id) from None
    summary.written = writer.written
    summary.wall_s = time.perf_counter() - start
    return summary


def out_of_resources(exc: OSError | MemoryError, writer: BufferedWriter, store: Store, run_id: str) -> BenchError:
    """The one line for a run that ran out of file descriptors or memory (starting its workers,
    or receiving their rows): the rows received are written, or kept in a recovery file."""
    reason, fix = shortage(exc) or ("out of resources", "pass fewer --jobs")
    try:
        writer.flush()
    except StoreWriteError as failed:
        return write_failure(failed, writer, store, run_id)
    return OutOfResources(f"{store.root}: the run stopped: {reason}; {writer.written} rows stored; {fix}, "
                          "then run the same command to resume")


def write_failure(failed: StoreWriteError, writer: BufferedWriter, store: Store, run_id: str) -> StoreWriteError:
    """The one line for a store that stopped taking parts mid-run: what is stored, and where
    the computed rows it could not take went (or how many were lost)."""
    pending = writer.pending
    saved = save_recovery(pending, run_id)
    # a part's name decides which of two rows with one key is read (the later name wins), so the
    # name offered is one of this moment: a run after the move, measuring these keys again, wins
    name = part_name().removesuffix(".parquet") + "-recovered.parquet"
    where = (f"{len(pending)} computed rows were saved to {saved}: move it into {store.root} as "
             f"{name} once it is writable" if saved is not None
             else f"{len(pending)} computed rows were lost (no writable temporary folder either)")
    return StoreWriteError(f"{failed}. The run stopped with {writer.written} rows stored; {where}.")
