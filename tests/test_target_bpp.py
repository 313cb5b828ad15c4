"""`bench run --target-bpp`: every image × codec lands within the tolerance of the target, rows
record the target and the search, reruns skip them, and ordinary rows keep their keys."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.config.settings import CodecSpec
from bench.errors import ConfigError
from bench.plan.tasks import RateTarget, Task, plan_matched, search_bounds
from bench.store import Store

runner = CliRunner()
TARGET = 0.8


@pytest.fixture
def folder(tmp_path, photo) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(photo[:160, :200]).save(folder / "a.png")
    Image.fromarray(np.ascontiguousarray(photo[200:360, 100:300])).save(folder / "b.png")
    return folder


@pytest.fixture
def cfg(tmp_path) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text('[run]\ncodecs = ["jpeg", "webp"]\nmetrics = ["psnr_rgb"]\njobs = 1\nresults = "store"\n'
                    "[codecs.jpeg]\nrates = [50]\n[codecs.webp]\nrates = [50]\n")
    return path


def run(cfg: Path, folder: Path, *flags: str):
    return runner.invoke(app, ["run", "--config", str(cfg), "--dataset", str(folder), *flags])


def test_jpeg_and_webp_land_within_five_percent_and_a_rerun_skips_everything(tmp_path, cfg, folder):
    first = run(cfg, folder, "--target-bpp", str(TARGET), "--jobs", "2")
    assert first.exit_code == 0, first.output
    rows = Store(tmp_path / "store").read()
    assert len(rows) == 4 and rows["error"].isna().all()
    assert sorted(zip(rows["codec"], rows["image"])) == [("jpeg", "a.png"), ("jpeg", "b.png"), ("webp", "a.png"), ("webp", "b.png")]
    assert (rows["target_bpp"] == TARGET).all()
    assert (abs(rows["bpp"] / TARGET - 1) <= 0.05).all()
    for _, r in rows.iterrows():
        search = json.loads(r["rate_search"])
        assert search["within"] and search["reason"] == "" and search["tolerance"] == 0.05
        assert search["rate"] == r["rate"] and search["bpp"] == pytest.approx(r["bpp"])
        assert [r["rate"], pytest.approx(r["bpp"])] in search["steps"] and float(r["rate"]).is_integer()
        assert f"quality={int(r['rate'])}" in r["command"]
    table = [line.split() for line in first.output.splitlines() if line.startswith(("jpeg ", "webp "))]
    assert "within target" in first.output and [cells[-1] for cells in table] == ["2/2", "2/2"]

    parts = Store(tmp_path / "store").parts()
    second = run(cfg, folder, "--target-bpp", str(TARGET))
    assert second.exit_code == 0 and "4 tasks, 4 already stored, 0 to run" in second.output
    assert Store(tmp_path / "store").parts() == parts


def test_matched_rows_keep_apart_from_ordinary_rows_and_reuse_their_encodes(tmp_path, cfg, folder):
    assert run(cfg, folder, "--codec", "jpeg").exit_code == 0
    ordinary = Store(tmp_path / "store").read().set_index("image")
    target = float(ordinary.loc["a.png", "bpp"])  # what quality 50 gives a.png: found without encoding
    result = run(cfg, folder, "--codec", "jpeg", "--target-bpp", repr(target))
    assert result.exit_code == 0, result.output
    rows = Store(tmp_path / "store").read()
    assert len(rows) == 4 and rows["key"].is_unique
    matched = rows[rows["target_bpp"].notna()].set_index("image")
    assert matched.loc["a.png", "rate"] == 50 and json.loads(matched.loc["a.png", "rate_search"])["steps"] == []
    assert rows[rows["target_bpp"].isna()]["rate_search"].isna().all()


def test_a_target_no_rate_can_reach_stores_the_nearest_row_and_the_summary_lists_it(tmp_path, cfg, folder):
    result = run(cfg, folder, "--codec", "jpeg", "--target-bpp", "0.01")
    assert result.exit_code == 0, result.output
    rows = Store(tmp_path / "store").read()
    assert (rows["rate"] == 1).all() and rows["error"].isna().all()
    for text in rows["rate_search"]:
        search = json.loads(text)
        assert not search["within"] and "below the reachable range" in search["reason"]
    assert result.output.count("off target: jpeg") == 2
    assert next(line for line in result.output.splitlines() if line.startswith("jpeg ")).endswith("0/2")


def test_tolerance_without_a_target_is_an_error(cfg, folder):
    result = run(cfg, folder, "--tolerance", "0.1")
    assert result.exit_code == 2 and "--target-bpp" in result.output  # one line, before any work


def ordinary_task(**changes) -> Task:
    fields = dict(dataset="kodak", image="kodim01.png", image_path=Path("kodim01.png"), image_sha256="ab" * 32,
                  codec="jpeg-444", codec_impl="jpeg", codec_version="Pillow 11.0.0", params={"subsampling": "4:4:4"},
                  rate_parameter="quality", rate=75.0, decoder_options={})
    return Task(**{**fields, **changes})


def test_ordinary_keys_are_exactly_what_they_were():
    # literals computed by the harness at schema version 2 (the image name joined the key)
    assert ordinary_task().key == "470f2174ab267b04cf42013b56343144dc9bc286c8e9fcea19c9356cd196f0ed"
    ilc = ordinary_task(codec="ilc", codec_impl="ilc", codec_version="ILC; x", params={"device": "cpu"},
                        rate_parameter="model_index", rate=1.0, decoder_options={"z": "sample", "temperature": 0.5, "seed": 0})
    assert ilc.key == "a6785230c1acd5885b5ce4b6d0442da26a6a3e1d710e4b9dbc2f271ed340a159"


def test_a_matched_key_holds_the_target_and_tolerance_not_the_search_range_or_seeds():
    def matched(bpp=0.5, tolerance=0.05, low=1.0, high=100.0, known=()):
        return ordinary_task(rate=math.nan, target=RateTarget(bpp, tolerance, low, high, True, known)).key

    assert matched() == matched(low=10.0, known=((50.0, 0.6),))
    assert len({matched(), matched(bpp=0.25), matched(tolerance=0.02), ordinary_task().key}) == 4


class _Fake:
    def __init__(self, rate_parameter: str, rate_range: tuple[float, float]) -> None:
        self.rate_parameter, self.rate_range = rate_parameter, rate_range


@pytest.mark.parametrize(("rate_parameter", "rate_range", "expected"), [
    ("quality", (1, 100), (1.0, 100.0)),               # the codec's declared range
    ("model_index", (1, 64), (1.0, 3.0)),              # only the configured checkpoints exist
    ("lambda", (-math.inf, math.inf), (1.0, 3.0)),     # unbounded: the configured span
])
def test_the_search_range(rate_parameter, rate_range, expected):
    spec = CodecSpec("c", "c", {}, (1.0, 2.0, 3.0))
    assert search_bounds(spec, _Fake(rate_parameter, rate_range)) == expected


@pytest.mark.parametrize(("target", "tolerance"), [(0.0, 0.05), (-1.0, 0.05), (math.inf, 0.05), (0.5, 0.0), (0.5, 1.5)])
def test_a_bad_target_or_tolerance_is_refused_before_any_work(target, tolerance):
    with pytest.raises(ConfigError, match="--target-bpp|--tolerance"):
        plan_matched([], [], target, tolerance)
