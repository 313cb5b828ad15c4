"""Codec input limits: each learned codec states its smallest image (``Codec.min_image_size``),
and an image below a codec's minimum is refused before encoding, in one line naming the image,
its size and the minimum. ProbDec codes the thin and tiny images it used to fail on."""

from __future__ import annotations

import numpy as np
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.store import Store

runner = CliRunner()


def test_probdec_codes_7x5_and_3x1_images(tmp_path):
    """Both used to be error rows ("cannot reshape tensor of 0 elements", "Probability distribution
    not normalizable") naming neither the image nor the cause."""
    rng = np.random.default_rng(1)
    config = tmp_path / "bench.toml"
    config.write_text('[run]\nmetrics = ["psnr_rgb"]\ncheck_determinism = "off"\n[codecs.probdec]\nrates = [1]\n'
                      'decoder_options = [{ variance_factor = 0.0 }]\n')
    (tmp_path / "data").mkdir()
    for name, (height, width) in {"strip.png": (1, 3), "small.png": (5, 7)}.items():
        Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(tmp_path / "data" / name)
    result = runner.invoke(app, ["run", "--config", str(config), "--dataset", str(tmp_path / "data"), "--codec",
                                 "probdec", "--jobs", "1", "--results", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    rows = Store(tmp_path / "store").read()
    assert rows["error"].isna().all() and sorted(zip(rows["width"], rows["height"])) == [(3, 1), (7, 5)]


def test_an_image_below_a_codec_minimum_is_one_line_naming_it(tmp_path, monkeypatch):
    from bench_codecs.pillow_codecs import JpegCodec

    monkeypatch.setattr(JpegCodec, "min_image_size", (8, 6))
    (tmp_path / "data").mkdir()
    image = tmp_path / "data" / "small.png"
    Image.fromarray(np.zeros((5, 7, 3), dtype=np.uint8)).save(image)
    result = runner.invoke(app, ["run", "--dataset", str(tmp_path / "data"), "--codec", "jpeg", "--rate", "50",
                                 "--metric", "psnr_rgb", "--jobs", "1", "--results", str(tmp_path / "store")])
    assert result.exit_code == 1, result.output
    line = f"{image}: image is 7×5; codec jpeg needs at least 8×6 pixels, use larger images or leave jpeg out"
    assert Store(tmp_path / "store").read()["error"].tolist() == [line]
    assert line in result.output and "Traceback" not in result.output
