"""`bench crops`: crops of stored points (kept bitstreams or re-encodes checked against the row's
SHA-256), rate-searched crops within tolerance, and one-line errors for bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.crops import Box, crop_grid, find_image
from bench.errors import AnalysisError, ConfigError
from bench.store import read_rows

runner = CliRunner()
RATES = "[10, 30, 50, 70, 90]"


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """One folder dataset of two 96×64 photos, run with JPEG and WebP into two stores: one
    keeping its bitstreams, one not."""
    from skimage import data

    root = tmp_path_factory.mktemp("crops")
    folder = root / "imgs"
    folder.mkdir()
    Image.fromarray(data.astronaut()[40:104, 180:276]).save(folder / "a.png")
    Image.fromarray(data.coffee()[100:164, 200:296]).save(folder / "b.png")
    config = root / "bench.toml"
    config.write_text(f'[run]\ncodecs = ["jpeg", "webp"]\nmetrics = ["psnr_rgb"]\njobs = 1\nresults = "store"\n'
                      f"[codecs.jpeg]\nrates = {RATES}\n[codecs.webp]\nrates = {RATES}\n")
    paths = {"folder": folder, "config": config}
    for name, flags in (("kept", ["--keep-bitstreams"]), ("plain", [])):
        store = root / name
        result = runner.invoke(app, ["run", "--config", str(config), "--dataset", str(folder),
                                     "--results", str(store), *flags])
        assert result.exit_code == 0, result.output
        paths[name] = store
    return paths


def grid(stores, store: str, tmp_path: Path, **kwargs):
    rows = read_rows(stores[store])
    ref = find_image("a", str(stores["folder"]))
    args = dict(codecs=None, target_bpp=2.0, search=False, tolerance=0.05, results_dir=stores[store],
                out_dir=tmp_path, metrics=None) | kwargs
    return crop_grid(rows, ref, Box(10, 8, 48, 32), **args)


def test_kept_bitstreams_give_one_panel_per_codec_plus_the_original(stores, tmp_path):
    result = grid(stores, "kept", tmp_path)
    assert result.panels == 3 and len(result.choices) == 2
    assert result.path == tmp_path / "crops-imgs-a-2.png" and result.path.is_file()
    assert list(result.choices["codec"]) == ["jpeg", "webp"]
    assert all("kept bitstream" in how for how in result.choices["chosen"])
    rows = read_rows(stores["kept"])
    mine = rows[(rows["image"] == "a.png") & (rows["codec"] == "jpeg")]
    nearest = mine.iloc[int(np.argmin(np.abs(mine["bpp"] - 2.0)))]
    assert result.choices.iloc[0]["bpp"] == nearest["bpp"]
    assert result.choices.iloc[0]["psnr_rgb"] == nearest["psnr_rgb"]
    with Image.open(result.path) as png:
        assert png.mode in ("RGB", "RGBA") and png.size[0] > 3 * 48 * 6  # crops enlarged ×7
        assert np.asarray(png.convert("RGB"))[0, 0].tolist() == [255, 255, 255]
    assert result.markdown().startswith("| codec | rate | bpp |") and result.markdown().count("\n") == 3


def test_without_kept_bitstreams_the_re_encode_reproduces_the_stored_bytes(stores, tmp_path):
    result = grid(stores, "plain", tmp_path)
    assert all("re-encoded, same bytes" in how for how in result.choices["chosen"])
    assert result.notes == []
    rows = read_rows(stores["plain"])
    rows.loc[rows["codec"] == "webp", "bitstream_sha256"] = hashlib.sha256(b"other").hexdigest()
    ref = find_image("a.png", str(stores["folder"]))
    tampered = crop_grid(rows, ref, Box(0, 0, 96, 64), ["webp"], 2.0, False, 0.05, stores["plain"], tmp_path)
    assert "other bytes" in tampered.choices.iloc[0]["chosen"]
    assert any("SHA-256 differs" in note for note in tampered.notes)


@pytest.mark.parametrize("target", [1.5, 3.0])
def test_target_bpp_search_lands_within_tolerance(stores, tmp_path, target):
    result = grid(stores, "plain", tmp_path, target_bpp=target, search=True)
    assert result.choices["within"].all(), result.notes
    assert (abs(result.choices["bpp"] / target - 1) <= 0.05).all()
    assert all(how.startswith("searched") for how in result.choices["chosen"])


def test_unreachable_target_is_shown_with_the_reason(stores, tmp_path):
    result = grid(stores, "plain", tmp_path, target_bpp=60.0, search=True, codecs=["jpeg"])
    assert not result.choices.iloc[0]["within"] and result.panels == 2
    assert any(n.startswith("jpeg: missed ±5% of 60 bpp") and "reachable range" in n for n in result.notes)


def test_cli_prints_the_table_and_writes_the_png(stores, tmp_path):
    result = runner.invoke(app, ["crops", "--image", "b", "--bpp", "1", "--box", "0,0,32,32", "--codec", "webp",
                                 "--results", str(stores["kept"]), "--config", str(stores["config"]),
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "| webp | quality=" in result.output and (tmp_path / "crops-imgs-b-1.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["--box", "90,0,32,32", "--bpp", "1"], "outside b.png, which is 96×64 pixels"),
    (["--box", "0,0,32", "--bpp", "1"], "write x,y,width,height"),
    (["--box", "0,0,32,32"], "exactly one of --bpp"),
    (["--box", "0,0,32,32", "--bpp", "1", "--codec", "avif"], "--codec avif: not in the store"),
])
def test_bad_input_is_a_one_line_error(stores, tmp_path, args, message):
    result = runner.invoke(app, ["crops", "--image", "b", "--results", str(stores["plain"]),
                                 "--config", str(stores["config"]), "--out", str(tmp_path), *args])
    assert isinstance(result.exception, (ConfigError, AnalysisError)), result.output
    assert message in str(result.exception) and "\n" not in str(result.exception)


def test_image_errors_name_the_image(stores, tmp_path):
    with pytest.raises(ConfigError, match="--image kodim99: not in dataset"):
        find_image("kodim99", str(stores["folder"]))
    rows = read_rows(stores["plain"])
    ref = find_image("a", str(stores["folder"]))
    with pytest.raises(AnalysisError, match="no successful single-pass rows"):
        crop_grid(rows[rows["image"] != "a.png"], ref, Box(0, 0, 8, 8), None, 1.0, False, 0.05, None, tmp_path)
    changed = rows.copy()
    changed["image_sha256"] = "0" * 64
    with pytest.raises(AnalysisError, match="the file changed since the run"):
        crop_grid(changed, ref, Box(0, 0, 8, 8), None, 1.0, False, 0.05, None, tmp_path)
