"""`bench run --image NAME` and `--rate R` (both repeatable) narrow a run without editing
bench.toml; a name or rate the run cannot take is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401 - registers the subcommands
from bench.cli.app import app
from bench.store import read_rows

runner = CliRunner()


@pytest.fixture
def folder(tmp_path, photo) -> Path:
    images = tmp_path / "photos"
    images.mkdir()
    for index, name in enumerate(["a.png", "b.png", "c.png"]):
        Image.fromarray(np.ascontiguousarray(photo[40 * index:40 * index + 48, 100:148])).save(images / name)
    (tmp_path / "bench.toml").write_text(f'[run]\nmetrics = ["psnr_rgb"]\njobs = 1\nresults = "{tmp_path / "store"}"\n'
                                         "[codecs.jpeg]\nrates = [10, 50, 90]\n")
    return images


def test_image_and_rate_flags_narrow_the_run(folder):
    config = folder.parent / "bench.toml"
    result = runner.invoke(app, ["run", "--config", str(config), "-d", str(folder), "-c", "jpeg", "--image", "c.png",
                                 "--image", "a.png", "--rate", "30", "--rate", "70", "--rate", "30"])
    assert result.exit_code == 0, result.output
    rows = read_rows(folder.parent / "store")
    assert sorted(set(rows["image"])) == ["a.png", "c.png"] and sorted(set(rows["rate"])) == [30.0, 70.0]
    assert len(rows) == 4


@pytest.mark.parametrize("flags,message", [
    (["--image", "nope.png"], "--image nope.png: not in dataset"),
    (["--rate", "500"], "--rate for jpeg: 500.0 outside jpeg's quality range [1, 100]"),
])
def test_a_bad_selection_is_one_line(folder, flags, message):
    config = folder.parent / "bench.toml"
    result = runner.invoke(app, ["run", "--config", str(config), "-d", str(folder), "-c", "jpeg", *flags])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
