"""The checks every command runs on its options and paths before any work.

A bad value must stop a command in one line that names the option, the valid values and the
fix, and it must do so before a store is read or a figure drawn: a NaN AUC range that becomes a
table of "n/a", a negative seed that numpy rejects three modules down, an output folder that is
a file found only after a minute of bootstrap. Every value that would change the numbers is
refused, never ignored or clamped. The functions here are shared by ``bench.api`` (so the
Python API refuses what the command line refuses) and raise ConfigError (exit status 2).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from bench.errors import ConfigError

#: Folders of kernel interfaces: a file written there is a kernel setting, never an output.
KERNEL_FOLDERS = (Path("/proc"), Path("/sys"))
#: Largest integer a seed or count may hold: what numpy and the C libraries take (int64).
INT64_MAX = 2 ** 63 - 1


def choice(value: Any, valid: Sequence[str], option: str) -> str:
    """``value`` when it is one of ``valid``; else one line listing them."""
    if value not in valid:
        raise ConfigError(f"{option} {value!r}: expected one of {', '.join(valid)}")
    return str(value)


def choices(values: Iterable[Any], valid: Sequence[str], option: str) -> tuple[str, ...]:
    """Every value of a repeatable option checked by ``choice``."""
    return tuple(choice(value, valid, option) for value in values)


def number(value: Any, option: str, *, low: float | None = None, high: float | None = None,
           above: float | None = None, integer: bool = False) -> float:
    """A finite number (an int when ``integer``) within [low, high], or greater than ``above``;
    one line naming the option and the range otherwise. Booleans are not numbers here."""
    wanted = _range_words(low, high, above, integer)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ConfigError(f"{option} {value!r}: expected {wanted}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{option} {value}: not finite; expected {wanted}")
    if (low is not None and value < low) or (high is not None and value > high) or (above is not None and value <= above):
        raise ConfigError(f"{option} {value}: expected {wanted}")
    return value


def seed(value: Any, option: str = "--seed") -> int:
    """A bootstrap seed: an integer in [0, 2**63 - 1], what numpy's generators accept."""
    return int(number(value, option, low=0, high=INT64_MAX, integer=True))


def count(value: Any, option: str, low: int = 0, high: int = 10 ** 7) -> int:
    """A count of resamples, steps or similar in [low, high]: more than ``high`` is a typo."""
    return int(number(value, option, low=low, high=high, integer=True))


def value_range(values: Any, option: str) -> tuple[float, float] | None:
    """``LOW HIGH`` (None passes): finite, LOW at least 0 and below HIGH, since a bpp range is the
    width an area is taken over."""
    if values is None:
        return None
    if not isinstance(values, (tuple, list)) or len(values) != 2:
        raise ConfigError(f"{option} {values!r}: expected two numbers LOW HIGH")
    low, high = (number(v, option, low=0) for v in values)
    if not low < high:
        raise ConfigError(f"{option} {low:g} {high:g}: expected LOW < HIGH")
    return float(low), float(high)


def output_folder(path: Path | str, option: str) -> Path:
    """A folder bench will create or write into: not a file, not below one, not in /proc or
    /sys, and writable (or creatable) by this user."""
    return _output(Path(path), option, folder=True)


def output_file(path: Path | str, option: str) -> Path:
    """A file bench will write: not a folder, its folder not a file, not in /proc or /sys, and
    writable (or creatable) by this user."""
    return _output(Path(path), option, folder=False)


def input_file(path: Path | str, option: str, *, max_bytes: int, signature: bytes = b"", kind: str = "file") -> Path:
    """A file bench reads besides stores and images: a regular file of at most ``max_bytes``
    that starts with ``signature``; checked with ``stat`` and a few bytes, never read whole."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot read it ({exc.strerror or type(exc).__name__}); pass an existing {kind}") from None
    if not os.path.isfile(path):
        raise ConfigError(f"{option} {path}: not a regular file; pass a {kind}")
    if info.st_size > max_bytes:
        raise ConfigError(f"{option} {path}: {info.st_size} bytes, more than the {max_bytes} a {kind} may have")
    try:
        with path.open("rb") as handle:
            start = handle.read(len(signature))
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot read it ({exc.strerror or type(exc).__name__})") from None
    if start != signature:
        raise ConfigError(f"{option} {path}: not a {kind} (its first bytes are not the {kind}'s signature)")
    return path


def _output(path: Path, option: str, *, folder: bool) -> Path:
    wanted = "folder" if folder else "file path"
    absolute = Path(os.path.abspath(path))
    for kernel in KERNEL_FOLDERS:
        if absolute == kernel or kernel in absolute.parents:
            raise ConfigError(f"{option} {path}: inside {kernel}, a kernel interface, not a place for outputs; pass a {wanted} elsewhere")
    if path.exists():
        if folder and not path.is_dir():
            raise ConfigError(f"{option} {path}: a file, not a folder; pass a folder (it is created if missing)")
        if not folder and path.is_dir():
            raise ConfigError(f"{option} {path}: a folder, not a file; pass a file path such as {path / 'out'}")
        if not os.access(path, os.W_OK | (os.X_OK if folder else 0)):
            raise ConfigError(f"{option} {path}: not writable by this user (read-only); pass a writable {wanted}")
        return path
    existing = absolute.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{option} {path}: {existing} is a file, not a folder; pass a {wanted} whose parents are folders")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: {existing} is not writable by this user (read-only); pass a writable {wanted}")
    return path


def _range_words(low: float | None, high: float | None, above: float | None, integer: bool) -> str:
    what = "an integer" if integer else "a number"
    if above is not None:
        return f"{what} greater than {_show(above)}" + (f" and at most {_show(high)}" if high is not None else "")
    if low is not None and high is not None:
        return f"{what} in [{_show(low)}, {_show(high)}]"
    if low is not None:
        return f"{what} of at least {_show(low)}"
    if high is not None:
        return f"{what} of at most {_show(high)}"
    return what


def _show(value: float) -> str:
    """A bound as a person writes it: integers in full (a seed's 2**63 - 1), others short."""
    return str(value) if isinstance(value, int) else f"{value:g}"
