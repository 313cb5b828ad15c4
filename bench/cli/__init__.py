"""The ``bench`` command line: one module per subcommand, all on one Typer app.

``main`` turns every BenchError into one line on stderr and exit status 2, so bad input never
produces a traceback wall.
"""

from __future__ import annotations

import sys

from bench.cli.app import app, console_error
from bench.errors import BenchError

# Subcommand modules register themselves on ``app`` when imported.
from bench.cli import compare, drift, info, measure, plot, report, run, table, train  # noqa: F401
from bench.cli import sweep  # noqa: F401
from bench.cli import crops  # noqa: F401


def main() -> None:
    try:
        app()
    except BenchError as exc:
        console_error(str(exc))
        sys.exit(2)
