"""``bench drift run`` (N-fold re-encoding studies) and ``bench drift report`` (plots, tables)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Optional

import typer

from bench import config as config_module
from bench import datasets
from bench.analysis.drift_summary import summary_table
from bench.backends import stream_results
from bench.cli.app import app, console, count_line, err_console, fail, store_locked
from bench.api import colour_order
from bench.cli.run import progress_bar
from bench.runner import apply_overrides, resolve_device
from bench.drift import chain_keys, check_float_carry, first_missing, plan_chains, run_chain
from bench.errors import ConfigError
from bench.execute import Settings, codec_for
from bench.provenance import new_provenance
from bench.render.drift import plot_drift
from bench.render.tables import write_all
from bench.store import Store

drift_app = typer.Typer(help="Generation-loss (re-encoding) studies.", no_args_is_help=True)
app.add_typer(drift_app, name="drift")
DRIFT_KEYS = {"generations", "schedules", "carry", "threshold_db"}
#: Most generations a drift study may run: every one is a task per image and codec, planned up front.
MAX_GENERATIONS = 10_000


def drift_section(path: Path | None) -> dict:
    """The validated ``[drift]`` section of bench.toml (empty when absent)."""
    path = path or config_module.DEFAULT_CONFIG
    if not path.exists():
        return {}
    try:
        section = tomllib.loads(config_module.read_config_text(path)).get("drift", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [drift] must be a table")
    unknown = sorted(set(section) - DRIFT_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join('drift.' + k for k in unknown)}; allowed: {', '.join(sorted(DRIFT_KEYS))}")
    generations = section.get("generations", 1)
    if isinstance(generations, bool) or not isinstance(generations, int) or not 1 <= generations <= MAX_GENERATIONS:
        raise ConfigError(f"{path}: drift.generations must be an integer in [1, {MAX_GENERATIONS}]")
    if "schedules" in section and not (isinstance(section["schedules"], list) and all(isinstance(s, str) for s in section["schedules"])):
        raise ConfigError(f"{path}: drift.schedules must be a list of strings like 'jpeg:75'")
    return section


@drift_app.command("run")
def drift_run(
    schedule: Optional[list[str]] = typer.Option(None, "--schedule", "-s", help="label:rate, label:a..b:n or a comma-separated chain (repeatable)"),
    generations: Optional[int] = typer.Option(None, "--generations", "-n", min=1, max=MAX_GENERATIONS, help="re-encodings per chain (default drift.generations in bench.toml, else 10)"),
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="registered dataset name or image folder (repeatable; default from bench.toml)"),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="worker processes (one chain per task)"),
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder (default from bench.toml)"),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="metric to compute each generation (repeatable; default from bench.toml)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N images of each dataset"),
    carry: Optional[str] = typer.Option(None, "--carry", help="what the next generation encodes: uint8 (the decoded 8-bit image, default) or float (a learned codec's unrounded reconstruction)"),
    device: Optional[str] = typer.Option(None, "--device", help="device for the torch metrics: cpu, cuda, cuda:N or auto"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="config file (default ./bench.toml)"),
) -> None:
    """Re-encode every image N times per schedule; resumes from the last stored generation of each chain."""
    section = drift_section(config_path)
    config = apply_overrides(config_module.load(config_path), dataset, None, jobs, results, None, metric)
    config.device = resolve_device(device or config.device)
    schedules = schedule or section.get("schedules")
    if not schedules:
        fail("no drift schedule: pass --schedule jpeg:75 or set drift.schedules in bench.toml")
    n = generations or section.get("generations", 10)
    images = []
    for name in config.datasets:
        found = datasets.resolve(name, config.data_dir)
        images += found[:limit] if limit else found
    chains = plan_chains(images, schedules, carry or section.get("carry", "uint8"), config)
    labels = {step.codec for chain in chains for step in chain.steps}
    specs = {label: config.spec(label) for label in labels}
    codecs = {label: codec_for(spec.impl, spec.params) for label, spec in specs.items()}
    for chain in chains:
        check_float_carry(chain, specs)
    store = Store(config.results)
    with store_locked(store, "bench drift run"):
        _run_chains(chains, n, specs, codecs, config, store)


def _run_chains(chains: list, n: int, specs: dict, codecs: dict, config: config_module.Config, store: Store) -> None:
    """Run what is missing of every chain into ``store`` (locked by the caller) and report."""
    finished = store.finished_keys()
    starts = [first_missing(chain_keys(chain, n, specs, codecs), finished) for chain in chains]
    todo = [(chain, start) for chain, start in zip(chains, starts) if start <= n]
    remaining = sum(n - start + 1 for _, start in todo)
    console.print(f"{len(chains)} chains × {n} generations; {len(chains) * n - remaining} rows stored, {remaining} to run → {store.root}")
    settings = Settings(metrics=tuple(config.metrics), check_determinism=config.check_determinism, device=config.device)
    kwargs = {"generations": n, "specs": specs, "settings": settings, "provenance": new_provenance(), "store_root": store.root}
    with progress_bar() as progress:
        bar = progress.add_task("chains", total=len(todo))
        written = 0
        for summary in stream_results(_run, todo, kwargs, backend=config.backend, jobs=config.jobs, scheduler=config.scheduler):
            written += summary["written"]
            progress.advance(bar)
    console.print(f"wrote {written} generation rows to {store.root}")
    errors = store.read()
    errors = errors[errors["error"].notna() & (errors["chain"].fillna("") != "")]
    for message, count in errors["error"].value_counts().head(10).items():
        err_console.print(count_line(count, message), highlight=False, soft_wrap=True)
    if len(errors):
        raise typer.Exit(1)


def _run(item, **kwargs):
    chain, start = item
    return run_chain(chain, start=start, **kwargs)


@drift_app.command("report")
def drift_report(
    results: Optional[Path] = typer.Option(None, "--results", help="results store folder (default from bench.toml)"),
    metric: str = typer.Option("psnr_rgb", "--metric", "-m", help="metric plotted against generation"),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="drop (metric units) whose first crossing is reported"),
    out: Path = typer.Option(Path("results/drift"), "--out", "-o", help="folder for the plots and the drift table"),
    config_path: Optional[Path] = typer.Option(None, "--config", help="config file (default ./bench.toml); also holds drift.threshold_db"),
) -> None:
    """Plot metric vs generation and write the drift table (Markdown, LaTeX, CSV)."""
    config = config_module.load(config_path)
    rows = Store(results or config.results).read()
    threshold = threshold if threshold is not None else drift_section(config_path).get("threshold_db", 1.0)
    table = summary_table(rows, metric, threshold)
    if table.empty:
        fail("no drift rows stored; run `bench drift run` first")
    for path in plot_drift(rows, out, metric, codec_order=colour_order(rows, config_path)):
        console.print(str(path))
    caption = (f"Generation loss in {metric} against the original: means over images; first crossing = first generation at least "
               f"{threshold:g} below generation 1; fixed point = identical bitstreams in consecutive generations")
    for path in write_all(table, out / f"drift-{metric}", caption, best={"mean drop": "min"}):
        console.print(str(path))
