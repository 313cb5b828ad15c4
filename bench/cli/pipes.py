"""Output streams that a closed reader does not turn into a failure.

``bench run … | head -1`` or ``bench compare … | true``: the reader goes away, the next write
raises BrokenPipeError, and the command used to end with exit status 1 and no message although
its work was done (every row stored, the verdict reached). A closed pipe or a hung-up terminal is
the reader's choice, not the command's failure: from then on the stream's output goes to
``/dev/null`` (at the file descriptor, so the interpreter's own flush at exit cannot fail either)
and the command ends with the status its work earned.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

#: A write that fails with one of these lost its reader: EPIPE (a closed pipe), EIO (a terminal
#: that hung up, as after SIGHUP).
GONE = (errno.EPIPE, errno.EIO)


class ReaderGone:
    """A text stream whose writes, once its reader is gone, go quietly nowhere."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            with self._quiet():
                return self._stream.write(text)
        return len(text)  # gone now or before: the text is dropped, as /dev/null takes it

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if not self.gone:
            with self._quiet():
                self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, buffer, …: the stream's own
        return getattr(self._stream, name)

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            if exc.errno not in GONE:
                raise
            self.gone = True
            _point_at_devnull(self._stream)


def _point_at_devnull(stream: TextIO) -> None:
    """Make the stream's descriptor ``/dev/null``, so what is still buffered in it (flushed when
    the interpreter exits) is written without error."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fd = stream.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)


@contextlib.contextmanager
def readers_may_leave() -> Iterator[None]:
    """For the block, stdout and stderr are ``ReaderGone`` streams (the previous ones after it).

    Both are flushed at the end through the wrappers: output still buffered for a reader that
    left would otherwise fail in the interpreter's flush at exit (status 120)."""
    before = sys.stdout, sys.stderr
    wrapped = sys.stdout, sys.stderr = ReaderGone(sys.stdout), ReaderGone(sys.stderr)
    try:
        yield
    finally:
        for stream in wrapped:
            stream.flush()
        sys.stdout, sys.stderr = before
