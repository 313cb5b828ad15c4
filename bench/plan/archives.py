"""Datasets that ship as one archive: download with resume, verify, extract safely, keep a manifest.

CLIC, DIV2K and Tecnick are published as a single zip of full-resolution PNGs, hundreds of MB
each, so the per-file download of Kodak does not apply. What this module guarantees:

* **Download** streams to ``<archive>.part`` with a progress line on stderr and resumes an
  interrupted download with an HTTP ``Range`` request (a server that ignores it restarts it).
* **Verify before extracting**: the archive's size and SHA-256 must match the pins. A dataset
  with no digest that a second source confirms is *trust on first use*: the first archive's
  digest is recorded and every later archive must match it.
* **Extract safely**: absolute paths, ``..`` components, symbolic and hard links, devices and
  duplicate names are refused; declared sizes are summed against a cap before anything is
  written and each member is cut off at its declared size (zip bombs lie about it). Files land
  in a temporary folder that is renamed into place only when everything succeeded.
* **Manifest**: ``SHA256SUMS`` in the dataset folder lists every extracted image with its
  SHA-256; every run checks the images it uses against it, as Kodak's pinned hashes are checked.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

from bench.errors import BenchError

MANIFEST = "SHA256SUMS"
#: The archive digest and where it came from, written beside the manifest (trust on first use).
ARCHIVE_RECORD = "ARCHIVE.json"
CHUNK = 1 << 20
DOWNLOAD_TIMEOUT_S = 60
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp")


class ArchiveError(BenchError):
    """An archive cannot be downloaded, does not match its pins, or holds an unsafe member."""


@dataclass(frozen=True)
class RemoteArchive:
    """One archive of a dataset: where it is, what it must hash to, and which members are images."""

    url: str
    filename: str
    #: Bytes of the archive; None where no source gives it (then only the digest is checked).
    size: int | None
    #: Pinned SHA-256; None means trust on first use (the first archive's digest is recorded).
    sha256: str | None
    #: Where the size and digest come from (shown by ``bench datasets list``).
    digest_source: str
    #: Images are the members whose parent folder has this name (None: every image member).
    member_folder: str | None
    #: How many images the archive must yield; a different count is refused.
    image_count: int
    #: Cap on the sum of the declared sizes of the extracted members (size-bomb guard).
    max_unpacked_bytes: int

    @property
    def trust_on_first_use(self) -> bool:
        return self.sha256 is None


def _progress_printer(label: str) -> Callable[[int, int | None], None]:
    """A callback printing ``label: NN % (done/total MB)`` to stderr at every further 5 %."""
    shown = {"step": -1}

    def report(done: int, total: int | None) -> None:
        if total:
            step = done * 20 // total
            if step != shown["step"]:
                shown["step"] = step
                print(f"{label}: {done * 100 // total} % ({done / 1e6:.1f}/{total / 1e6:.1f} MB)",
                      file=sys.stderr, flush=True)
        elif done // (50 * CHUNK) != shown["step"]:
            shown["step"] = done // (50 * CHUNK)
            print(f"{label}: {done / 1e6:.1f} MB", file=sys.stderr, flush=True)

    return report


def by_hand(remote: RemoteArchive, dataset: str) -> str:
    """What a dataset download error advises instead of trying again: the command that takes an
    archive downloaded by hand (``bench run`` has no ``--archive``; it reaches downloads too)."""
    return f"download {remote.filename} by hand and run `bench datasets fetch {dataset} --archive FILE`"


def download(remote: RemoteArchive, target: Path, dataset: str,
             progress: Callable[[int, int | None], None] | None = None) -> None:
    """Download dataset ``dataset``'s archive to ``target`` (see :func:`download_file`)."""
    download_file(remote.url, target, remote.size, progress or _progress_printer(f"downloading {remote.filename}"),
                  by_hand=by_hand(remote, dataset))


