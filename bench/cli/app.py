"""The shared Typer application and console helpers of the subcommands."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Rate-distortion evaluation of learned and classical image codecs.",
)
console = Console()
err_console = Console(stderr=True)


def console_error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    console_error(message)
    sys.exit(code)
