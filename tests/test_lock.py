"""The store lock: one `bench run` per store; a lock whose holder is gone is taken over once."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading

import pytest
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.outputs import MARKER
from bench.store import LOCK_NAME, StoreInUse, StoreLock

runner = CliRunner()


def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped) on this host."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder, pid: int, host: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": host or platform.node(), "since": "2026-01-01 00:00:00 UTC"}))


def test_a_live_lock_refuses_a_second_holder_and_is_released(tmp_path):
    with StoreLock(tmp_path) as first:
        held = json.loads((tmp_path / LOCK_NAME).read_text())
        assert held["pid"] == os.getpid() and held["host"] == platform.node()
        with pytest.raises(StoreInUse, match=rf"is in use by bench run \(pid {os.getpid()} on .* since .*\); wait for it "
                                             rf"or remove .*{LOCK_NAME} if that process is gone"):
            StoreLock(tmp_path).acquire()
        assert first.note is None
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_from_another_host_is_never_taken_over(tmp_path):
    write_lock(tmp_path, dead_pid(), host="elsewhere.example")
    with pytest.raises(StoreInUse, match="on elsewhere.example"):
        StoreLock(tmp_path).acquire()


def test_a_stale_lock_is_taken_over_by_exactly_one_of_many(tmp_path):
    write_lock(tmp_path, dead_pid())
    locks = [StoreLock(tmp_path) for _ in range(8)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(locks))

    def take(lock: StoreLock) -> None:
        barrier.wait()
        try:
            lock.acquire()
            outcomes.append("took")
        except StoreInUse:
            outcomes.append("refused")

    threads = [threading.Thread(target=take, args=(lock,)) for lock in locks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("took") == 1, outcomes
    winner = next(lock for lock in locks if lock.note)
    assert "took over the lock" in winner.note and "is gone" in winner.note
    assert (tmp_path / LOCK_NAME).read_text() == winner._content
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([LOCK_NAME, MARKER])  # no takeover marker or temporary left


def test_bench_run_on_a_locked_store_exits_2_before_any_work(tmp_path, photo):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(photo[:200, :200]).save(folder / "a.png")
    store = tmp_path / "store"
    (tmp_path / "bench.toml").write_text('[run]\ncodecs = ["jpeg"]\nmetrics = ["psnr_rgb"]\njobs = 1\n[codecs.jpeg]\nrates = [50]\n')
    args = ["run", "--config", str(tmp_path / "bench.toml"), "--dataset", str(folder), "--results", str(store)]
    with StoreLock(store):
        result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"{store} is in use by bench run (pid {os.getpid()}" in " ".join(result.output.split())
    assert not list(store.glob("part-*"))

    write_lock(store, dead_pid())
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "warning: took over the lock of" in result.output
    assert not (store / LOCK_NAME).exists() and len(list(store.glob("part-*"))) == 1


@pytest.mark.parametrize("command", ["drift", "measure"])
def test_drift_and_measure_refuse_a_store_another_writer_holds(tmp_path, photo, command):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(photo[:200, :200]).save(folder / "a.png")
    store = tmp_path / "store"
    (tmp_path / "bench.toml").write_text('[run]\ncodecs = ["jpeg"]\nmetrics = ["psnr_rgb"]\njobs = 1\n[codecs.jpeg]\nrates = [50]\n')
    args = {"drift": ["drift", "run", "--schedule", "jpeg:50", "--generations", "2"],
            "measure": ["measure", "--metric", "psnr_y"]}[command]
    args += ["--config", str(tmp_path / "bench.toml"), "--dataset", str(folder), "--results", str(store)]
    with StoreLock(store, "bench run"):
        result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"{store} is in use by bench run (pid {os.getpid()}" in " ".join(result.output.split())
    assert not list(store.glob("part-*"))
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert not (store / LOCK_NAME).exists()
    if command == "drift":  # a drift run holds the lock while it works, under its own name
        with StoreLock(store, "bench drift run"):
            blocked = runner.invoke(app, ["run", "--config", str(tmp_path / "bench.toml"), "--dataset", str(folder),
                                          "--results", str(store)])
        assert blocked.exit_code == 2 and "in use by bench drift run (pid" in " ".join(blocked.output.split())
