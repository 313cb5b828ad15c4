"""One commit run at ``--jobs 1`` and at ``--jobs 2`` passes the gate against itself, codec by codec.

``--jobs 2`` gives each worker fewer torch threads, and a learned codec's float decoder then gives
slightly different pixels from the very same bitstream (docs/ci.md measures it): the gate must
hold bytes to exact equality and PSNR to the codec's declared decode tolerance, not fail a
build in which nothing regressed. One 128×128 photo crop, one or two rates per codec: the
smallest size at which the demo models' PSNR differs between 1 and 2 threads (at 64×64 it does
not), so a tolerance of 0 fails this test.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.store import read_rows

runner = CliRunner()
CONFIG = """
[run]
metrics = ["psnr_rgb"]

[codecs.jpeg]
rates = [50, 90]

[codecs.webp]
rates = [50, 90]

[codecs.invcompress]
rates = [1]

[codecs.iat]
rates = [0.5]

[codecs.ilc]
rates = [1]
decoder_options = [{ z = "mode" }, { z = "sample", temperature = 0.5, seed = 0 }]

[codecs.probdec]
rates = [1]
decoder_options = [{ variance_factor = 1.0, seed = 0 }]
"""
CODECS = ["jpeg", "webp", "invcompress", "iat", "ilc", "probdec"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> dict[int, Path]:
    """The same configuration run into two stores, at --jobs 1 and at --jobs 2."""
    from skimage import data

    root = tmp_path_factory.mktemp("jobs")
    (root / "images").mkdir()
    Image.fromarray(np.ascontiguousarray(data.astronaut()[100:228, 200:328])).save(root / "images" / "a.png")
    (root / "bench.toml").write_text(CONFIG)
    stores = {}
    for jobs in (1, 2):
        stores[jobs] = root / f"jobs{jobs}"
        result = runner.invoke(app, ["run", "--config", str(root / "bench.toml"), "--dataset", str(root / "images"),
                                     "--results", str(stores[jobs]), "--jobs", str(jobs),
                                     *[arg for codec in CODECS for arg in ("--codec", codec)]])
        assert result.exit_code == 0, result.output
    return stores


@pytest.mark.slow
@pytest.mark.parametrize("codec", CODECS)
def test_a_commit_passes_against_itself_at_another_jobs_count(two_runs, codec):
    result = runner.invoke(app, ["compare", str(two_runs[1]), str(two_runs[2]), "--codec", codec])
    assert result.exit_code == 0, result.output
    assert "no regression" in result.output
    rows = {jobs: read_rows(store) for jobs, store in two_runs.items()}
    learned = rows[1][rows[1]["codec"] == codec]["command"].str.contains("torch threads").any()
    if learned and (os.cpu_count() or 1) >= 2:  # the two runs did decode at different thread counts
        threads = {jobs: set(frame[frame["codec"] == codec]["command"].str.extract(r"\((\d+) torch threads\)")[0])
                   for jobs, frame in rows.items()}
        assert threads[1] != threads[2]
