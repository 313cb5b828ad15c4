"""``bench train NAME``: train a learned codec through its registered trainer.

Trainers register in the ``bench.trainers`` entry-point group as functions
``trainer(name, options: dict)``, so this command never imports a codec itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from bench import api
from bench.cli.app import app, call, path_option


@app.command("train")
def train_command(
    name: str = typer.Argument(..., help="registered trainer: invcompress, iat, ..."),
    data: list[Path] = path_option(..., "--data", help="folder of training images (repeatable); never the test set"),
    out: Path = path_option(..., "--out", help="folder for checkpoint.pt, train.log and config.json (resumes from it)"),
    steps: int = typer.Option(1000, "--steps", min=1, help="optimiser steps in total (a resumed run continues to this count)"),
    export: Optional[Path] = path_option(None, "--export", help="write the codec weights file here when done"),
    option: Optional[list[str]] = typer.Option(None, "--set", help="trainer option KEY=VALUE (JSON value), repeatable"),
) -> None:
    """Train (or resume training) a learned codec on a folder of images."""
    call(api.train, name, data, out, steps=steps, export=export, options=option or ())
