"""``bench codecs``, ``bench datasets`` and ``bench schema``: what this installation offers."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from bench import api
from bench.cli.app import app, call, console, path_argument, path_option, styled, warn


@app.command("codecs")
def codecs_command() -> None:
    """List registered codecs, their rate parameter and whether they can run here."""
    table = Table("codec", "rate parameter", "default rates", "status")
    codecs = api.codecs()
    for codec in codecs:
        rates = ", ".join(f"{r:g}" for r in codec.default_rates)
        status = ("unavailable (below)", "red") if codec.unavailable else ("available", "green")
        table.add_row(codec.name, codec.rate_parameter, rates, styled(status))
    console.print(table)
    # the reason and its fix in full, one line each: a table cell would cut them at the terminal's width
    for codec in codecs:
        if codec.unavailable:
            console.print(styled((codec.name, "bold"), f": {codec.unavailable}"), highlight=False, soft_wrap=True)


datasets_app = typer.Typer(help="List and fetch named datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("list")
def datasets_list() -> None:
    """Registered datasets: image count, where their files are looked for, what pins them, and
    whether their files are present."""
    for ds in api.datasets():
        console.print(styled((ds.name, "bold"), f": {ds.image_count} images; {ds.description} ({ds.root})"),
                      highlight=False, soft_wrap=True)
        console.print(f"  {ds.pins}", highlight=False, soft_wrap=True)
        console.print(f"  {ds.presence}", highlight=False, soft_wrap=True)


@datasets_app.command("fetch")
def datasets_fetch(
    name: str = typer.Argument(..., help="registered dataset name (see `bench datasets list`)"),
    data_dir: Optional[Path] = path_option(None, "--data-dir", help="target folder (default $BENCH_DATA_DIR or the user cache)"),
    archive: Optional[Path] = path_option(None, "--archive", help="the dataset's archive, downloaded by hand: verified, then extracted"),
) -> None:
    """Download a named dataset's missing files and re-download any present file whose SHA-256 differs from its pin."""
    fetched = call(api.fetch_dataset, name, data_dir, archive)
    report, refs = fetched.report, fetched.images
    pinned = " and matching their pinned SHA-256" if fetched.all_pinned else ""
    console.print(f"{len(refs)} files of {name!r} present{pinned} under {report.root}",
                  highlight=False, soft_wrap=True)
    if report.downloaded:
        console.print(f"downloaded (missing): {', '.join(report.downloaded)}", highlight=False, soft_wrap=True)
    if report.replaced:
        console.print(f"re-downloaded (differed from the pinned SHA-256): {', '.join(report.replaced)}",
                      highlight=False, soft_wrap=True)


@app.command("schema")
def schema_command() -> None:
    """Print the row schema with the meaning of every column (Markdown)."""
    console.print(api.schema(), highlight=False, soft_wrap=True)


@app.command("compact")
def compact_command(results: Path = path_argument("RESULTS", help="results store folder")) -> None:
    """Merge a store's parts into one deduplicated part (safe to interrupt: rows are deduplicated on read)."""
    console.print(f"{call(api.compact, results, on_note=warn)} rows kept in {results}")
