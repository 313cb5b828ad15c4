"""Where tasks run: in process, on a local joblib (loky) pool, or on a Dask cluster.

Every backend runs the same task function and streams rows back to the one process that
writes the store, so results land in one place without duplicates whatever runs them. Workers
are long-lived on every backend, so per-process caches (a loaded model, decoded images) last.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

from bench.errors import ConfigError

BACKENDS = ("loky", "dask")


def stream_results(function: Callable[..., dict], items: Sequence[Any], kwargs: dict[str, Any],
                   backend: str = "loky", jobs: int = 1, scheduler: str | None = None) -> Iterator[dict]:
    """``function(item, **kwargs)`` for every item, yielded in completion order."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "dask":
        yield from _dask(function, items, kwargs, jobs, scheduler)
    elif jobs == 1 or len(items) <= 1:
        for item in items:
            yield function(item, **kwargs)
    else:
        from joblib import Parallel, delayed, parallel_config

        with parallel_config(backend="loky", initializer=keep_worker_caches):
            parallel = Parallel(n_jobs=jobs, return_as="generator_unordered", batch_size=1)
            yield from parallel(delayed(function)(item, **kwargs) for item in items)


def keep_worker_caches() -> None:
    """Run in each loky worker at start: switch off loky's leak guard for this worker.

    loky replaces a worker whose memory grew by 300 MB after its first task, taking the growth
    for a leak. A learned codec's model and its buffers are that large by design, so the guard
    threw away every worker that loaded a model after a lighter task, and the new worker loaded
    the model again. The threshold is a module constant of loky's worker loop (no public option).
    """
    from joblib.externals.loky import process_executor

    process_executor._MAX_MEMORY_LEAK_SIZE = 1 << 62


def _dask(function: Callable[..., dict], items: Sequence[Any], kwargs: dict[str, Any],
          jobs: int, scheduler: str | None) -> Iterator[dict]:
    """Submit to the cluster at ``scheduler`` (tcp://host:port), or to a local one of ``jobs`` workers.

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
