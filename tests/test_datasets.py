"""Dataset registry and downloads (exercised on local files: file:// URLs, no network)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bench.datasets import NamedDataset, RemoteFile, fetch, registered_datasets, resolve
from bench.errors import BenchError, ConfigError
from bench.images import file_sha256, load_rgb8


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
