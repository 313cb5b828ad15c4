"""Where tasks run: in process, on a local joblib (loky) pool, or on a Dask cluster.

Every backend runs the same task function and streams rows back to the one process that
writes the store, so results land in one place without duplicates whatever runs them. Workers
are long-lived on every backend, so per-process caches (a loaded model, decoded images) last.

How a run stops early also lives here: ``StopOnSignals`` turns SIGINT and SIGTERM into
``Interrupted`` in the main thread, and ``abort`` throws an exception into a row stream so the
backend ends its workers (joblib terminates the loky pool, Dask closes its client) without the
warning joblib gives for a generator that is merely dropped.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Generator, Iterator, Sequence

from bench.config.defaults import BACKENDS
from bench.errors import ConfigError


def stream_results(function: Callable[..., dict | list[dict]], items: Sequence[Any], kwargs: dict[str, Any],
                   backend: str = "loky", jobs: int = 1, scheduler: str | None = None) -> Iterator[dict]:
    """``function(item, **kwargs)`` for every item, yielded in completion order.

    A function may return several rows as a list (a unit of work, or one image's units): each
    item is one call on one worker, and its rows are yielded one by one to the single writer.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "dask":
        results = _dask(function, items, kwargs, jobs, scheduler)
    elif jobs == 1 or len(items) <= 1:
        results = (function(item, **kwargs) for item in items)
    else:
        results = _loky(function, items, kwargs, jobs)
    try:
        for result in results:
            if isinstance(result, list):
                yield from result
            else:
                yield result
    except BaseException as reason:
        abort(results, reason)  # an abort thrown in here reaches the backend, which stops its workers
        raise


def _loky(function: Callable[..., Any], items: Sequence[Any], kwargs: dict[str, Any], jobs: int) -> Iterator[Any]:
    """One joblib call per item on a loky pool of ``jobs`` workers, in completion order."""
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="loky", initializer=init_worker):
        parallel = Parallel(n_jobs=jobs, return_as="generator_unordered", batch_size=1)
        yield from parallel(delayed(function)(item, **kwargs) for item in items)


def init_worker() -> None:
    """Run in each loky worker at start: leave interrupts to the main process, keep caches.

    Ctrl-C reaches every process of the terminal's process group; the main process stops the
    pool itself, so a worker must not print a KeyboardInterrupt traceback of its own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_worker_caches()


def keep_worker_caches() -> None:
    """Switch off loky's leak guard for this worker.

    loky replaces a worker whose memory grew by 300 MB after its first task, taking the growth
    for a leak. A learned codec's model and its buffers are that large by design, so the guard
    threw away every worker that loaded a model after a lighter task, and the new worker loaded
    the model again. The threshold is a module constant of loky's worker loop (no public option).
    """
    from joblib.externals.loky import process_executor

    process_executor._MAX_MEMORY_LEAK_SIZE = 1 << 62


def _dask(function: Callable[..., Any], items: Sequence[Any], kwargs: dict[str, Any],
          jobs: int, scheduler: str | None) -> Iterator[Any]:
    """Submit to the cluster at ``scheduler`` (tcp://host:port), or to a local one of ``jobs`` workers:
    one future per item, so an item (one image's units) runs whole on one worker.

    Image paths must be readable from every worker (a shared file system), as on any cluster.
    """
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("the dask backend needs dask.distributed: pip install 'dask[distributed]'") from None
    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        futures = client.map(function, list(items), pure=False, **kwargs)
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run; ``stored`` of its rows are in ``folder``.

    A KeyboardInterrupt, so ``except Exception`` (a task that turns failures into rows) never
    swallows it, and a notebook user sees the interrupt they expect.
    """

    def __init__(self, signum: int, stored: int = 0, folder: Path | None = None) -> None:
        super().__init__(signum)
        self.signum = signum
        self.stored = stored
        self.folder = folder

    @property
    def exit_status(self) -> int:
        """The shell's convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum

    def __str__(self) -> str:
        if self.folder is None:  # before any store was opened (start-up, reading, planning)
            return "interrupted: nothing was written"
        return f"interrupted: {self.stored} rows stored in {self.folder}; run the same command to resume"


def raise_interrupted(signum: int, frame: FrameType | None) -> None:
    """A signal handler for the phases outside a run's own (start-up, reading a store): the
    signal becomes ``Interrupted``, which the command line prints as one line and exits on."""
    raise Interrupted(signum)


class StopOnSignals:
    """While active, SIGINT and SIGTERM raise Interrupted in the main thread, once.

    Later signals are ignored until the block ends, so the rows already complete can be
    written. Inside ``held()`` (a part being written) a signal waits until the block ends,
    so a part is either written and counted or not written at all. Outside the main thread
    (where Python cannot install handlers) it does nothing.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._fired = False
        self._holding = 0
        self._waiting: int | None = None

    def __enter__(self) -> "StopOnSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._fired:
            return
        if self._holding:
            self._waiting = signum
            return
        self._fired = True
        raise Interrupted(signum)

    def held(self) -> "_Held":
        """A block that a signal does not cut short; the signal takes effect when it ends."""
        return _Held(self)


class _Held:
    def __init__(self, stop: StopOnSignals) -> None:
        self.stop = stop

    def __enter__(self) -> None:
        self.stop._holding += 1

    def __exit__(self, *exc: object) -> None:
        self.stop._holding -= 1
        signum, self.stop._waiting = self.stop._waiting, None
        if signum is not None and not self.stop._holding and not self.stop._fired:
            self.stop._fired = True
            raise Interrupted(signum)


def abort(rows: Iterator[dict], reason: BaseException) -> None:
    """End a row stream early because of ``reason``: the backend stops its workers at once.

    Throwing into the stream (rather than dropping it) is what makes joblib terminate the loky
    workers without its "generator exited early" warning; a stream that already ended, because
    ``reason`` came from inside it, is left as it is.
    """
    if isinstance(rows, Generator) and rows.gi_frame is not None:
        try:
            rows.throw(reason)
        except BaseException as exc:  # noqa: BLE001 - the run is stopping for ``reason`` already
            if exc is not reason and not isinstance(exc, Exception):
                raise
