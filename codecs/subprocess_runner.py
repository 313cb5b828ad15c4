"""One way to run external codec binaries: argument lists, timeouts, one-line failures.

Why one module: every wrapper (BPG, VTM, FFmpeg/VVenC) needs the same guarantees — no shell
(paths with spaces are safe), a timeout after which the tool's whole process group is killed, the
tool's stderr kept in the row (sanitised to one printable line) when it fails, a missing output
file reported as the tool's fault, a per-task temporary folder that is always removed, and a
version string probed once per process.
"""

from __future__ import annotations

import os
import shlex
import signal
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from bench import errors
from bench.errors import CodecFailure, CodecUnavailable

#: Characters of a tool's stderr kept in a failure message (the end, where errors are).
STDERR_LIMIT = 400
#: Longest ``timeout_s`` a codec accepts: a week. Beyond that a timeout is a typo, and far
#: beyond it (1e15 s) the operating system's wait cannot take it at all.
MAX_TIMEOUT_S = 7 * 24 * 3600


def one_line(text: str | bytes, limit: int = STDERR_LIMIT) -> str:
    """A tool's output as one printable line, keeping its last ``limit`` characters (errors come last)."""
    return errors.one_line(text, limit, keep="end")


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


def communicate(argv: Sequence[str], timeout_s: float, cwd: str | os.PathLike | None = None) -> tuple[int, bytes, bytes]:
    """Run ``argv`` (no shell) in its own session; return (exit status, stdout, stderr).

    The tool leads a new process group, and that whole group is killed on a timeout and on any
    exception while waiting (KeyboardInterrupt, SystemExit, a worker being cancelled): a wrapper
    script's children must not outlive the task, re-parented to PID 1 and still holding a CPU.
    Raises ``subprocess.TimeoutExpired`` (after the kill) and ``OSError`` when it cannot start.
    """
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=cwd, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except BaseException:
        kill_group(process)
        raise
    return process.returncode, stdout, stderr


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process group ``process`` leads, then reap ``process`` and close its pipes."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # the group is already gone
        pass
    try:
        process.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):  # a grandchild holding a pipe: stop waiting
        process.kill()
        process.wait()


def run(args: Sequence[str | os.PathLike], timeout_s: float, what: str, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run ``args`` (no shell) with a timeout; raise a one-line CodecFailure/CodecUnavailable.

    The tool's stderr (or stdout) reaches the message only through :func:`one_line`, so escape
    sequences and control characters never land in a row or on the terminal.
    """
    argv = [str(a) for a in args]
    try:
        status, stdout, stderr = communicate(argv, timeout_s, cwd)
    except FileNotFoundError:
        raise CodecUnavailable(f"{what}: binary {one_line(argv[0])!r} not found (install it or configure its path)") from None
    except PermissionError:
        raise CodecUnavailable(f"{what}: binary {one_line(argv[0])!r} is not executable (chmod +x it or configure another)") from None
    except subprocess.TimeoutExpired:
        raise CodecFailure(f"{what}: timed out after {timeout_s:g} s: {errors.one_line(command_text(argv))}") from None
    if status != 0:
        output = one_line(stderr) or one_line(stdout)
        raise CodecFailure(f"{what}: {one_line(Path(argv[0]).name)} exited with {status}: {output or 'no output'}")
    return subprocess.CompletedProcess(argv, status, stdout, stderr)


def read_output(path: Path, what: str, binary: str) -> bytes:
    """The bytes a tool was asked to write to ``path``; a missing or empty file is a CodecFailure.

    A tool that exits 0 without writing (a stub, a wrong build, a full disk) must not surface as
    a raw FileNotFoundError deep inside the codec.
    """
    name = one_line(Path(binary).name)
    if not path.is_file():
        raise CodecFailure(f"{what}: {name} exited 0 but wrote no output file {path.name}; check the binary")
    data = path.read_bytes()
    if not data:
        raise CodecFailure(f"{what}: {name} exited 0 but wrote an empty {path.name}; check the binary")
    return data


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
        _, stdout, stderr = communicate([binary, *args], timeout_s)
        text = (stdout + stderr).decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    for line in text.splitlines():
        if line.strip() and pattern.lower() in line.lower():
            return errors.one_line(line, 200)
    return f"{one_line(Path(binary).name)} ({Path(binary).stat().st_size} bytes)" if Path(binary).exists() else Path(binary).name
