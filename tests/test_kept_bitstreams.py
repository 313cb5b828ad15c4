"""A kept bitstream is decoded only when it is the one its row measured: `bench measure` refuses
swapped or truncated files (one line each, exit 1) and `bench run --keep-bitstreams` re-runs
exactly those rows, after which they measure as before."""

from __future__ import annotations

import numpy as np
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.store import Store

runner = CliRunner()


def test_measure_refuses_swapped_and_truncated_bitstreams_until_the_run_keeps_them_again(tmp_path, photo):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(photo[:96, :96]).save(folder / "a.png")
    cfg = tmp_path / "bench.toml"
    cfg.write_text('[run]\ncodecs = ["jpeg"]\nmetrics = ["psnr_rgb"]\njobs = 1\nresults = "store"\n'
                   "[codecs.jpeg]\nrates = [30, 50, 70]\n")
    run = ["run", "--config", str(cfg), "--dataset", str(folder), "--keep-bitstreams"]
    measure = ["measure", "--config", str(cfg), "--dataset", str(folder), "--metric", "psnr_y"]
    assert runner.invoke(app, run).exit_code == 0
    store = Store(tmp_path / "store")
    kept = {int(rate): store.root / "bitstreams" / f"{key}.bin" for key, rate in zip(*store.read()[["key", "rate"]].T.values)}
    q30, q70 = kept[30].read_bytes(), kept[70].read_bytes()
    kept[30].write_bytes(q70)
    kept[70].write_bytes(q30)

    result = runner.invoke(app, measure)
    assert result.exit_code == 1, result.output
    assert "re-measured 1 rows" in result.output
    for rate in (30, 70):
        assert f"{kept[rate].name}: its SHA-256" in result.output.replace("\n", "")
    assert "bench run` with --keep-bitstreams" in result.output
    rows = store.read().set_index("rate")
    assert np.isnan(rows.loc[30, "psnr_y"]) and np.isnan(rows.loc[70, "psnr_y"]) and rows.loc[50, "psnr_y"] > 20

    kept[50].write_bytes(kept[50].read_bytes()[:-40])  # a full disk cut it short
    result = runner.invoke(app, measure)
    assert result.exit_code == 1 and "re-measured 0 rows" in result.output, result.output

    result = runner.invoke(app, run)
    assert result.exit_code == 0 and "3 to run" in result.output, result.output
    assert kept[30].read_bytes() == q30 and kept[70].read_bytes() == q70
    result = runner.invoke(app, measure)
    assert result.exit_code == 0 and "re-measured 3 rows" in result.output, result.output
    rows = store.read().set_index("rate")
    assert rows.loc[30, "psnr_y"] < rows.loc[50, "psnr_y"] < rows.loc[70, "psnr_y"]
