"""Peak-memory estimates of learned codecs: worker limits and the one-line refusal of an image
that cannot fit (instead of an OOM kill). Available memory is set by the test, never measured."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

import bench.execute.memory_budget as memory_budget
from bench.errors import CodecFailure
from bench.execute.memory_budget import ensure_fits, estimate_mib, limit_workers, task_loads

INVCOMPRESS = (825.0, 1876.7)  # docs/performance.md fit


def test_estimate_is_the_linear_fit_in_megapixels():
    assert estimate_mib(INVCOMPRESS, 2040, 1356) == pytest.approx(825 + 1876.7 * 2.76624)
    assert estimate_mib(INVCOMPRESS, 1000, 1000) == pytest.approx(2701.7)


def test_workers_are_limited_to_what_the_memory_holds():
    loads = [("invcompress", INVCOMPRESS, 2040, 1356), ("jpeg", None, 8000, 8000)]
    workers, note = limit_workers(4, loads, available=13_000)  # 6016 MiB each: two fit
    assert workers == 2 and "running 2 worker(s), not 4" in note and "invcompress on 2040×1356" in note
    assert limit_workers(2, loads, available=24_000) == (2, None)
    assert limit_workers(3, [("jpeg", None, 9000, 9000)], available=100) == (3, None)  # declares nothing


def test_an_image_too_large_for_any_worker_is_left_to_its_row():
    loads = [("invcompress", INVCOMPRESS, 8000, 8000), ("invcompress", INVCOMPRESS, 768, 512)]
    workers, note = limit_workers(2, loads, available=3_000)  # the small one fits alone (1563 MiB)
    assert workers == 1 and "768×512" in note


def test_ensure_fits_refuses_in_one_line_naming_size_and_estimate(monkeypatch):
    monkeypatch.setattr(memory_budget, "available_mib", lambda: 1024.0)
    monkeypatch.setattr(memory_budget, "_own_peak_mib", lambda: 300.0)
    with pytest.raises(CodecFailure) as error:
        ensure_fits("invcompress", INVCOMPRESS, 2040, 1356)
    message = str(error.value)
    assert "\n" not in message
    assert "2040×1356" in message and "5.9 GiB" in message and "825 MiB + 1877 MiB per megapixel" in message
    assert "1.0 GiB available" in message
    ensure_fits("invcompress", INVCOMPRESS, 64, 64)  # 831 MiB − 300 held: fits
    ensure_fits("jpeg", None, 100_000, 100_000)  # declares nothing: never refused


def test_task_loads_read_sizes_from_headers(tmp_path):
    Image.fromarray(np.zeros((30, 50, 3), np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    tasks = [SimpleNamespace(codec_impl=codec, image_path=tmp_path / name)
             for codec in ("invcompress", "jpeg") for name in ("a.png", "a.png", "bad.png")]
    loads = task_loads(tasks)
    assert [(codec, width, height) for codec, _, width, height in loads] == [("invcompress", 50, 30)]


def test_a_run_stores_one_error_row_instead_of_running_out_of_memory(tiny, tmp_path, monkeypatch):
    from bench import api

    monkeypatch.setattr(memory_budget, "available_mib", lambda: 10.0)
    monkeypatch.setattr(memory_budget, "_own_peak_mib", lambda: 0.0)  # the test process's own peak aside
    summary = api.run(datasets=[str(tiny)], codecs=["invcompress"], metrics=["psnr_rgb"], jobs=1,
                      results=tmp_path / "store")
    from bench.store import Store

    rows = Store(tmp_path / "store").read()
    assert len(rows) == 1 and summary.failed == 1
    error = rows["error"].iloc[0]
    assert "invcompress on a 64×64 image" in error and "GiB available; not run" in error
    assert (rows["width"].iloc[0], rows["height"].iloc[0]) == (64, 64)
