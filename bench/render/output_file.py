"""Files a command writes beside its stdout (``bench compare --json/--markdown``), checked
before any work.

A CI job reads ``bench compare``'s exit status: 1 means "regression". A ``--json`` path that
cannot be written must therefore stop the command with one line and status 2 before the stores
are read, not after a verdict was printed (a "no regression" line followed by a traceback).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.errors import ConfigError
from bench.outputs import output_folder


def check_writable(path: Path, option: str) -> None:
    """Create ``path``'s folder and make sure the file can be written there, leaving no file
    behind that was not there before; a ConfigError naming ``option`` otherwise."""
    existed = path.exists()
    try:
        if path.is_dir():
            raise IsADirectoryError(f"{path} is a folder")
        output_folder(path.parent, "command outputs", mark_existing=False)
        with path.open("a"):
            pass
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot write there ({_reason(exc)}); pass a writable file path") from None
    if not existed:
        os.unlink(path)


def write_text(path: Path, text: str, option: str) -> None:
    """Write ``text`` to ``path`` (its folder created); a ConfigError naming ``option`` if that fails."""
    try:
        output_folder(path.parent, "command outputs", mark_existing=False)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot write there ({_reason(exc)}); pass a writable file path") from None


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
