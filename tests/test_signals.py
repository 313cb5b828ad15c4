"""SIGINT and SIGTERM end a run with the complete rows stored, one line and exit 130 / 143."""

from __future__ import annotations

import os
import signal
import time

import pytest
from PIL import Image

from bench.execute.backends import Interrupted, StopOnSignals
from bench.store import Store


def test_a_signal_becomes_interrupted_once_and_waits_while_held():
    before = signal.getsignal(signal.SIGTERM)  # whatever an earlier test's entry point installed
    with StopOnSignals() as stop:
        with pytest.raises(Interrupted) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        assert caught.value.exit_status == 143
        os.kill(os.getpid(), signal.SIGINT)  # a second signal while the run stops is ignored
        time.sleep(0.1)
    with StopOnSignals() as stop:
        with pytest.raises(Interrupted) as caught:
            with stop.held():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.1)
                done = True
        assert done and caught.value.exit_status == 130
    assert signal.getsignal(signal.SIGTERM) == before


def _signal_after(unit, settings, provenance, at: int = 6):
    """A unit worker (in process) that interrupts the run from within its sixth unit (one task each)."""
    from bench.execute.worker import run_unit

    if unit.tasks[0].rate == at * 10:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)
    return run_unit(unit, settings, provenance)


def test_execute_writes_the_rows_before_the_interrupt_and_counts_them(tmp_path, photo):
    from bench.codec import make_codec
    from bench.config.settings import CodecSpec
    from bench.plan.datasets import resolve
    from bench.execute.driver import execute
    from bench.execute.worker import Settings
    from bench.plan.tasks import plan
    from bench.config.provenance import new_provenance

    Image.fromarray(photo[:64, :64]).save(tmp_path / "a.png")
    spec = CodecSpec(label="jpeg", impl="jpeg", params={}, rates=[10, 20, 30, 40, 50, 60, 70, 80], decoder_options=[{}])
    tasks = sorted(plan(resolve(str(tmp_path)), [spec]), key=lambda t: t.rate)
    store = Store(tmp_path / "store")
    with StopOnSignals() as stop, pytest.raises(Interrupted) as caught:
        execute(tasks, 0, Settings(metrics=("psnr_rgb",)), store, new_provenance(), unit_worker=_signal_after, stop=stop)
    assert caught.value.stored == 5 and caught.value.folder == store.root
    assert str(caught.value) == f"interrupted: 5 rows stored in {store.root}; run the same command to resume"
    assert sorted(store.read()["rate"]) == [10, 20, 30, 40, 50]
    assert make_codec("jpeg", {})  # the codec still loads: nothing left half-initialised


def test_ctrl_c_keeps_each_finished_learned_row_at_two_jobs(tmp_path, tiny):
    """Ctrl-C (SIGINT to the whole process group) during `bench run --codec iat --jobs 2`, once its
    first row is stored, keeps that row, and the line printed counts the rows stored. Each worker
    sends a unit's rows back as it finishes them: the first row arrives long before either worker
    is done with its four rate points (the store used to see none until a worker had all four)."""
    import re
    import subprocess
    import sys

    config = tmp_path / "bench.toml"
    config.write_text('[run]\nmetrics = ["psnr_rgb"]\ncheck_determinism = "all"\n')
    rates = ["0.0", "0.3", "0.6", "0.9", "0.15", "0.45", "0.75", "1.0"]  # one image: 2 workers x 4 units
    store = Store(tmp_path / "store")
    command = [sys.executable, "-c", "from bench.cli import main; main()", "run", "--config", str(config),
               "--dataset", str(tiny), "--codec", "iat", "--jobs", "2", "--results", str(store.root),
               *[a for rate in rates for a in ("--rate", rate)]]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)  # its own process group, as a terminal's job is
    deadline = time.monotonic() + 150
    while not store.parts() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be interrupted; make it longer"
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    stored = int(re.search(r"interrupted: (\d+) rows stored", output).group(1))
    rows = store.read()
    assert len(rows) == stored and 1 <= stored < 4, output
    assert rows["error"].isna().all() and set(rows["codec"]) == {"iat"}


def _children(pid: int) -> set[int]:
    """Process ids whose parent is ``pid`` (Linux ``/proc``): a run's loky workers and trackers."""
    from pathlib import Path

    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
        except (OSError, IndexError):
            pass
    return found


def _hang_up_as_a_terminal_does() -> None:
    """SIGHUP's default action in the child, whatever this test process inherited: under
    ``nohup`` (a CI job started so) it is ignored, and a run ignoring it rightly goes on."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds worker processes through /proc")
def test_sighup_is_sigterm_lock_released_and_no_worker_survives(tmp_path, photo):
    """A closed terminal (SIGHUP) during `bench run --jobs 2`: one `interrupted:` line, exit 129,
    the rows stored counted, the lock gone, and every process the run started (its loky workers,
    by pid) ended; SIGHUP's default action used to leave the lock and orphan the workers."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    images = tmp_path / "images"
    images.mkdir()
    for name, top, left in (("a.png", 0, 0), ("b.png", 0, 256), ("c.png", 256, 0), ("d.png", 256, 256)):
        Image.fromarray(photo[top:top + 256, left:left + 256]).save(images / name)
    store = Store(tmp_path / "store")
    # 392 tasks with MS-SSIM: seconds of work after the first part, so the hang-up lands mid-run
    command = [sys.executable, "-c", "from bench.cli import main; main()", "run", "--dataset", str(images),
               "--codec", "jpeg", "--metric", "psnr_rgb", "--metric", "ms_ssim", "--jobs", "2",
               "--results", str(store.root), *[a for rate in range(2, 100) for a in ("--rate", str(rate))]]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=_hang_up_as_a_terminal_does)
    deadline = time.monotonic() + 120
    while not store.parts() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    workers = _children(process.pid)
    assert process.poll() is None and len(workers) >= 2, "the run ended before it could be hung up"
    os.kill(process.pid, signal.SIGHUP)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 129, err
    assert "Traceback" not in err and len(re.findall("interrupted:", err)) == 1, err
    stored = int(re.search(r"interrupted: (\d+) rows stored", err).group(1))
    assert stored == len(store.read()) >= 1
    assert not (store.root / ".lock").exists()
    deadline = time.monotonic() + 20  # killed workers leave /proc once their parent has gone
    while (alive := [pid for pid in workers if Path(f"/proc/{pid}").exists()]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive, f"processes {alive} of the run outlived it"
