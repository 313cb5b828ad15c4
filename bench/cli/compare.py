"""``bench compare BASELINE CANDIDATE``: exit status 1 when a curve regressed.

The verdict is Markdown on stdout, written with plain ``sys.stdout.write`` rather than a rich
console: a console hard-wraps at its width (80 columns in CI logs), which breaks table rows.
``--markdown`` writes the same text to a file (for ``$GITHUB_STEP_SUMMARY``) and ``--json``
the machine-readable verdict (its shape is documented in docs/ci.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from bench import api
from bench.cli.app import app, call, path_argument, path_option


@app.command("compare")
def compare_command(
    baseline: Path = path_argument("BASELINE", help="baseline results folder or parquet file"),
    candidate: Path = path_argument("CANDIDATE", help="candidate results folder or parquet file"),
    max_bd_rate: float = typer.Option(0.5, "--max-bd-rate", help="fail above this BD-rate (%) vs the baseline"),
    max_psnr_drop: float = typer.Option(0.05, "--max-psnr-drop", help="fail when a mean PSNR point drops more (dB)"),
    exact: bool = typer.Option(True, "--exact/--no-exact", help="same codec version must give identical output"),
    gate: str = typer.Option("point", "--gate", help="point: the BD-rate exceeds --max-bd-rate; interval: its whole "
                             "95 % bootstrap interval over images lies above it"),
    resamples: int = typer.Option(api.DEFAULT_RESAMPLES, "--resamples", help="bootstrap resamples (interval gate)"),
    seed: int = typer.Option(api.DEFAULT_SEED, "--seed", help="bootstrap seed (interval gate)"),
    dataset: list[str] = typer.Option([], "--dataset", help="compare only this dataset (repeatable)"),
    codec: list[str] = typer.Option([], "--codec", help="compare only this codec label (repeatable)"),
    where: list[str] = typer.Option([], "--where", help="only rows whose column, decoder option or parameter KEY "
                                    "has VALUE, as KEY=VALUE (repeatable)"),
    json_path: Optional[Path] = path_option(None, "--json", help="also write the verdict as JSON (docs/ci.md)"),
    markdown_path: Optional[Path] = path_option(None, "--markdown", help="also write the Markdown to this file"),
) -> None:
    """Match rows by dataset, codec, decoder options, rate and image; report deltas; fail on regressions."""
    verdict = call(api.compare, baseline, candidate, datasets=dataset, codecs=codec, where=call(api.parse_where, where),
                   max_bd_rate=max_bd_rate, max_psnr_drop=max_psnr_drop, exact=exact, gate=gate,
                   resamples=resamples, seed=seed)
    text = api.verdict_markdown(verdict)
    sys.stdout.write(text)
    sys.stdout.flush()
    if markdown_path is not None:
        api.write_output_file(markdown_path, text)
    if json_path is not None:
        api.write_output_file(json_path, json.dumps(verdict.to_dict(), indent=2, allow_nan=False) + "\n")
    if not verdict.passed:
        raise typer.Exit(1)
