"""Error types whose message is the whole story: one line naming the input and the fix.

The CLI prints ``str(error)`` for these and exits non-zero without a traceback, because a
researcher needs to know what to change, not where in the harness the check lives.
"""

from __future__ import annotations

import re


class BenchError(Exception):
    """A user-facing problem (bad config, bad image, missing tool) with a one-line message."""


class BenchNote(UserWarning):
    """Something a command went on past but should say, in one line (a store part's column that
    the schema does not have, ignored); the CLI prints it as one ``warning:`` line."""


class ConfigError(BenchError):
    """``bench.toml`` or a command-line flag is malformed."""


class ImageError(BenchError):
    """An input image cannot be measured faithfully (corrupt, not 8-bit RGB, too small)."""


class CodecUnavailable(BenchError):
    """A codec cannot run on this machine (missing binary, library, or weights)."""


class CodecFailure(BenchError):
    """A codec ran but failed on one input (crash, timeout, bad output)."""


class ResultsError(BenchError):
    """A results folder or parquet file cannot be read as this harness's rows."""


class OutOfResources(BenchError):
    """The process ran out of file descriptors or memory mid-run; the line says what is stored."""


class AnalysisError(BenchError):
    """Stored rows cannot support the requested table or figure (no rows selected, no common images)."""


class BitstreamMismatch(BenchError):
    """A kept or carried bitstream is not the one its row measured (swapped, truncated, changed)."""


class TrainingError(BenchError):
    """A training run cannot go on (its loss or gradients keep diverging); its checkpoint is kept."""


#: Longest message ``one_line`` returns: enough for a path, a command and the tool's last words.
ONE_LINE_LIMIT = 500

#: ANSI/VT escape sequences: CSI (``ESC [ … final``), OSC (``ESC ] … BEL`` or ``ESC \``), and
#: two-character escapes. A tool's colours must not reach a terminal or a results row.
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[ -/]*[0-~])|\x9b[0-?]*[ -/]*[@-~]")


def one_line(value: BaseException | str | bytes, limit: int = ONE_LINE_LIMIT, keep: str = "start") -> str:
    """Any message as one printable line of at most ``limit`` characters.

    Why one function: errors end up in result rows, terminal summaries and Markdown tables, so
    text from anywhere (exceptions, a tool's stderr) must lose escape sequences, control and other
    non-printable characters, and line breaks the same way everywhere. A BenchError is its
    message; another exception is prefixed by its type, which is the only clue a bare message
    such as ``'x'`` (a KeyError) gives. ``keep="end"`` keeps the tail, where tools print errors.
    """
    if isinstance(value, BaseException):
        message = _printable(str(value))
        name = type(value).__name__
        text = message if isinstance(value, BenchError) and message else f"{name}: {message}" if message else name
    else:
        text = _printable(value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value))
    if len(text) <= limit:
        return text
    return "…" + text[-(limit - 1):] if keep == "end" else text[:limit - 1] + "…"


def _printable(text: str) -> str:
    """``text`` without escape sequences or non-printable characters, whitespace collapsed."""
    text = _ESCAPES.sub("", text)
    text = "".join(ch if ch.isprintable() else (" " if ch.isspace() else "") for ch in text)
    return " ".join(text.split())
