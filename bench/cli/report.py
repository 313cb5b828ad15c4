"""``bench report`` (one HTML page per store) and ``bench history`` (regression tracking across commits)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench import api
from bench.cli.app import app, call, console, path_option

HISTORY = api.HISTORY


@app.command("report")
def report_command(
    results: Optional[Path] = path_option(None, "--results", help="results store folder (default from bench.toml)"),
    out: Optional[Path] = path_option(None, "--out", "-o", help="HTML file to write (default: report.html beside the store's folder, e.g. results/report.html for results/parts)"),
    anchor: str = typer.Option("jpeg", "--anchor", help="codec label the BD-rates are measured against, or published:<curve>"),
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="only this dataset (repeatable)"),
    codec: Optional[list[str]] = typer.Option(None, "--codec", "-c", help="only this codec label (repeatable)"),
    where: Optional[list[str]] = typer.Option(None, "--where", help="only rows whose column, decoder option or parameter KEY equals VALUE (repeatable)"),
    images: str = typer.Option("own", "--images", help="own: each curve over its own images, a BD over the images it shares with the anchor; common: every mean over the images all curves have"),
    published: Optional[list[str]] = typer.Option(None, "--published", help="overlay published curves: a set (compressai, invcompress, iat, ilc) or published:<curve> (repeatable)"),
    band: str = typer.Option("iqr", "--band", help="spread band on mean curves: iqr, minmax or none"),
    crops: Optional[list[Path]] = path_option(None, "--crops", help="crop grid PNG written by `bench crops` to embed (repeatable)"),
    resamples: int = typer.Option(1000, "--resamples", min=0, help="bootstrap resamples for the BD intervals (0: none)"),
    published_partial: bool = typer.Option(False, "--published-partial", help="BD against a published:<curve> anchor also for curves measured on fewer images than the published mean covers (the note says so)"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file (default ./bench.toml)"),
) -> None:
    """A self-contained HTML page per store: per dataset RD plots, BD/AUC/RD-point tables, per-image data, crops, failures; environment."""
    path = call(api.report, results, config=config_path, datasets=dataset or (), codecs=codec or (),
                where=call(api.parse_where, where or []), anchor=anchor, images=images, band=band,
                published_curves=published or (), crops=crops or (), resamples=resamples,
                published_partial=published_partial, out=out or api.Beside("report.html"))
    console.print(str(path), highlight=False, soft_wrap=True)


history_app = typer.Typer(help="Regression tracking over commits: record stores per commit, report the history.",
                          no_args_is_help=True)
app.add_typer(history_app, name="history")


@history_app.command("append")
def history_append(
    results: Path = path_option(..., "--results", help="results store folder of this commit's run"),
    history: Path = path_option(HISTORY, "--history", help="history folder (parquet parts, one per commit and machine)"),
    repo: Path = path_option(Path("."), "--repo", help="git checkout the commit belongs to"),
    commit: str = typer.Option("HEAD", "--commit", help="commit the store measured (hash, branch or tag)"),
    machine: Optional[str] = typer.Option(None, "--machine", help="machine name (default: the rows' host)"),
) -> None:
    """Record a store's means per dataset, curve and rate point as one commit; again for the same commit and machine replaces it."""
    done = call(api.history_append, results, history=history, repo=repo, commit=commit, machine=machine)
    verb = "replaced" if done.replaced else "recorded"
    console.print(f"{verb} {done.records} rate points of {done.commit[:10]} ({done.subject}) on {done.machine} in {history}",
                  highlight=False, soft_wrap=True)


@history_app.command("report")
def history_report(
    history: Path = path_option(HISTORY, "--history", help="history folder written by `bench history append`"),
    repo: Path = path_option(Path("."), "--repo", help="git checkout whose history orders the commits"),
    branch: str = typer.Option("HEAD", "--branch", help="branch or commit whose ancestry orders the commits"),
    out: Path = path_option(Path("results/history.html"), "--out", "-o", help="HTML dashboard to write"),
    json_out: Optional[Path] = path_option(None, "--json", help="also write the detected steps as JSON"),
    config_path: Optional[Path] = path_option(None, "--config", help="config file whose codec order fixes colours (default ./bench.toml)"),
) -> None:
    """An HTML dashboard of every curve over commits in git order, with the steps (regressions and improvements) detected."""
    done = call(api.history_report, history, repo=repo, branch=branch, out=out, json_out=json_out, config=config_path)
    for step in done.steps.itertuples():
        console.print(f"{'worse' if step.worse else 'better'}: {step.curve} on {step.dataset} ({step.machine}), {step.metric} "
                      f"{step.before:.4g} -> {step.after:.4g} between {step.commit_before[:10]} and {step.commit_after[:10]}",
                      highlight=False, soft_wrap=True)
    if done.unknown:
        console.print(f"{len(done.unknown)} recorded commit(s) not in the git history of {branch}: "
                      + " ".join(sha[:10] for sha in done.unknown), highlight=False, soft_wrap=True)
    console.print(str(done.out), highlight=False, soft_wrap=True)
