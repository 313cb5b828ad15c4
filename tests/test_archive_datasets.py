"""Archive datasets (CLIC, DIV2K, Tecnick): download with resume, verification, safe extraction,
the per-file manifest. Synthetic archives are served from a local HTTP server or a local file,
and the registered dataset's URL, size and digest are pointed at them: nothing leaves the machine."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bench.plan.datasets
from bench.plan.archives import MANIFEST, ArchiveError
from bench.plan.datasets import DatasetError, registered_datasets, resolve

NAMES = ("a.png", "b.png", "c.png")


def png_bytes(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def zip_archive(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def tar_archive(members: dict[str, bytes], links: dict[str, tuple[bytes, str]] | None = None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            archive.addfile(info)
    return out.getvalue()


def images_in(folder: str) -> dict[str, bytes]:
    return {f"{folder}/{name}": png_bytes(i) for i, name in enumerate(NAMES)} | {f"{folder}/readme.txt": b"text"}


def use_dataset(monkeypatch, name: str, data: bytes | None, url: str = "http://127.0.0.1:9/none.zip",
                pinned: bool = True, **archive_changes):
    """Register ``name`` with its archive pins pointed at ``data`` (3 images); returns the dataset."""
    original = registered_datasets()[name]
    archive = dataclasses.replace(
        original.archive, url=url, image_count=len(NAMES),
        size=len(data) if pinned and data is not None else None,
        sha256=hashlib.sha256(data).hexdigest() if pinned and data is not None else None, **archive_changes)
    dataset = dataclasses.replace(original, archive=archive)
    monkeypatch.setattr(bench.plan.datasets, "registered_datasets", lambda: {name: dataset})
    return dataset


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_the_three_datasets_are_registered_with_counts_and_pins():
    named = registered_datasets()
    clic, div2k, tecnick = named["clic2020-professional-valid"], named["div2k-valid"], named["tecnick"]
    assert (clic.image_count, div2k.image_count, tecnick.image_count) == (41, 100, 100)
    assert (clic.archive.size, clic.archive.sha256[:12]) == (134_862_753, "e56568e20ead")
    assert (div2k.archive.size, div2k.archive.sha256[:12]) == (448_993_893, "20dd31fd84d7")
    assert tecnick.archive.trust_on_first_use and tecnick.archive.member_folder == "RGB_OR_1200x1200"


def test_bench_datasets_list_shows_counts_digests_and_their_sources():
    from typer.testing import CliRunner

    from bench.cli import app

    result = CliRunner().invoke(app, ["datasets", "list"])
    text = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "clic2020-professional-valid: 41 images" in text and "e56568e20ead6bd215b313fed260d1c98b9ba863540039f00892ab67b1e39baf" in text
    assert "div2k-valid: 100 images" in text and "tensorflow/datasets url_checksums/div2k.txt" in text
    assert "tecnick: 100 images" in text and "trust on first use" in text


def test_fetch_from_a_local_server_resumes_a_truncated_download(local_server, tmp_path, monkeypatch):
    data = zip_archive(images_in("DIV2K_valid_HR") | {"DIV2K_valid_HR/sub/other.png": png_bytes(9)})
    server = local_server(data, truncate_first=True)
    use_dataset(monkeypatch, "div2k-valid", data, url=server.url)
    with pytest.raises(ArchiveError) as exc:
        resolve("div2k-valid", tmp_path)
    assert "run the command again to resume" in one_line(exc)
    assert not (tmp_path / "div2k-valid").exists()
    partial = tmp_path / ".archives" / "DIV2K_valid_HR.zip.part"
    assert 0 < partial.stat().st_size < len(data)
    refs = resolve("div2k-valid", tmp_path)
    assert server.ranges == [None, f"bytes={partial.stat().st_size if partial.exists() else len(data) // 2}-"]
    assert [r.name for r in refs] == list(NAMES)  # only the folder's images; sub/other.png is not in it
    assert [r.path.read_bytes() for r in refs] == [png_bytes(i) for i in range(3)]
    manifest = (tmp_path / "div2k-valid" / MANIFEST).read_text().splitlines()
    assert manifest[0] == f"{hashlib.sha256(png_bytes(0)).hexdigest()}  a.png"
    assert all(r.modified is False for r in refs)


def test_fetch_with_archive_file_and_trust_on_first_use(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bench.cli import app

    data = tar_archive(images_in("TESTIMAGES/RGB/RGB_OR_1200x1200") | {"TESTIMAGES/RGB/RGB_R02_0600x0600/a.png": b"x"})
    archive = tmp_path / "testimages.tar"
    archive.write_bytes(data)
    use_dataset(monkeypatch, "tecnick", data, pinned=False)
    result = CliRunner().invoke(app, ["datasets", "fetch", "tecnick", "--data-dir", str(tmp_path / "d"),
                                      "--archive", str(archive)])
    assert result.exit_code == 0, result.output
    assert "3 files of 'tecnick' present and matching" in " ".join(result.output.split())
    listed = CliRunner().invoke(app, ["datasets", "list"], env={"BENCH_DATA_DIR": str(tmp_path / "d")})
    assert f"recorded {hashlib.sha256(data).hexdigest()} at the first fetch" in " ".join(listed.output.split())
    other = tmp_path / "other.tar"
    other.write_bytes(tar_archive(images_in("x/RGB_OR_1200x1200")))
    result = CliRunner().invoke(app, ["datasets", "fetch", "tecnick", "--data-dir", str(tmp_path / "d"),
                                      "--archive", str(other)])
    assert result.exit_code == 2 and "recorded at the first fetch (trust on first use)" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_tampered_archive_is_refused_and_nothing_extracted(tmp_path, monkeypatch):
    data = zip_archive(images_in("valid"))
    use_dataset(monkeypatch, "clic2020-professional-valid", data)
    tampered = bytearray(data)
    tampered[40] ^= 0xFF
    archive = tmp_path / "clic.zip"
    archive.write_bytes(bytes(tampered))
    with pytest.raises(ArchiveError) as exc:
        bench.plan.datasets.fetch_dataset("clic2020-professional-valid", tmp_path / "d", archive)
    assert "differs from the pinned" in one_line(exc) and "not extracted" in str(exc.value)
    assert not (tmp_path / "d" / "clic2020-professional-valid").exists()
    archive.write_bytes(data[:-10])
    with pytest.raises(ArchiveError, match="bytes, but clic2020_professional_valid.zip has"):
        bench.plan.datasets.fetch_dataset("clic2020-professional-valid", tmp_path / "d", archive)


@pytest.mark.parametrize("kind, members", [
    ("path escape", lambda: zip_archive(images_in("valid") | {"valid/../../evil.png": png_bytes(5)})),
    ("absolute path", lambda: tar_archive(images_in("valid") | {"/tmp/evil.png": png_bytes(5)})),
    ("symbolic link", lambda: tar_archive(images_in("valid"), {"valid/d.png": (tarfile.SYMTYPE, "/etc/passwd")})),
    ("hard link", lambda: tar_archive(images_in("valid"), {"valid/d.png": (tarfile.LNKTYPE, "valid/a.png")})),
])
def test_unsafe_members_are_refused_in_one_line(kind, members, tmp_path, monkeypatch):
    data = members()
    use_dataset(monkeypatch, "clic2020-professional-valid", data)
    archive = tmp_path / "a.bin"
    archive.write_bytes(data)
    with pytest.raises(ArchiveError) as exc:
        bench.plan.datasets.fetch_dataset("clic2020-professional-valid", tmp_path / "d", archive)
    message = one_line(exc)
    assert "refused, nothing extracted" in message and ("outside" in message or "link" in message)
    assert not (tmp_path / "d" / "clic2020-professional-valid").exists()
    assert not (tmp_path / "evil.png").exists()


def test_a_zip_symlink_member_is_refused(tmp_path, monkeypatch):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as handle:
        for name, payload in images_in("valid").items():
            handle.writestr(name, payload)
        link = zipfile.ZipInfo("valid/d.png")
        link.external_attr = (0o120777 << 16)
        handle.writestr(link, "/etc/passwd")
    data = out.getvalue()
    use_dataset(monkeypatch, "clic2020-professional-valid", data)
    (tmp_path / "a.zip").write_bytes(data)
    with pytest.raises(ArchiveError) as exc:
        bench.plan.datasets.fetch_dataset("clic2020-professional-valid", tmp_path / "d", tmp_path / "a.zip")
    assert "is a symbolic link" in one_line(exc)


def test_declared_sizes_over_the_cap_are_refused_as_a_bomb(tmp_path, monkeypatch):
    data = zip_archive(images_in("valid"))
    use_dataset(monkeypatch, "clic2020-professional-valid", data, max_unpacked_bytes=100)
    (tmp_path / "a.zip").write_bytes(data)
    with pytest.raises(ArchiveError) as exc:
        bench.plan.datasets.fetch_dataset("clic2020-professional-valid", tmp_path / "d", tmp_path / "a.zip")
    assert "possible archive bomb" in one_line(exc)


def test_a_modified_extracted_file_is_refused_then_restored(tmp_path, monkeypatch):
    data = zip_archive(images_in("valid"))
    use_dataset(monkeypatch, "clic2020-professional-valid", data)
    (tmp_path / ".archives").mkdir()
    (tmp_path / ".archives" / "clic2020_professional_valid.zip").write_bytes(data)  # as a finished download
    refs = resolve("clic2020-professional-valid", tmp_path)
    refs[1].path.write_bytes(png_bytes(7))
    with pytest.raises(DatasetError) as exc:
        resolve("clic2020-professional-valid", tmp_path)
    assert "b.png: SHA-256" in one_line(exc) and "bench datasets fetch clic2020-professional-valid" in str(exc.value)
    allowed = resolve("clic2020-professional-valid", tmp_path, allow_modified=True)
    assert [r.modified for r in allowed] == [False, True, False]
    report = bench.plan.datasets.fetch_dataset("clic2020-professional-valid", tmp_path)
    assert report.replaced == ["b.png"]
    assert refs[1].path.read_bytes() == png_bytes(1)


def test_not_extracted_without_download_says_how(tmp_path, monkeypatch):
    use_dataset(monkeypatch, "div2k-valid", zip_archive(images_in("DIV2K_valid_HR")))
    with pytest.raises(DatasetError) as exc:
        resolve("div2k-valid", tmp_path, download=False)
    assert "bench datasets fetch div2k-valid" in one_line(exc) and "--archive FILE" in str(exc.value)


def test_run_offline_names_the_command_that_takes_an_archive(tmp_path, monkeypatch):
    """`bench run --dataset div2k-valid` with no network: the line names `bench datasets fetch
    div2k-valid --archive FILE` (it said "pass --archive FILE", an option `bench run` lacks)."""
    from typer.testing import CliRunner

    from bench.cli import app

    use_dataset(monkeypatch, "div2k-valid", zip_archive(images_in("DIV2K_valid_HR")))
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(app, ["run", "--dataset", "div2k-valid", "--codec", "jpeg", "--metric", "psnr_rgb",
                                      "--results", str(tmp_path / "store")])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "download DIV2K_valid_HR.zip by hand and run `bench datasets fetch div2k-valid --archive FILE`" in text


def test_bench_datasets_list_says_whether_the_files_are_present(tmp_path, monkeypatch):
    """Per dataset: all files present, some, or none (an archive not extracted), with the folder
    and the fetch command; found by looking, not by hashing."""
    from typer.testing import CliRunner

    from bench.cli import app

    use_dataset(monkeypatch, "div2k-valid", zip_archive(images_in("DIV2K_valid_HR")))
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path))
    listing = lambda: " ".join(CliRunner().invoke(app, ["datasets", "list"]).output.split())  # noqa: E731
    root = tmp_path / "div2k-valid"
    assert (f"not present (archive not extracted): no files in {root}; run `bench datasets fetch div2k-valid`"
            in listing())
    bench.plan.datasets.fetch_dataset("div2k-valid", tmp_path, archive_file=_saved_archive(tmp_path))
    assert f"present: all {len(NAMES)} files in {root}" in listing()
    (root / NAMES[0]).unlink()
    assert (f"partly present: {len(NAMES) - 1} of {len(NAMES)} files in {root}; run `bench datasets fetch "
            "div2k-valid`") in listing()


def _saved_archive(folder: Path) -> Path:
    path = folder / "DIV2K_valid_HR.zip"
    path.write_bytes(zip_archive(images_in("DIV2K_valid_HR")))
    return path
