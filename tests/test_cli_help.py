"""Every option and argument of every ``bench`` command says what it is for in ``--help``."""

from __future__ import annotations

import typer.main
from typer.testing import CliRunner

import bench
from bench.cli import app


def walk(command, path: tuple[str, ...] = ()):
    """(command path, command) for ``command`` and every subcommand below it (Typer's click
    classes are its own copy, so groups are recognised by their ``commands``)."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, (*path, name))


def test_every_option_and_argument_has_help():
    missing = [
        f"bench {' '.join(path)} {param.opts[0]}"
        for path, command in walk(typer.main.get_command(app))
        for param in command.params
        if not (getattr(param, "help", None) or "").strip()
    ]
    assert missing == []


def test_version_prints_the_harness_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith(f"bench {bench.__version__}")
