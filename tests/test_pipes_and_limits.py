"""A reader that leaves early (``| head``) and a process out of file descriptors: the command's
exit status is its work's, and a failure is one line with the store's lock released."""

from __future__ import annotations

import shlex
import subprocess
import sys

from PIL import Image

from bench.store import Store


def _images(folder, photo, count: int = 2):
    folder.mkdir()
    for index in range(count):
        Image.fromarray(photo[40 * index:40 * index + 16, :24]).save(folder / f"{index}.png")
    return folder


def _bench(*argv: str) -> str:
    return shlex.join([sys.executable, "-c", "from bench.cli import main; main()", *argv])


def test_run_into_head_exits_0_with_every_row_stored(tmp_path, photo):
    """`bench run … | head -1`: head leaves after the first line of the summary; the run still
    exits 0 (it used to exit 1 without a word) and its rows are stored."""
    images = _images(tmp_path / "images", photo)
    store = tmp_path / "store"
    run = _bench("run", "--dataset", str(images), "--codec", "jpeg", "--metric", "psnr_rgb", "--jobs", "1",
                 "--rate", "30", "--rate", "60", "--results", str(store))
    done = subprocess.run(["bash", "-c", f"{run} 2>{tmp_path / 'err'} | head -1; exit ${{PIPESTATUS[0]}}"],
                          capture_output=True, text=True, timeout=120)
    err = (tmp_path / "err").read_text()
    assert done.returncode == 0, err
    assert len(done.stdout.splitlines()) == 1 and "Traceback" not in err and "Exception" not in err, err
    assert len(Store(store).read()) == 4
    table = subprocess.run(["bash", "-c", f"{_bench('table', '--results', str(store))} | true; exit ${{PIPESTATUS[0]}}"],
                           capture_output=True, text=True, timeout=120)
    assert table.returncode == 0 and table.stderr == "", table.stderr


def test_out_of_file_descriptors_is_one_line_and_releases_the_lock(tmp_path, photo):
    """`ulimit -n 12` with `--jobs 2`: the workers' pipes cannot be made. One line naming the limit
    and its fix, exit 2, no traceback, and the lock gone (it used to be an OSError traceback, and
    at some limits the lock stayed: releasing it needed a descriptor)."""
    import resource

    images = _images(tmp_path / "images", photo)
    store = tmp_path / "store"
    done = subprocess.run([sys.executable, "-c", "from bench.cli import main; main()", "run", "--dataset", str(images),
                           "--codec", "jpeg", "--metric", "psnr_rgb", "--jobs", "2", "--rate", "50",
                           "--results", str(store)],
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (12, 12)))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert (f"error: {store}: the run stopped: too many open files (ulimit -n is 12); 0 rows stored; raise the "
            "limit (ulimit -n 4096) or pass fewer --jobs, then run the same command to resume") in done.stderr
    assert not (store / ".lock").exists()


def test_out_of_memory_writing_a_part_keeps_the_rows_in_a_recovery_part(tmp_path, photo, monkeypatch, capsys):
    """MemoryError while a part is written: one line saying so, the computed rows in a recovery
    part that reads back, the lock released."""
    import pytest

    from bench import cli
    from bench.store import folder, read_rows

    real_write = folder.write_file

    def no_memory(path, data):  # parts only: the writability probe before planning still works
        if "part-" in path.name:
            raise MemoryError
        real_write(path, data)

    monkeypatch.setattr(folder, "write_file", no_memory)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["bench", "run", "--dataset", str(_images(tmp_path / "images", photo, 1)),
                                      "--codec", "jpeg", "--metric", "psnr_rgb", "--jobs", "1", "--rate", "50",
                                      "--results", str(tmp_path / "store")])
    with pytest.raises(SystemExit) as stopped:
        cli.main()
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err
    assert "writing a results part failed (out of memory); free memory or pass fewer --jobs" in err
    recovered = list(tmp_path.glob("recovered-*.parquet"))
    assert len(recovered) == 1 and len(read_rows(recovered[0])) == 1, err
    assert not (tmp_path / "store" / ".lock").exists()


def test_a_lock_that_cannot_be_read_is_released_by_its_own_process(tmp_path, monkeypatch):
    """Out of descriptors, the lock cannot be opened to check whose it is: the file this process
    created is recognised by lstat (device, inode) and removed; a lock another run put in its
    place is left."""
    import os

    from bench.store.lock import LOCK_NAME, StoreInUse, StoreLock

    def no_descriptor(self):
        raise StoreInUse(f"{self.path}: cannot read the lock (Too many open files)")

    lock = StoreLock(tmp_path).acquire()
    monkeypatch.setattr(StoreLock, "_read", no_descriptor)
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()
    lock = StoreLock(tmp_path).acquire()
    (tmp_path / "other").write_text("{}")
    os.replace(tmp_path / "other", tmp_path / LOCK_NAME)
    lock.release()
    assert (tmp_path / LOCK_NAME).read_text() == "{}"
