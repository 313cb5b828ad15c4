"""Running out of file descriptors or memory, in words: what ran out and how to get more.

A run with many workers meets the open-file limit (``ulimit -n``: every worker holds pipes and
semaphores) or the memory limit long before the disk fills; the error that results is an
``OSError`` deep in multiprocessing or a bare ``MemoryError``. Each is told here as a reason
and a fix, so the line a user reads says which limit to raise.
"""

from __future__ import annotations

import errno
import resource


def shortage(exc: BaseException) -> tuple[str, str] | None:
    """``(reason, fix)`` when ``exc`` is the process out of file descriptors or memory, else None."""
    if isinstance(exc, MemoryError):
        return "out of memory", "free memory or pass fewer --jobs"
    if not isinstance(exc, OSError):
        return None
    if exc.errno == errno.EMFILE:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        limit = "" if soft == resource.RLIM_INFINITY else f" (ulimit -n is {soft})"
        return f"too many open files{limit}", "raise the limit (ulimit -n 4096) or pass fewer --jobs"
    if exc.errno == errno.ENFILE:
        return "the system's open-file table is full", "close other programs' files or pass fewer --jobs"
    if exc.errno == errno.ENOMEM:
        return "out of memory", "free memory or pass fewer --jobs"
    return None
