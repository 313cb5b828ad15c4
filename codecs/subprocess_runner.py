"""One way to run external codec binaries: argument lists, timeouts, one-line failures.

Why one module: every wrapper (BPG, VTM, FFmpeg/VVenC) needs the same guarantees — no shell
(paths with spaces are safe), a timeout, the tool's stderr kept in the row when it fails, a
per-task temporary folder that is always removed, and a version string probed once per process.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from bench.errors import CodecFailure, CodecUnavailable

#: Characters of a tool's stderr kept in a failure message (the end, where errors are).
STDERR_LIMIT = 400


def one_line(text: str, limit: int = STDERR_LIMIT) -> str:
    """Collapse ``text`` to one line, keeping its last ``limit`` characters (errors come last)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else "…" + flat[-limit:]


def command_text(args: Sequence[str | os.PathLike]) -> str:
    """The command as a POSIX-quoted string, for the row's ``command`` column (never executed)."""
    return shlex.join(str(a) for a in args)


def find_binary(configured: str | None, env_var: str | None, name: str, folder_env: str | None = None) -> str | None:
    """Resolve a binary: an explicit path, else ``$env_var``, else ``$folder_env/name``, else PATH."""
    candidates = []
    if configured:
        candidates.append(configured)
    if env_var and os.environ.get(env_var):
        candidates.append(os.environ[env_var])
    if folder_env and os.environ.get(folder_env):
        candidates.append(str(Path(os.environ[folder_env]) / name))
    candidates.append(name)
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def run(args: Sequence[str | os.PathLike], timeout_s: float, what: str, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run ``args`` (no shell) with a timeout; raise a one-line CodecFailure/CodecUnavailable."""
    argv = [str(a) for a in args]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout_s, cwd=cwd, check=False)
    except FileNotFoundError:
        raise CodecUnavailable(f"{what}: binary {argv[0]!r} not found (install it or configure its path)") from None
    except subprocess.TimeoutExpired:
        raise CodecFailure(f"{what}: timed out after {timeout_s:g} s: {command_text(argv)}") from None
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace") or done.stdout.decode(errors="replace")
        raise CodecFailure(f"{what}: {Path(argv[0]).name} exited with {done.returncode}: {one_line(stderr) or 'no output'}")
    return done


@contextmanager
def task_dir(prefix: str) -> Iterator[Path]:
    """A fresh temporary folder for one encode or decode, removed whatever happens."""
    folder = tempfile.mkdtemp(prefix=f"bench-{prefix}-")
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@lru_cache(maxsize=64)
def probe_version(binary: str, args: tuple[str, ...] = (), pattern: str = "", timeout_s: float = 20.0) -> str:
    """First output line of ``binary *args`` containing ``pattern`` (cached per process).

    Many codec tools print their banner and exit non-zero when asked for help, so the exit
    status is ignored; a tool that prints nothing yields its file name and size instead.
    """
    try:
        done = subprocess.run([binary, *args], capture_output=True, timeout=timeout_s, check=False)
        text = (done.stdout + done.stderr).decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    for line in text.splitlines():
        if line.strip() and pattern.lower() in line.lower():
            return one_line(line, 200)
    return f"{Path(binary).name} ({Path(binary).stat().st_size} bytes)" if Path(binary).exists() else Path(binary).name
