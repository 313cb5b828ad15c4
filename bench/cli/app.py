"""The shared Typer application and console helpers of the subcommands."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Callable, TypeVar

import typer
from rich.console import Console
from rich.text import Text
# Typer bundles its own click; its exceptions are what the parser raises.
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperGroup

from bench import api
from bench.errors import BenchError, BenchNote, one_line

T = TypeVar("T")


class OneLineErrors(TyperGroup):
    """The top command group: a usage error (``--seed abc``, an unknown option, a missing
    argument) is one ``error:`` line and exit status 2, as a refused value is, instead of
    click's usage text and framed message; also when the app is driven without
    ``bench.cli.main`` (tests, embedding)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            fail("aborted", 1)
        except NoArgsIsHelpError as exc:
            exc.show()  # the help text, as for any command given without arguments
            sys.exit(exc.exit_code)
        except ClickException as exc:
            path = exc.ctx.command_path if getattr(exc, "ctx", None) else ""
            fail(f"{path + ': ' if path else ''}{exc.format_message()}", exc.exit_code)
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Rate-distortion evaluation of learned and classical image codecs.",
)
#: Markup is off on both consoles: what they print holds names, paths, labels and tool output
#: (a folder ``[`` holding ``red]bad.png``), which must print as written, never be taken for
#: console markup (dropped, or a MarkupError). Styled words are ``Text`` objects (``styled``).
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

#: Longest error line printed: a message is one line (``one_line``), long paths included.
ERROR_LINE_LIMIT = 2000


def path_option(default: Any, *names: str, help: str) -> Any:
    """A flag that takes a path, read as bench.toml's paths are (``api.user_path``): a leading
    ``~`` expanded, which the shell leaves alone after ``--results=`` or inside quotes, and an
    environment variable refused in one line (exit 2, through ``bench.cli.main``)."""
    return typer.Option(default, *names, parser=_user_path, metavar="PATH", help=help)


def path_argument(name: str, help: str) -> Any:
    """A positional path, read like ``path_option``."""
    return typer.Argument(..., parser=_user_path, metavar=name, help=help)


def _user_path(value: str) -> Any:
    """``api.user_path`` for a flag: its refusal (an environment variable) is one line and exit
    status 2 from the parser itself, whether or not ``bench.cli.main`` drives the app."""
    return call(api.user_path, value)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line from plain strings and ``(text, style)`` pairs, none of it read as markup."""
    return Text.assemble(*parts)


def console_error(message: str) -> None:
    """One line on stderr, printed as written: ``[codecs.webp]`` or a tool's ``[error]`` is not
    taken for markup, and line breaks or escape sequences in the message are removed."""
    err_console.print(styled(("error:", "bold red"), " " + one_line(message, ERROR_LINE_LIMIT)),
                      highlight=False, soft_wrap=True)


def count_line(count: int, message: str) -> Text:
    """``  N× message``: one line of a run's error summary."""
    return styled("  ", (f"{count}×", "red"), " " + one_line(message, ERROR_LINE_LIMIT))


def fail(message: str, code: int = 2) -> None:
    console_error(message)
    sys.exit(code)


def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run an API function; a BenchError becomes its one line on stderr and exit status 2,
    also when the app is driven without ``bench.cli.main`` (tests, embedding); each BenchNote
    it raises becomes one ``warning:`` line."""
    try:
        with warnings.catch_warnings():
            show_notes()
            return function(*args, **kwargs)
    except BenchError as exc:
        fail(str(exc))
        raise  # unreachable: fail exits


def show_notes() -> None:
    """Print each distinct BenchNote once as a ``warning:`` line (a command that reads a store
    twice meets the same part twice); other warnings as before. Call it inside
    ``warnings.catch_warnings()``, which restores the previous display."""
    previous = warnings.showwarning
    shown: set[str] = set()

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if not issubclass(category, BenchNote):
            previous(message, category, *args, **kwargs)
        elif str(message) not in shown:
            shown.add(str(message))
            warn(one_line(str(message), ERROR_LINE_LIMIT))

    warnings.simplefilter("always", BenchNote)
    warnings.showwarning = show


def removed_note(path: Path) -> None:
    """One stderr line per stale output file a command removed: a file vanishing from an
    output folder is said, never silent."""
    err_console.print(f"removed {path} (an earlier run's output this run did not write)", highlight=False, soft_wrap=True)


def warn(note: str) -> None:
    """One ``warning:`` line on stderr (a stale store lock taken over, for example)."""
    err_console.print(f"warning: {note}", highlight=False, soft_wrap=True)
