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
