"""The shared Typer application and console helpers of the subcommands."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
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


def results_path(results: Path | None, config_path: Path | None) -> Path:
    """``--results`` when given, else the store bench.toml names."""
    from bench import config as config_module

    return Path(results or config_module.load(config_path).results)


def stored_rows(results: Path | None, config_path: Path | None) -> pd.DataFrame:
    """Rows of ``--results`` (a store folder or one parquet file; default: bench.toml's store),
    or a one-line error when there are none, so no analysis command draws from an empty store."""
    from bench.store import read_rows

    source = results_path(results, config_path)
    rows = read_rows(source) if source.exists() else pd.DataFrame()
    if rows.empty:
        fail(f"{source}: no rows stored yet; run `bench run` first")
    return rows
