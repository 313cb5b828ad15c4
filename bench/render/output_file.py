"""Files a command writes beside its stdout (``bench compare --json/--markdown``).

A CI job reads ``bench compare``'s exit status: 1 means "regression". A ``--json`` path that
cannot be written must therefore stop the command with one line and status 2 before the stores
are read (``bench.api.check_output_file``), and a write that fails anyway (a full disk) is one
line too, not a traceback after a verdict.
"""

from __future__ import annotations

from pathlib import Path

from bench.errors import ConfigError
from bench.outputs import output_folder


def write_text(path: Path, text: str, option: str) -> None:
    """Write ``text`` to ``path`` (its folder created); a ConfigError naming ``option`` if that fails."""
    try:
        output_folder(path.parent, "command outputs", mark_existing=False)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot write there ({_reason(exc)}); pass a writable file path") from None


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__
