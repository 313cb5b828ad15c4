"""The shared Typer application and console helpers of the subcommands."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape

from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.store import Store

T = TypeVar("T")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Rate-distortion evaluation of learned and classical image codecs.",
)
console = Console()
err_console = Console(stderr=True)


def console_error(message: str) -> None:
    """One line on stderr; the message is escaped, so ``[codecs.webp]`` or a tool's ``[error]``
    prints as written instead of being taken for console markup and dropped."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    console_error(message)
    sys.exit(code)


def call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run an API function; a BenchError becomes its one line on stderr and exit status 2,
    also when the app is driven without ``bench.cli.main`` (tests, embedding)."""
    try:
        return function(*args, **kwargs)
    except BenchError as exc:
        fail(str(exc))
        raise  # unreachable: fail exits


def results_path(results: Path | None, config_path: Path | None) -> Path:
    """``--results`` when given, else the store bench.toml names."""
    from bench import api

    return call(api.results_folder, results, config_path)


def stored_rows(results: Path | None, config_path: Path | None) -> pd.DataFrame:
    """Rows of ``--results`` (a store folder or one parquet file; default: bench.toml's store),
    or a one-line error when there are none, so no analysis command draws from an empty store."""
    from bench import api

    return call(api.stored, results, config_path)


@contextlib.contextmanager
def store_locked(store: "Store", command: str) -> Iterator[None]:
    """Hold ``store``'s lock under ``command`` for the block (checked writable first); a held or
    unwritable store is one line and exit status 2, a stale lock taken over a warning."""
    from bench.store import StoreLock

    call(store.check_writable)
    lock = call(StoreLock(store.root, command).acquire)
    try:
        if lock.note:
            err_console.print(f"warning: {lock.note}", highlight=False, soft_wrap=True)
        yield
    finally:
        lock.release()
