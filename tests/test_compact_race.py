"""`bench compact` while another command reads the store: a part that vanishes under the reader
(compact replaced it with the merged part) is not a broken part. The reader lists the parts again
and reads once more; a store that keeps changing is one line asking to run the command again,
never "cannot be read; move it out of the results". The race is made deterministic by running
the compact from inside the reader, between listing the parts and reading one."""

from __future__ import annotations

import pytest
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.store import Store, folder

runner = CliRunner()


@pytest.fixture
def store(tmp_path, photo) -> Store:
    """A store of two parts: JPEG at two qualities on one 16×24 image, one part per run."""
    (tmp_path / "data").mkdir()
    Image.fromarray(photo[:16, :24]).save(tmp_path / "data" / "a.png")
    for rate in ("30", "60"):
        result = runner.invoke(app, ["run", "--dataset", str(tmp_path / "data"), "--codec", "jpeg", "--rate", rate,
                                     "--metric", "psnr_rgb", "--jobs", "1", "--results", str(tmp_path / "store")])
        assert result.exit_code == 0, result.output
    return Store(tmp_path / "store")


def compact_before_reading(monkeypatch, times: int) -> None:
    """The first ``times`` part reads each find the store compacted just before them."""
    real = folder.read_part
    left = [times]

    def read_part(path, *args, **kwargs):
        if left[0] > 0:
            left[0] -= 1
            folder.read_part = real  # the compact reads the store itself
            try:
                Store(path.parent).compact()
            finally:
                folder.read_part = read_part
        return real(path, *args, **kwargs)

    monkeypatch.setattr(folder, "read_part", read_part)


def test_a_compact_under_a_reader_is_read_through(store, tmp_path, monkeypatch):
    assert len(store.parts()) == 2
    compact_before_reading(monkeypatch, 1)
    result = runner.invoke(app, ["table", "--results", str(store.root), "--out", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert len(store.parts()) == 1 and len(store.read()) == 2


def test_a_store_that_keeps_changing_asks_to_run_again(store, tmp_path, monkeypatch):
    compact_before_reading(monkeypatch, 2)
    result = runner.invoke(app, ["table", "--results", str(store.root), "--out", str(tmp_path / "t")])
    assert result.exit_code == 2
    assert (f"error: {store.root}: the store changed while it was read (a compact?); run the command again"
            in result.output), result.output
    assert "move it out" not in result.output
