"""``bench run``: plan every task, skip finished ones, execute the rest, store the rows, and
print what the run wrote per codec and what to run next.

``--target-bpp`` plans one matched-rate task per image × codec × decoder options instead of one
per configured rate (docs/matched-rate.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bench import config as config_module
from bench import datasets
from bench.cli.app import app, console, err_console
from bench.config import Config
from bench.datasets import ImageRef
from bench.errors import BenchError, ConfigError
from bench.execute import Settings, execute
from bench.plan import DEFAULT_TOLERANCE, Task, pending, plan, plan_matched, with_known_rates
from bench.provenance import new_provenance
from bench.store import Store
from bench.summary import render


def apply_overrides(config: Config, dataset: list[str] | None, codec: list[str] | None, jobs: int | None,
                    results: Path | None, data_dir: Path | None, metric: list[str] | None) -> Config:
    """Command-line flags win over bench.toml; codec labels are validated as in the file."""
    if dataset:
        config.datasets = dataset
    if codec:
        for label in codec:
            config.spec(label)
        config.codecs = codec
    if jobs:
        config.jobs = jobs
    if results:
        config.results = results
    if data_dir:
        config.data_dir = data_dir
    if metric:
        from bench import metrics

        config.metrics = metrics.validate(metric)
    return config


def resolve_device(name: str) -> str:
    """``auto`` means the first CUDA device when torch sees one, else the CPU."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"--device {name}: torch sees no CUDA device here; use --device cpu or auto")
    if name != "cpu" and not name.startswith("cuda"):
        raise BenchError(f"--device {name!r}: expected cpu, cuda, cuda:N or auto")
    return name


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err_console,
    )


def plan_tasks(images: list[ImageRef], config: Config, target_bpp: float | None, tolerance: float | None) -> list[Task]:
    """Ordinary tasks (every configured rate), or one matched-rate task per image × codec × options."""
    if target_bpp is None:
        if tolerance is not None:
            raise ConfigError("--tolerance applies to matched-rate runs only; add --target-bpp T or drop --tolerance")
        return plan(images, config.selected_specs())
    return plan_matched(images, config.selected_specs(), target_bpp, DEFAULT_TOLERANCE if tolerance is None else tolerance)


@app.command("run")
def run_command(
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="registered dataset name or image folder (repeatable)"),
    codec: Optional[list[str]] = typer.Option(None, "--codec", "-c", help="codec label from bench.toml or a registered name (repeatable)"),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="worker processes"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="config file (default ./bench.toml)"),
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder"),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="where named datasets live (default $BENCH_DATA_DIR)"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metric to compute (repeatable)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N images of each dataset"),
    keep_bitstreams: bool = typer.Option(False, "--keep-bitstreams", help="keep every bitstream as <results>/bitstreams/<key>.bin"),
    device: Optional[str] = typer.Option(None, "--device", help="device for the torch metrics: cpu, cuda, cuda:N or auto"),
    backend: Optional[str] = typer.Option(None, "--backend", help="loky (local processes, default) or dask"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786 (default: a local cluster of --jobs workers)"),
    target_bpp: Optional[float] = typer.Option(None, "--target-bpp", help="matched-rate mode: search each codec's rate so every image lands at this bpp"),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="relative bpp tolerance of --target-bpp (default 0.05 = ±5 %)"),
) -> None:
    """Encode, decode and measure every image × codec × rate; rows already stored are skipped."""
    config = apply_overrides(config_module.load(config_path), dataset, codec, jobs, results, data_dir, metric)
    if backend:
        config.backend = config_module.parse({"run": {"backend": backend}}, source="--backend").backend
    if scheduler:
        config.scheduler = scheduler
    config.device = resolve_device(device or config.device)
    store = Store(config.results)
    images = []
    for name in config.datasets:
        found = datasets.resolve(name, config.data_dir)
        images.extend(found[:limit] if limit else found)
    tasks = plan_tasks(images, config, target_bpp, tolerance)
    todo = pending(tasks, store.finished_keys())
    if target_bpp is not None and todo:
        todo = with_known_rates(todo, store.read(include_errors=False))
    where = config.scheduler or f"{config.jobs} job(s)"
    mode = "" if target_bpp is None else f" at {target_bpp:g} bpp ±{100 * (tolerance or DEFAULT_TOLERANCE):g} %"
    console.print(
        f"{len(images)} images × {len(config.codecs)} codecs{mode}: {len(tasks)} tasks, "
        f"{len(tasks) - len(todo)} already stored, {len(todo)} to run on {config.backend} with {where} → {store.root}",
        soft_wrap=True,
    )
    settings = Settings(metrics=tuple(config.metrics), check_determinism=config.check_determinism, device=config.device,
                        bitstream_dir=store.root / "bitstreams" if keep_bitstreams else None)
    with progress_bar() as progress:
        bar = progress.add_task("encoding", total=len(todo))
        summary = execute(todo, len(tasks) - len(todo), settings, store, new_provenance(), jobs=config.jobs,
                          on_row=lambda row: progress.advance(bar), backend=config.backend, scheduler=config.scheduler)
    for line in render(summary):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    for message, count in summary.errors.most_common(10):
        err_console.print(f"  [red]{count}×[/] {message}", highlight=False, soft_wrap=True)
    if summary.errors:
        raise typer.Exit(1)
