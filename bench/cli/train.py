"""``bench train NAME``: train a learned codec through its registered trainer.

Trainers register in the ``bench.trainers`` entry-point group as functions
``trainer(name, options: dict)``, so this command never imports a codec itself.
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Optional

import typer

from bench.cli.app import app
from bench.errors import ConfigError

TRAINERS = "bench.trainers"


@app.command("train")
def train_command(
    name: str = typer.Argument(..., help="registered trainer: invcompress, iat, ..."),
    data: list[Path] = typer.Option(..., "--data", help="folder of training images (repeatable); never the test set"),
    out: Path = typer.Option(..., "--out", help="folder for checkpoint.pt, train.log and config.json (resumes from it)"),
    steps: int = typer.Option(1000, "--steps", min=1, help="optimiser steps in total (a resumed run continues to this count)"),
    export: Optional[Path] = typer.Option(None, "--export", help="write the codec weights file here when done"),
    option: Optional[list[str]] = typer.Option(None, "--set", help="trainer option KEY=VALUE (JSON value), repeatable"),
) -> None:
    """Train (or resume training) a learned codec on a folder of images."""
    trainers = {ep.name: ep for ep in entry_points(group=TRAINERS)}
    if name not in trainers:
        raise ConfigError(f"no trainer {name!r}; registered: {', '.join(sorted(trainers)) or 'none'}")
    options: dict = {"data": [str(d) for d in data], "out": str(out), "steps": steps}
    if export:
        options["export"] = str(export)
    for item in option or []:
        key, _, value = item.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    trainers[name].load()(name, options)
