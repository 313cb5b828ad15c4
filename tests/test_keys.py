"""Task keys: an image's name is part of its identity, so identical files keep their own rows."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from bench.cli import app
from bench.plan.tasks import Task
from bench.schema import IDENTITY_COLUMNS, SCHEMA_VERSION, version_mismatch
from bench.store import Store


def task(image: str) -> Task:
    return Task(dataset="kodak", image=image, image_path=Path(image), image_sha256="ab" * 32, codec="jpeg",
                codec_impl="jpeg", codec_version="Pillow 11.0.0", params={}, rate=75.0)


def test_identical_bytes_under_different_names_have_different_keys():
    assert task("kodim01.png").key != task("copy.png").key
    assert task("kodim01.png").identity()["image"] == "kodim01.png" and "image" in IDENTITY_COLUMNS


def test_identical_files_each_keep_their_rows(tmp_path, photo):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(photo[:64, :80]).save(folder / "a.png")
    Image.fromarray(photo[100:164, 100:180]).save(folder / "b.png")
    for copy in ("a copy.png", "a again.png"):
        shutil.copyfile(folder / "a.png", folder / copy)
    config = tmp_path / "bench.toml"
    config.write_text('[run]\ncodecs = ["jpeg"]\nmetrics = ["psnr_rgb"]\njobs = 1\nresults = "store"\n'
                      "[codecs.jpeg]\nrates = [30, 60]\n")
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--dataset", str(folder),
                                      "--results", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    rows = Store(tmp_path / "store").read()
    assert len(rows) == 8 and rows.groupby("image").size().to_dict() == {
        "a again.png": 2, "a copy.png": 2, "a.png": 2, "b.png": 2}
    again = CliRunner().invoke(app, ["run", "--config", str(config), "--dataset", str(folder),
                                     "--results", str(tmp_path / "store")])
    assert "8 already stored, 0 to run" in again.output


def test_an_old_schema_says_to_rerun_or_keep_the_old_version():
    assert SCHEMA_VERSION == 2
    advice = version_mismatch("1")
    assert "image name" in advice and "bench migrate" in advice and "bench version that wrote it" in advice
    assert "move it out of the results" in version_mismatch("7")
