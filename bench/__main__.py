"""The ``bench`` command (and ``python -m bench``): signal handlers first, then the command line.

Loading the command line imports typer, rich and bench's modules, a few hundred milliseconds in
which Python's default SIGINT handler would print a KeyboardInterrupt traceback. This module
imports nothing heavy, so the handlers below are in place from the first moment bench's code
runs; ``bench.cli.main`` installs its own once it is loaded, and ``bench run`` its own again.
"""

from __future__ import annotations

import signal
import sys


def _stop_while_starting(signum: int, frame: object) -> None:
    """SIGINT, SIGTERM or SIGHUP before the command line is loaded: nothing was written yet."""
    sys.stderr.write("interrupted: nothing was written\n")
    sys.exit(128 + signum)


def main() -> None:
    signals = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # under nohup a hang-up must not stop bench
        signals.append(signal.SIGHUP)
    for signum in signals:
        signal.signal(signum, _stop_while_starting)
    from bench.cli import main as command_line

    command_line()


if __name__ == "__main__":
    main()
