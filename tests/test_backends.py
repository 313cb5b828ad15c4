"""Backends give identical rows: in process, a loky pool, and a real local Dask cluster."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.execute.backends import stream_results
from bench.cli.app import app
from bench.errors import ConfigError
from bench.store import Store

runner = CliRunner()
RESULT_COLUMNS = ["key", "bytes", "bpp", "psnr_rgb", "psnr_y", "ms_ssim", "deterministic_decode", "codec_version", "error"]


def _square(x: int, offset: int = 0) -> dict:
    return {"value": x * x + offset}


_model_cache: list = []


def _load_model_after_first_task(x: int) -> dict:
    """A worker that, from its second task on, holds a 360 MB 'model', as a learned codec does.
    Each task takes 0.4 s, as loky looks at a worker's memory at most once a second."""
    import os
    import time

    import numpy as np

    if x >= 2 and not _model_cache:
        _model_cache.append(np.ones(45_000_000))
    time.sleep(0.4)
    return {"value": x, "pid": os.getpid()}


def test_loky_workers_keep_a_large_cache_instead_of_being_replaced():
    rows = list(stream_results(_load_model_after_first_task, range(10), {}, backend="loky", jobs=2))
    assert sorted(r["value"] for r in rows) == list(range(10))
    assert len({r["pid"] for r in rows}) <= 2  # loky's leak guard used to replace a worker here


def _unit_with_pid(unit, settings, provenance):
    """``run_unit`` that records the worker process in the rows' ``host`` column."""
    import os

    from bench.execute.worker import run_unit

    return [row | {"host": f"pid {os.getpid()}"} for row in run_unit(unit, settings, provenance)]


def test_units_of_one_image_run_in_one_worker_process(tmp_path, photo):
    from PIL import Image

    from bench.config.settings import CodecSpec
    from bench.plan.datasets import resolve
    from bench.execute.driver import execute
    from bench.execute.worker import Settings
    from bench.plan.tasks import plan
    from bench.config.provenance import new_provenance

    folder = tmp_path / "images"
    folder.mkdir()
    for index in range(3):
        Image.fromarray(photo[64 * index:64 * index + 96, :96]).save(folder / f"{index}.png")
    specs = [CodecSpec(name, name, {}, (20.0, 40.0, 60.0, 80.0), ({},)) for name in ("jpeg", "webp")]
    store = Store(tmp_path / "store")
    summary = execute(plan(resolve(str(folder)), specs), 0, Settings(metrics=("psnr_rgb",)), store, new_provenance(),
                      jobs=2, unit_worker=_unit_with_pid)
    rows = store.read()
    assert summary.written == len(rows) == 24 and rows["error"].isna().all()
    assert (rows.groupby("image")["host"].nunique() == 1).all()
    assert rows["host"].str.startswith("pid ").all()


def test_a_worker_may_return_several_rows():
    rows = list(stream_results(_squares, [1, 2, 3], {}, backend="loky", jobs=2))
    assert sorted(r["value"] for r in rows) == [1, 1, 4, 4, 9, 9]


def _squares(x: int) -> list[dict]:
    return [{"value": x * x}, {"value": x * x}]


def test_unknown_backend_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown backend"):
        list(stream_results(_square, [1], {}, backend="spark"))


@pytest.mark.parametrize("backend,jobs", [("loky", 1), ("loky", 2)])
def test_local_backends_return_every_result(backend, jobs):
    values = sorted(r["value"] for r in stream_results(_square, range(6), {"offset": 1}, backend=backend, jobs=jobs))
    assert values == [x * x + 1 for x in range(6)]


def test_dask_cluster_rows_equal_local_rows(tmp_path, kodak_dir):
    pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster

    def run(results, *extra):
        args = ["run", "--config", str(tmp_path / "none.toml"), "--dataset", "kodak", "--limit", "2",
                "--codec", "jpeg", "--codec", "webp", "--metric", "psnr_rgb", "--metric", "psnr_y",
                "--metric", "ms_ssim", "--results", str(results), *extra]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        return Store(results).read()[RESULT_COLUMNS].sort_values("key").reset_index(drop=True)

    (tmp_path / "none.toml").write_text("[run]\n")
    local = run(tmp_path / "local", "--jobs", "1")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster:
        remote = run(tmp_path / "dask", "--backend", "dask", "--scheduler", cluster.scheduler_address)
    assert len(local) == 40
    assert local.equals(remote)


def test_device_flag_is_validated():
    from bench.execute.runner import resolve_device
    from bench.errors import BenchError

    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(BenchError, match="expected cpu, cuda"):
        resolve_device("tpu")


def test_torch_metrics_agree_on_cuda_and_cpu(photo):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the GPU metric path is checked on machines that have one")
    from bench.metrics import measure

    decoded = (photo.astype(int) + 3).clip(0, 255).astype("uint8")
    cpu = measure(photo, decoded, ["ms_ssim", "lpips"], device="cpu")
    gpu = measure(photo, decoded, ["ms_ssim", "lpips"], device="cuda")
    assert gpu["ms_ssim"] == pytest.approx(cpu["ms_ssim"], abs=1e-5)
    assert gpu["lpips"] == pytest.approx(cpu["lpips"], abs=1e-4)


def _slow(x: int) -> dict:
    import os
    import signal
    import time

    time.sleep(0.3)
    return {"pid": os.getpid(), "sigint_ignored": signal.getsignal(signal.SIGINT) == signal.SIG_IGN}


def test_abort_terminates_the_loky_workers_without_a_warning():
    import os
    import time
    import warnings

    from bench.execute.backends import abort

    rows = stream_results(_slow, range(40), {}, backend="loky", jobs=2)
    first = next(rows)
    assert first["sigint_ignored"]  # Ctrl-C reaches the whole process group: only the main process acts on it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        abort(rows, KeyboardInterrupt())
    assert not caught, [str(w.message) for w in caught]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(first["pid"], 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("a loky worker outlived abort")
