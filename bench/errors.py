"""Error types whose message is the whole story: one line naming the input and the fix.

The CLI prints ``str(error)`` for these and exits non-zero without a traceback, because a
researcher needs to know what to change, not where in the harness the check lives.
"""


class BenchError(Exception):
    """A user-facing problem (bad config, bad image, missing tool) with a one-line message."""


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


class AnalysisError(BenchError):
    """Stored rows cannot support the requested table or figure (no rows selected, no common images)."""
