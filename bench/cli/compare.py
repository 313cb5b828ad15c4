"""``bench compare BASELINE CANDIDATE``: exit status 1 when a curve regressed.

The verdict is Markdown on stdout, written with plain ``sys.stdout.write`` rather than a rich
console: a console hard-wraps at its width (80 columns in CI logs), which breaks table rows.
``--markdown`` writes the same text to a file (for ``$GITHUB_STEP_SUMMARY``) and ``--json``
the machine-readable verdict (its shape is documented in docs/ci.md).

Exit status 1 means "regression" to CI, so it is given for a failed verdict and nothing else:
every fault of the input (a store that cannot be read, a limit that is not a number, an output
path that cannot be written, checked before any work) is one line and status 2, and so is any
unexpected exception, since a gate that could not judge must not read as a verdict.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from bench import api
from bench.cli.app import app, fail, path_argument, path_option
from bench.errors import BenchError, one_line


@app.command("compare")
def compare_command(
    baseline: Path = path_argument("BASELINE", help="baseline results folder or parquet file"),
    candidate: Path = path_argument("CANDIDATE", help="candidate results folder or parquet file"),
    max_bd_rate: float = typer.Option(0.5, "--max-bd-rate", help="fail above this BD-rate (%) vs the baseline"),
    max_psnr_drop: float = typer.Option(0.05, "--max-psnr-drop", help="fail when a mean PSNR point drops more (dB)"),
    max_bpp_rise: float = typer.Option(0.5, "--max-bpp-rise", help="fail when a mean bpp point rises more (%) at "
                                       "the same rate parameter"),
    exact: bool = typer.Option(True, "--exact/--no-exact", help="same codec version and parameters must give identical "
                               "bytes, and PSNR within the codec's decode tolerance"),
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
    try:
        for path, option in ((json_path, "--json"), (markdown_path, "--markdown")):
            if path is not None:
                api.check_output_file(path, option)
        verdict = api.compare(baseline, candidate, datasets=dataset, codecs=codec, where=api.parse_where(where),
                              max_bd_rate=max_bd_rate, max_psnr_drop=max_psnr_drop, exact=exact, gate=gate,
                              resamples=resamples, seed=seed, max_bpp_rise=max_bpp_rise)
        text = api.verdict_markdown(verdict)
        if markdown_path is not None:
            api.write_output_file(markdown_path, text, "--markdown")
        if json_path is not None:
            api.write_output_file(json_path, json.dumps(verdict.to_dict(), indent=2, allow_nan=False) + "\n", "--json")
    except BenchError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - exit 1 would read as a regression
        fail(f"bench compare could not judge ({one_line(exc, 300)}); this is a bug in bench: please report it")
    sys.stdout.write(text)
    sys.stdout.flush()
    if not verdict.passed:
        raise typer.Exit(1)
