"""The ``bench`` command line: one module per subcommand, all on one Typer app.

Every subcommand parses its flags, calls one function of ``bench.api`` and prints what it
returns; the modules here import nothing of bench but ``bench.api``, ``bench.cli`` and
``bench.errors`` (tests/test_architecture.py), so ``bench --help`` loads no numerical library.

``main`` turns every BenchError into one line on stderr and exit status 2, so bad input never
produces a traceback wall.
"""

from __future__ import annotations

import sys

import typer

from bench import api
from bench.cli.app import app, console, console_error, err_console
from bench.cli.pipes import readers_may_leave
from bench.errors import BenchError

# Subcommand modules register themselves on ``app`` when imported.
from bench.cli import compare, drift, info, measure, plot, report, run, table, train  # noqa: F401
from bench.cli import sweep  # noqa: F401
from bench.cli import crops, migrate  # noqa: F401


def _print_version(value: bool) -> None:
    if value:
        console.print(api.version_line(), highlight=False, soft_wrap=True)
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="print the harness version (and git commit in a checkout) and exit"),
) -> None:
    """Rate-distortion evaluation of learned and classical image codecs."""


def main() -> None:
    """The ``bench`` entry point: a BenchError is one line and exit status 2; SIGINT, SIGTERM or
    SIGHUP in any phase (start-up, reading a store, planning) is one line and 130, 143 or 129,
    never a traceback. ``bench run`` replaces the handlers with its own while it runs. A reader
    that closes stdout early (``| head``) does not change the exit status (``bench.cli.pipes``)."""
    import signal

    for signum in api.stop_signals():
        signal.signal(signum, api.raise_interrupted)
    with readers_may_leave():
        try:
            app()
        except BenchError as exc:
            console_error(str(exc))
            sys.exit(2)
        except KeyboardInterrupt as exc:
            stopped = exc if isinstance(exc, api.Interrupted) else api.Interrupted(signal.SIGINT)
            err_console.print(str(stopped), highlight=False, soft_wrap=True)
            sys.exit(stopped.exit_status)
