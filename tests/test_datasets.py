"""Dataset registry and downloads (exercised on local files: file:// URLs, no network)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from bench.plan.datasets import DatasetError, NamedDataset, RemoteFile, fetch, registered_datasets, resolve
from bench.errors import BenchError, ConfigError
from bench.plan.images import file_sha256, load_rgb8


def test_kodak_resolves_to_the_24_pinned_files(kodak_dir):
    refs = resolve("kodak", kodak_dir.parent, download=False)
    assert [r.name for r in refs] == [f"kodim{i:02d}.png" for i in range(1, 25)]
    pinned = {f.name: f.sha256 for f in registered_datasets()["kodak"].files}
    assert all(file_sha256(r.path) == pinned[r.name] for r in refs)
    assert all(f.url.startswith("http://r0k.us/graphics/kodak/") for f in registered_datasets()["kodak"].files)


def test_sample_dataset_needs_no_download():
    refs = resolve("sample")
    assert len(refs) == 4 and all(load_rgb8(r.path).ndim == 3 for r in refs)


def test_folder_dataset_lists_images_recursively(tmp_path, photo):
    from PIL import Image

    (tmp_path / "a b").mkdir()
    Image.fromarray(photo).save(tmp_path / "a b" / "x.png")
    (tmp_path / "readme.txt").write_text("not listed")
    assert [r.name for r in resolve(str(tmp_path))] == ["a b/x.png"]


def test_unknown_dataset_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown dataset 'nope'"):
        resolve("nope")


def remote_for(path: Path, digest: str | None = None) -> RemoteFile:
    return RemoteFile(path.name, path.as_uri(), digest or hashlib.sha256(path.read_bytes()).hexdigest())


def test_fetch_verifies_and_writes_atomically(tmp_path):
    source = tmp_path / "src" / "img.png"
    source.parent.mkdir()
    source.write_bytes(b"pixels" * 100)
    target = tmp_path / "data" / "set" / "img.png"
    fetch(remote_for(source), target)
    assert target.read_bytes() == source.read_bytes()
    assert not list(target.parent.glob(".download-*"))


def test_fetch_refuses_a_checksum_mismatch(tmp_path):
    source = tmp_path / "img.png"
    source.write_bytes(b"tampered")
    target = tmp_path / "out" / "img.png"
    with pytest.raises(BenchError, match="does not match the pinned"):
        fetch(remote_for(source, "0" * 64), target)
    assert not target.exists() and not list(target.parent.glob(".download-*"))


def test_offline_download_gives_one_line_with_the_fix(tmp_path):
    remote = RemoteFile("kodim01.png", "http://127.0.0.1:9/kodim01.png", "0" * 64)
    with pytest.raises(BenchError, match=r"cannot download kodim01\.png .*BENCH_DATA_DIR") as info:
        fetch(remote, tmp_path / "kodim01.png")
    assert "\n" not in str(info.value)


def test_named_dataset_downloads_missing_files(tmp_path):
    source = tmp_path / "remote" / "one.png"
    source.parent.mkdir()
    source.write_bytes(b"x" * 10)
    dataset = NamedDataset("tiny", "test set", files=(remote_for(source),))
    with pytest.raises(BenchError, match="missing"):
        dataset.images(tmp_path / "data", download=False)
    refs = dataset.images(tmp_path / "data")
    assert refs[0].path == tmp_path / "data" / "tiny" / "one.png" and refs[0].path.is_file()


@pytest.fixture
def kodak_copy(kodak_dir, tmp_path) -> Path:
    """A data directory holding a copy of Kodak (tests may change it; the shared copy never)."""
    target = tmp_path / "data" / "kodak"
    shutil.copytree(kodak_dir, target, ignore=shutil.ignore_patterns("SHA256SUMS"))
    return target


def tamper(kodak: Path) -> None:
    """Replace kodim01.png by another (valid) image, as a stale or hand-edited copy would."""
    shutil.copyfile(kodak / "kodim02.png", kodak / "kodim01.png")


def test_limit_needs_only_the_first_files(kodak_dir, tmp_path):
    data = tmp_path / "data"
    (data / "kodak").mkdir(parents=True)
    for name in ("kodim01.png", "kodim02.png"):
        shutil.copyfile(kodak_dir / name, data / "kodak" / name)
    refs = resolve("kodak", data, download=False, limit=2)
    assert [r.name for r in refs] == ["kodim01.png", "kodim02.png"] and all(r.modified is False for r in refs)
    with pytest.raises(DatasetError, match=r"22 file\(s\) missing under .*first kodim03\.png"):
        resolve("kodak", data, download=False)
    assert len(resolve("sample", limit=1)) == 1


def test_a_tampered_file_is_refused_naming_both_hashes_and_the_fix(kodak_copy):
    tamper(kodak_copy)
    pinned = {f.name: f.sha256 for f in registered_datasets()["kodak"].files}
    found = file_sha256(kodak_copy / "kodim01.png")
    with pytest.raises(DatasetError) as info:
        resolve("kodak", kodak_copy.parent, download=False, limit=3)
    message = str(info.value)
    assert message.startswith(f"{kodak_copy / 'kodim01.png'}: SHA-256 {found[:12]}… differs from the pinned "
                              f"{pinned['kodim01.png'][:12]}…")
    assert "bench datasets fetch kodak" in message and "--allow-modified" in message and "\n" not in message
    assert resolve("kodak", kodak_copy.parent, download=False, limit=1, allow_modified=True)[0].modified is True


def test_allowed_modified_files_are_measured_and_their_rows_marked(kodak_copy):
    from bench.config.settings import CodecSpec
    from bench.execute.worker import base_row
    from bench.plan.tasks import plan
    from bench.config.provenance import new_provenance
    from bench.schema import COLUMN_NAMES

    tamper(kodak_copy)
    refs = resolve("kodak", kodak_copy.parent, download=False, limit=2, allow_modified=True)
    tasks = plan(refs, [CodecSpec(label="jpeg", impl="jpeg", params={}, rates=(50.0,))])
    rows = [base_row(task, new_provenance()) for task in tasks]
    assert [(row["image"], row["image_modified"]) for row in rows] == [("kodim01.png", True), ("kodim02.png", False)]
    assert "image_modified" in COLUMN_NAMES


def test_bench_run_refuses_a_tampered_dataset_before_any_work(kodak_copy, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bench.cli import app

    tamper(kodak_copy)
    monkeypatch.setenv("BENCH_DATA_DIR", str(kodak_copy.parent))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "--dataset", "kodak", "--codec", "jpeg", "--metric", "psnr_rgb",
                                      "--limit", "1", "--results", "store"])
    assert result.exit_code == 2, result.output
    assert "kodim01.png: SHA-256" in result.output and "--allow-modified" in result.output
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").rglob("*.parquet"))


def test_fetch_replaces_a_modified_file_and_keeps_good_ones(tmp_path):
    source = tmp_path / "remote" / "one.png"
    source.parent.mkdir()
    source.write_bytes(b"x" * 10)
    good = tmp_path / "remote" / "two.png"
    good.write_bytes(b"y" * 10)
    dataset = NamedDataset("tiny", "test set", files=(remote_for(source), remote_for(good)))
    local = tmp_path / "data" / "tiny"
    local.mkdir(parents=True)
    (local / "one.png").write_bytes(b"tampered")
    report = dataset.fetch_all(tmp_path / "data")
    assert (report.downloaded, report.replaced) == (["two.png"], ["one.png"])
    assert (local / "one.png").read_bytes() == source.read_bytes()
    assert dataset.fetch_all(tmp_path / "data").replaced == []


def test_bench_datasets_fetch_names_a_modified_file_it_cannot_replace(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import bench.plan.datasets
    from bench.cli import app

    source = tmp_path / "remote" / "one.png"
    source.parent.mkdir()
    source.write_bytes(b"x" * 10)
    dataset = NamedDataset("tiny", "test set", files=(remote_for(source),))
    local = tmp_path / "data" / "tiny" / "one.png"
    local.parent.mkdir(parents=True)
    local.write_bytes(b"tampered")
    source.unlink()  # the source is gone: offline
    monkeypatch.setattr(bench.plan.datasets, "registered_datasets", lambda: {"tiny": dataset})
    result = CliRunner().invoke(app, ["datasets", "fetch", "tiny", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert f"{local}: SHA-256" in " ".join(result.output.split()) and "re-downloading it failed" in result.output
