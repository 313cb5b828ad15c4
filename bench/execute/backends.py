"""Where tasks run: in process, on a local loky pool, or on a Dask cluster.

Every backend runs the same task function and streams rows back to the one process that
writes the store, so results land in one place without duplicates whatever runs them. A call
that runs many tasks sends each group of rows back as it completes (``streams``), through a
queue its workers reach. Workers are long-lived on every backend, so per-process caches (a
loaded model, decoded images) last.

How a run stops early also lives here: ``StopOnSignals`` turns SIGINT, SIGTERM and SIGHUP
into ``Interrupted`` in the main thread, and ``abort`` throws an exception into a row stream so the
backend ends its workers (the loky pool's are killed, Dask closes its client).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Generator, Iterator, Sequence

from bench.config.defaults import BACKENDS
from bench.errors import ConfigError


#: How often the driver looks for rows and finished calls while workers run (seconds).
POLL_S = 0.05
#: How long rows a worker has sent may take to arrive after its call ended before the run stops.
ARRIVAL_S = 60.0


def stream_results(function: Callable[..., Any], items: Sequence[Any], kwargs: dict[str, Any],
                   backend: str = "loky", jobs: int = 1, scheduler: str | None = None,
                   streams: bool = False) -> Iterator[dict]:
    """``function(item, **kwargs)`` for every item, one call per item on one worker, its rows
    yielded to the single writer as they arrive.

    A plain function returns its rows (a dict, or a list of them), which arrive when the call
    ends. With ``streams`` the function is also given ``send``: it passes each group of rows to
    ``send(rows)`` the moment they are complete and returns how many rows it sent, so a call
    that runs many tasks (one image's units) delivers each as it finishes instead of all at its
    end, and a run stopped halfway keeps them. The driver checks that every sent row arrived.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "dask":
        results = _dask(function, items, kwargs, jobs, scheduler, streams)
    elif jobs == 1 or len(items) <= 1:
        results = _in_process(function, items, kwargs, streams)
    else:
        results = _loky(function, items, kwargs, jobs, streams)
    try:
        yield from results
    except BaseException as reason:
        abort(results, reason)  # an abort thrown in here reaches the backend, which stops its workers
        raise


def _rows(result: dict | list[dict]) -> list[dict]:
    return result if isinstance(result, list) else [result]


def _in_process(function: Callable[..., Any], items: Sequence[Any], kwargs: dict[str, Any],
                streams: bool) -> Iterator[dict]:
    """Every call in this process, one after another; a streaming call's rows follow its end."""
    for item in items:
        if streams:
            sent: list[dict] = []
            function(item, send=sent.extend, **kwargs)
            yield from sent
        else:
            yield from _rows(function(item, **kwargs))


def _collect(futures: list[Any], receive: Callable[[], list[list[dict]]], streams: bool) -> Iterator[dict]:
    """Rows as they arrive: sent ones from ``receive`` (groups waiting now, possibly none), and
    plain calls' results from their futures; a failed call raises its error here.

    A streaming call's future says how many rows it sent; the loop ends only when they all came.
    """
    pending = set(futures)
    sent = received = 0
    last_end = time.monotonic()
    while pending or received < sent:
        groups = receive() if streams else []
        for rows in groups:
            received += len(rows)
            yield from rows
        done = [future for future in pending if future.done()]
        for future in done:
            pending.discard(future)
            last_end = time.monotonic()
            if streams:
                sent += future.result()
            else:
                yield from _rows(future.result())
        if not pending and received < sent and time.monotonic() - last_end > ARRIVAL_S:
            raise RuntimeError(f"{sent - received} rows that workers sent never reached the writer")
        if not groups and not done:
            time.sleep(POLL_S)


def _loky(function: Callable[..., Any], items: Sequence[Any], kwargs: dict[str, Any], jobs: int,
          streams: bool) -> Iterator[dict]:
    """One call per item on a loky pool of ``jobs`` workers; streamed rows come back through a
    queue each worker is started with. Stopped early, the pool's workers are killed."""
    import queue

    from joblib.externals.loky import get_reusable_executor
    from joblib.externals.loky.backend.context import get_context

    channel = get_context("loky").Queue() if streams else None
    executor = get_reusable_executor(max_workers=jobs, initializer=init_worker, initargs=(channel,),
                                     env=worker_env(jobs))
    extra = {"send": _SendToDriver()} if streams else {}
    futures = [executor.submit(function, item, **kwargs, **extra) for item in items]

    def receive() -> list[list[dict]]:
        groups = []
        while True:
            try:
                groups.append(channel.get_nowait())
            except queue.Empty:
                return groups

    try:
        yield from _collect(futures, receive, streams)
    except BaseException:
        executor.shutdown(wait=False, kill_workers=True)
        raise


def worker_env(jobs: int) -> dict[str, str]:
    """Thread counts for each worker's numeric libraries: the CPUs shared among ``jobs`` workers
    (as joblib sets them), unless this environment sets its own, so that torch in two workers
    does not run twice as many threads as there are cores."""
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    env = {name: os.environ.get(name, threads) for name in THREAD_VARIABLES}
    env.setdefault("ENABLE_IPC", os.environ.get("ENABLE_IPC", "1"))
    return env


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS")

#: In a loky worker: the queue its streamed rows go to (``init_worker`` sets it).
_CHANNEL: Any = None


class _SendToDriver:
    """``send`` for a loky worker: the rows go on the queue the worker was started with."""

    def __call__(self, rows: list[dict]) -> None:
        _CHANNEL.put(rows)


def init_worker(channel: Any = None) -> None:
    """Run in each loky worker at start: leave interrupts to the main process, keep caches,
    remember where streamed rows go.

    Ctrl-C reaches every process of the terminal's process group; the main process stops the
    pool itself, so a worker must not print a KeyboardInterrupt traceback of its own.
    """
    global _CHANNEL
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_worker_caches()
    _CHANNEL = channel


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
          jobs: int, scheduler: str | None, streams: bool) -> Iterator[dict]:
    """Submit to the cluster at ``scheduler`` (tcp://host:port), or to a local one of ``jobs`` workers:
    one future per item, so an item (one image's units) runs whole on one worker. Streamed rows
    come back through a Dask queue, which any worker of the cluster reaches.

    Image paths must be readable from every worker (a shared file system), as on any cluster.
    """
    try:
        from dask.distributed import Client, LocalCluster, Queue
    except ImportError:
        raise ConfigError("the dask backend needs dask.distributed: pip install 'dask[distributed]'") from None
    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        channel = Queue(client=client) if streams else None
        extra = {"send": _SendToDaskQueue(channel.name)} if channel is not None else {}
        futures = client.map(function, list(items), pure=False, **kwargs, **extra)
        yield from _collect(futures, lambda: channel.get(batch=True), streams)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class _SendToDaskQueue:
    """``send`` for a Dask worker: the rows go on the run's named Dask queue.

    It carries the name, not the queue: a queue unpickled with the task's arguments would reach
    for its client on the worker's event loop and wait there for itself.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, rows: list[dict]) -> None:
        from dask.distributed import Queue

        Queue(self.name).put(rows)


def stop_signals() -> tuple[int, ...]:
    """The signals that stop a command with one line: SIGINT, SIGTERM and SIGHUP (a closed
    terminal or ssh session, whose default action would leave the lock and the workers behind).
    SIGHUP is left alone where it is ignored already: under ``nohup`` the run must go on."""
    signals = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signals.append(signal.SIGHUP)
    return tuple(signals)


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP stopped a run; ``stored`` of its rows are in ``folder``.

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
        """The shell's convention: 128 + signal number (130 SIGINT, 143 SIGTERM, 129 SIGHUP)."""
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
    """While active, SIGINT, SIGTERM and SIGHUP (``stop_signals``) raise Interrupted in the main
    thread, once.

    Later signals are ignored until the block ends, so the rows already complete can be
    written. Inside ``held()`` (a part being written) a signal waits until the block ends,
    so a part is either written and counted or not written at all. Outside the main thread
    (where Python cannot install handlers) it does nothing.
    """

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self._fired = False
        self._holding = 0
        self._waiting: int | None = None

    def __enter__(self) -> "StopOnSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in stop_signals():
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

    Throwing into the stream (rather than dropping it, which stops nothing until it is garbage
    collected) makes the backend kill its loky workers or close its Dask client now; a stream
    that already ended, because ``reason`` came from inside it, is left as it is.
    """
    if isinstance(rows, Generator) and rows.gi_frame is not None:
        try:
            rows.throw(reason)
        except BaseException as exc:  # noqa: BLE001 - the run is stopping for ``reason`` already
            if exc is not reason and not isinstance(exc, Exception):
                raise
