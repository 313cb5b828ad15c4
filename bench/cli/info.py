"""``bench codecs``, ``bench datasets`` and ``bench schema``: what this installation offers."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from bench import datasets as dataset_registry
from bench.archives import read_record
from bench.cli.app import app, call, console, styled
from bench.codec import registered_codecs
from bench.schema import markdown_table


@app.command("codecs")
def codecs_command() -> None:
    """List registered codecs, their rate parameter and whether they can run here."""
    table = Table("codec", "rate parameter", "default rates", "status")
    for name, cls in sorted(registered_codecs().items()):
        reason = cls.unavailable_reason()
        rates = ", ".join(f"{r:g}" for r in cls.default_rates)
        table.add_row(name, cls.rate_parameter, rates, styled((reason, "red")) if reason else styled(("available", "green")))
    console.print(table)


datasets_app = typer.Typer(help="List and fetch named datasets.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")


@datasets_app.command("list")
def datasets_list() -> None:
    """Registered datasets: image count, where their files are looked for, and what pins them."""
    root = dataset_registry.default_data_dir()
    for name, ds in sorted(dataset_registry.registered_datasets().items()):
        console.print(styled((name, "bold"), f": {ds.image_count} images; {ds.description} ({ds.root(root)})"),
                      highlight=False, soft_wrap=True)
        console.print(f"  {_pin_line(ds, root)}", highlight=False, soft_wrap=True)


def _pin_line(ds: dataset_registry.NamedDataset, data_dir: Path) -> str:
    """What a dataset's files are checked against, and where that pin came from."""
    if ds.local_root:
        return "no pins: files of an installed package"
    if ds.archive is None:
        return "every file's SHA-256 pinned in the package"
    remote = ds.archive
    size = f"{remote.size:,} bytes" if remote.size is not None else "size unknown"
    if remote.trust_on_first_use:
        record = read_record(ds.root(data_dir))
        recorded = f"recorded {record['sha256']} at the first fetch" if record else "the first fetch records it"
        return (f"archive {remote.filename} ({size}), SHA-256 not pinned: trust on first use ({recorded}; "
                f"{remote.digest_source}); {remote.url}")
    return f"archive {remote.filename} ({size}), SHA-256 {remote.sha256} from {remote.digest_source}; {remote.url}"


@datasets_app.command("fetch")
def datasets_fetch(
    name: str = typer.Argument(..., help="registered dataset name (see `bench datasets list`)"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="target folder (default $BENCH_DATA_DIR or the user cache)"),
    archive: Optional[Path] = typer.Option(None, "--archive", help="the dataset's archive, downloaded by hand: verified, then extracted"),
) -> None:
    """Download a named dataset's missing files and re-download any present file whose SHA-256 differs from its pin."""
    report = call(dataset_registry.fetch_dataset, name, data_dir, archive)
    refs = call(dataset_registry.resolve, name, data_dir, download=False)
    pinned = " and matching their pinned SHA-256" if all(ref.modified is False for ref in refs) else ""
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
    console.print(markdown_table(), highlight=False, soft_wrap=True)


@app.command("compact")
def compact_command(results: Path = typer.Argument(..., help="results store folder")) -> None:
    """Merge a store's parts into one deduplicated part (safe to interrupt: rows are deduplicated on read)."""
    from bench.store import Store

    console.print(f"{Store(results).compact()} rows kept in {results}")