def download_file(url: str, target: Path, size: int | None = None,
                  progress: Callable[[int, int | None], None] | None = None, *, by_hand: str) -> None:
    """Download ``url`` to ``target`` via ``target.part``, resuming a partial file with Range.

    The finished file is renamed into place only when its size matches ``size`` (when known); an
    interrupted transfer leaves the ``.part`` file for the next call to resume, and says so in one
    line. ``by_hand`` is the advice every error ends with (what to do instead of downloading).
    Datasets and learned codecs' weights share it, so both resume and fail the same way.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    if size is not None and have > size:
        part.unlink()
        have = 0
    progress = progress or _progress_printer(f"downloading {target.name}")
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    total = size
    try:
        with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response:
            if have and response.status != 206:
                have = 0  # the server ignored the Range header: start again
            length = response.headers.get("Content-Length")
            if total is None and length is not None:
                total = have + int(length)
            with open(part, "ab" if have else "wb") as out:
                done = have
                while block := response.read(CHUNK):
                    out.write(block)
                    done += len(block)
                    progress(done, total)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and size is not None and have == size:
            pass  # already complete: the server has nothing past the end
        else:
            raise ArchiveError(f"cannot download {target.name} from {url} (HTTP {exc.code}); {by_hand}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        got = part.stat().st_size if part.is_file() else 0
        raise ArchiveError(
            f"download of {target.name} from {url} stopped after {got} of "
            f"{total if total is not None else '?'} bytes ({type(exc).__name__}: {exc}); run the command again to "
            f"resume from {part}, or {by_hand}"
        ) from None
    got = part.stat().st_size
    if (size is not None and got != size) or (size is None and total is not None and got != total):
        raise ArchiveError(
            f"download of {target.name} from {url} is truncated: {got} of {size if size is not None else total} bytes; "
            f"run the command again to resume from {part}"
        )
    os.replace(part, target)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify(remote: RemoteArchive, path: Path, recorded_sha256: str | None = None) -> str:
    """The archive's SHA-256, after checking its size and digest against the pins (or the record).

    ``recorded_sha256`` is the digest a trust-on-first-use dataset recorded at its first fetch.
    """
    size = path.stat().st_size
    if remote.size is not None and size != remote.size:
        raise ArchiveError(f"{path}: {size} bytes, but {remote.filename} has {remote.size} "
                           f"({remote.digest_source}); not extracted: download it again")
    digest = file_digest(path)
    expected = remote.sha256 or recorded_sha256
    if expected is not None and digest != expected:
        kind = "pinned" if remote.sha256 else "recorded at the first fetch (trust on first use)"
        raise ArchiveError(f"{path}: SHA-256 {digest} differs from the {kind} {expected} of "
                           f"{remote.filename}; not extracted: download it again from {remote.url}")
    return digest


@dataclass(frozen=True)
class _Member:
    name: str  # the file name the image gets in the dataset folder
    declared_size: int
    open: Callable[[], object]


def _safe_parts(name: str, archive: Path) -> tuple[str, ...]:
    """The member path's parts, refusing absolute paths and ``..`` (path escape)."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(f"{archive}: member {name!r} points outside the dataset folder; refused, nothing extracted")
    return tuple(p for p in path.parts if p not in ("", "."))


def _wanted(parts: tuple[str, ...], remote: RemoteArchive) -> bool:
    if not parts or parts[-1].startswith(".") or PurePosixPath(parts[-1]).suffix.lower() not in IMAGE_SUFFIXES:
        return False
    if any(p == "__MACOSX" for p in parts):
        return False
    return remote.member_folder is None or (len(parts) >= 2 and parts[-2] == remote.member_folder)


def _zip_members(archive: Path, handle: zipfile.ZipFile, remote: RemoteArchive) -> Iterator[_Member]:
    for info in handle.infolist():
        parts = _safe_parts(info.filename, archive)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"{archive}: member {info.filename!r} is a symbolic link; refused, nothing extracted")
        if info.is_dir():
            continue
        if stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # type bits absent: a zip made without them
            raise ArchiveError(f"{archive}: member {info.filename!r} is not a regular file; refused, nothing extracted")
        if _wanted(parts, remote):
            yield _Member(parts[-1], info.file_size, lambda info=info: handle.open(info))


