"""``<store>/.lock``: one writer per store at a time, and every form a lock file can take."""

from __future__ import annotations

import json
import os
import platform
import stat
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from bench.errors import BenchError, one_line
from bench.outputs import output_folder
from bench.store.parts import TMP_PREFIX, StoreWriteError, _kind, _mtime, _reason, _remove, write_file

LOCK_NAME = ".lock"
#: Most bytes of a lock file read: what bench writes is under 200.
LOCK_BYTES = 4096
#: Largest process id a lock may name (Linux's limit is 2**22; pids are C ints everywhere).
MAX_PID = 2 ** 31 - 1


class StoreInUse(BenchError):
    """Another live ``bench run`` holds the store's lock."""


class StoreLock:
    """``<store>/.lock``: one writer per store at a time (``bench run``, ``bench drift run``,
    ``bench measure``; the lock names which).

    The file is created with O_CREAT|O_EXCL and holds the holder's PID, host and start time.
    A lock whose holder is gone (same host, PID not alive) is taken over: the taker first
    creates a marker named after that exact lock content with O_EXCL, so of several runs that
    find the same stale lock only one replaces it, and it checks the content again before it
    does. A lock from another host is never taken over: its PID cannot be checked from here.
    """

    def __init__(self, root: Path, command: str = "bench run") -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_NAME
        self.note: str | None = None
        #: (device, inode) of the lock file this process created, for ``release``.
        self._identity: tuple[int, int] | None = None
        self._content = json.dumps({"pid": os.getpid(), "host": platform.node(), "command": command,
                                    "since": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")})

    def acquire(self) -> "StoreLock":
        """Take the lock or raise StoreInUse naming the holder; ``note`` says if a stale one was replaced."""
        for _ in range(50):
            try:
                output_folder(self.root, "results store")
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                held = self._read()
                if held is None:
                    continue  # released meanwhile
                if lock_problem(held) is not None:
                    held = self._settled(held)
                    if held is None:
                        continue
                if not self._stale(held):
                    raise StoreInUse(self._in_use(held)) from None
                if self._take_over(held):
                    return self
                time.sleep(0.05)  # another run is taking it over: look again at what it wrote
                continue
            except OSError as exc:
                raise StoreWriteError(f"{self.path}: cannot create the lock file ({_reason(exc)}); "
                                      "pass --results a writable folder") from None
            try:
                os.write(fd, self._content.encode())
                self._identity = _identity(os.fstat(fd))
            finally:
                os.close(fd)
            return self
        raise StoreInUse(f"{self.root} is in use: its lock changed hands 50 times; try again")

    def release(self) -> None:
        """Remove the lock if it is still this run's (a lock replaced by something else is left).

        A process out of file descriptors cannot open the lock to read it: then the file is
        recognised by ``lstat`` alone (no descriptor needed) as the one this process created."""
        try:
            mine = self._read() == self._content
        except StoreInUse:
            try:
                mine = self._identity is not None and _identity(self.path.lstat()) == self._identity
            except OSError:
                mine = False
        if mine:
            _remove(self.path)

    def __enter__(self) -> "StoreLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _read(self) -> str | None:
        """The lock's content (None when there is none), read only once ``lstat`` says it is a
        regular file: a FIFO named ``.lock`` would block, a directory is not a lock at all."""
        try:
            mode = self.path.lstat().st_mode
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreInUse(f"{self.path}: cannot read the lock ({_reason(exc)}); fix permissions or remove it "
                             f"if no bench command is using {self.root}") from None
        if not stat.S_ISREG(mode):
            raise StoreInUse(f"{self.path}: {_kind(mode) if not stat.S_ISLNK(mode) else 'a symbolic link'}, not a lock "
                             f"file; remove it if no bench command is using {self.root}")
        try:
            with open(self.path, "rb") as handle:
                return handle.read(LOCK_BYTES).decode(errors="replace")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreInUse(f"{self.path}: cannot read the lock ({_reason(exc)}); fix permissions or remove it "
                             f"if no bench command is using {self.root}") from None

    def _settled(self, held: str) -> str | None:
        """A lock whose content is not a lock bench wrote may be one being written this instant
        (created, not yet filled, which takes microseconds): look again for half a second; then
        it is one line naming it."""
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            time.sleep(0.05)
            again = self._read()
            if again is None or lock_problem(again) is None:
                return again
            held = again
        raise StoreInUse(f"{self.path}: not a lock bench wrote ({lock_problem(held)}); remove it if no bench "
                         f"command is using {self.root}")

    def _take_over(self, held: str) -> bool:
        """Replace the stale lock whose content is ``held``; False when another run got there first."""
        marker = self.root / f"{LOCK_NAME}.takeover-{uuid.uuid5(uuid.NAMESPACE_OID, held).hex[:16]}"
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            if time.time() - _mtime(marker) > 60:  # the taker died mid-way; the next run retries
                _remove(marker)
            return False
        try:
            if self._read() != held:
                return False
            tmp = self.root / f"{TMP_PREFIX}lock-{os.getpid()}"
            write_file(tmp, self._content.encode())
            os.replace(tmp, self.path)
            self._identity = _identity(self.path.lstat())
        finally:
            _remove(marker)
        info = _holder(held)
        self.note = (f"took over the lock of {self.root}: {info.get('command', 'bench run')} pid {info.get('pid', '?')} "
                     f"(since {info.get('since', '?')}) is gone")
        return True

    @staticmethod
    def _stale(held: str) -> bool:
        info = _holder(held)
        if info.get("host") != platform.node() or not isinstance(info.get("pid"), int):
            return False
        try:
            os.kill(info["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # alive, another user's
        return False

    def _in_use(self, held: str) -> str:
        info = _holder(held)
        return (f"{self.root} is in use by {info.get('command', 'bench run')} (pid {info.get('pid', '?')} on {info.get('host', '?')} "
                f"since {info.get('since', '?')}); wait for it or remove {self.path} if that process is gone")


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino


def lock_problem(content: str) -> str | None:
    """What is wrong with a lock's content, or None when it is what ``StoreLock`` writes: JSON
    with a host and a PID a process can have (``os.kill`` takes no bigger number)."""
    if not content.strip():
        return "it is empty"
    info = _holder(content)
    if not info:
        return "its content is not the JSON bench writes"
    pid = info.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or not 0 < pid <= MAX_PID:
        return f"pid {one_line(json.dumps(pid), 40)} is not a process id"
    if not isinstance(info.get("host"), str):
        return "it names no host"
    return None


def _holder(content: str) -> dict:
    """The lock file's fields; empty when it is not the JSON a lock holds (e.g. half written)."""
    try:
        info = json.loads(content)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}
