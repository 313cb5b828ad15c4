"""The Python API: every command as a function that takes typed arguments and returns data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench import api
from bench.errors import ResultsError


@pytest.fixture
def study(tmp_path, photo):
    folder = tmp_path / "photos"
    folder.mkdir()
    for index, (y, x) in enumerate([(100, 150), (250, 250), (300, 50)]):
        Image.fromarray(np.ascontiguousarray(photo[y:y + 128, x:x + 128])).save(folder / f"p{index}.png")
    config = tmp_path / "bench.toml"
    config.write_text(f'[run]\nmetrics = ["psnr_rgb"]\njobs = 1\nresults = "{tmp_path / "store"}"\n'
                      "[codecs.jpeg]\nrates = [10, 30, 50, 70, 90]\n[codecs.webp]\nrates = [10, 30, 50, 70, 90]\n")
    return tmp_path, folder, config


def test_a_notebook_session_end_to_end(study):
    root, folder, config = study
    summary = api.run(config=config, datasets=[str(folder)], codecs=["jpeg", "webp"])
    assert summary.written == 30 and not summary.failed
    assert summary.per_codec["webp"].written == 15 and summary.per_codec["jpeg"].mean_bpp > 0
    assert api.run(config=config, datasets=[str(folder)], codecs=["jpeg", "webp"]).skipped == 30  # resumes

    rows = api.rows(config=config, codecs=["webp"])
    assert set(rows["codec"]) == {"webp"} and len(rows) == 15

    tables = api.table(config=config, anchor="jpeg", resamples=50, out=None)
    bd = tables.bd["psnr_rgb"].set_index("curve")
    assert bd.loc["webp", "bd_rate"] < 0 and pd.isna(bd.loc["webp", "bd_rate_low"])  # 3 images: no interval
    assert "no interval (3 images; a bootstrap interval needs at least 5)" in bd.loc["webp", "note"]
    assert tables.files == []
    written = api.table(config=config, resamples=0, out=root / "tables").files
    assert any(path.name == "bd-psnr_rgb.tex" for path in written)

    figures = api.plot(config=config, out=root / "plots", formats=("png",))
    assert figures and all(path.suffix == ".png" and path.stat().st_size > 0 for path in figures)
    page = api.report(config=config, out=root / "report.html", resamples=0)
    assert "<html" in page.read_text()

    verdict = api.compare(root / "store", root / "store")
    assert verdict.passed


def test_an_empty_store_raises_instead_of_exiting(tmp_path):
    with pytest.raises(ResultsError, match="no rows stored yet"):
        api.rows(tmp_path / "nothing")


def test_errors_print_brackets_as_written(tmp_path):
    from typer.testing import CliRunner

    import bench.cli  # noqa: F401
    from bench.cli.app import app

    config = tmp_path / "bench.toml"
    config.write_text('[codecs.webp]\nparams = { method = "fast" }\n')
    # a codec section is checked when a command uses that codec (a table reads only the store)
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--codec", "webp", "--results", str(tmp_path / "r")])
    assert result.exit_code == 2 and "[codecs.webp]" in result.output