def _tar_members(archive: Path, handle: tarfile.TarFile, remote: RemoteArchive) -> Iterator[_Member]:
    for info in handle.getmembers():
        parts = _safe_parts(info.name, archive)
        if info.issym() or info.islnk():
            raise ArchiveError(f"{archive}: member {info.name!r} is a {'symbolic' if info.issym() else 'hard'} "
                               "link; refused, nothing extracted")
        if info.isdir():
            continue
        if not info.isfile():
            raise ArchiveError(f"{archive}: member {info.name!r} is not a regular file; refused, nothing extracted")
        if _wanted(parts, remote):
            yield _Member(parts[-1], info.size, lambda info=info: handle.extractfile(info))


def extract(remote: RemoteArchive, archive: Path, root: Path) -> dict[str, str]:
    """Extract the image members of ``archive`` into ``root`` (replacing it); name → SHA-256.

    Every member is checked before anything is written, so an unsafe archive leaves no files.
    """
    if zipfile.is_zipfile(archive):
        opened = zipfile.ZipFile(archive)
        lister = _zip_members
    elif tarfile.is_tarfile(archive):
        opened = tarfile.open(archive)
        lister = _tar_members
    else:
        raise ArchiveError(f"{archive}: neither a zip nor a tar archive; download it again")
    with opened as handle:
        members = list(lister(archive, handle, remote))
        names = [m.name for m in members]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ArchiveError(f"{archive}: two image members are named {duplicate!r}; refused, nothing extracted")
        if len(members) != remote.image_count:
            raise ArchiveError(f"{archive}: {len(members)} images found (folder {remote.member_folder or 'any'}), "
                               f"expected {remote.image_count}; not the archive this dataset names ({remote.url})")
        declared = sum(m.declared_size for m in members)
        if declared > remote.max_unpacked_bytes:
            raise ArchiveError(f"{archive}: members declare {declared} bytes, over the cap of "
                               f"{remote.max_unpacked_bytes}; refused as a possible archive bomb")
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}-extract-"))
        try:
            digests = {m.name: _copy_member(m, staging / m.name, archive) for m in members}
            _write_manifest(staging, digests)
            if root.exists():
                shutil.rmtree(root)
            os.replace(staging, root)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    return digests


def _copy_member(member: _Member, target: Path, archive: Path) -> str:
    """Copy one member, never past its declared size; its SHA-256."""
    digest = hashlib.sha256()
    written = 0
    with member.open() as source, open(target, "wb") as out:
        while block := source.read(CHUNK):
            written += len(block)
            if written > member.declared_size:
                raise ArchiveError(f"{archive}: member {member.name!r} expands past its declared "
                                   f"{member.declared_size} bytes; refused as a possible archive bomb")
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def _write_manifest(root: Path, digests: dict[str, str]) -> None:
    lines = "".join(f"{digests[name]}  {name}\n" for name in sorted(digests))
    (root / MANIFEST).write_text(lines, encoding="utf-8")


def read_manifest(root: Path) -> dict[str, str] | None:
    """name → SHA-256 from ``root/SHA256SUMS`` in file order; None when there is no manifest."""
    path = root / MANIFEST
    if not path.is_file():
        return None
    manifest = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split(None, 1)
        if len(fields) != 2 or len(fields[0]) != 64:
            raise ArchiveError(f"{path}, line {number}: not '<sha256>  <name>'; re-extract with `bench datasets fetch`")
        manifest[fields[1].strip()] = fields[0]
    return manifest


def read_record(root: Path) -> dict | None:
    """The archive record (url, filename, sha256, pinned) written at extraction, if any."""
    path = root / ARCHIVE_RECORD
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ArchiveError(f"{path}: unreadable; remove it and run `bench datasets fetch` again") from None


def write_record(root: Path, remote: RemoteArchive, sha256: str) -> None:
    record = {"url": remote.url, "filename": remote.filename, "sha256": sha256,
              "pinned": not remote.trust_on_first_use, "source": remote.digest_source}
    (root / ARCHIVE_RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
