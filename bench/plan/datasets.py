"""Dataset registry: named datasets (entry points), or any folder of images.

A dataset resolves to an ordered list of image files under a data directory. Named datasets
can download missing files; downloads verify SHA-256 and land atomically, and tests point the
data directory at local copies (``BENCH_DATA_DIR``) so nothing is fetched.

Files already present are checked against their pinned SHA-256 too, every time a dataset is
resolved: a replaced ``kodim01.png`` would otherwise be measured, and published, as Kodak. Only
the files a caller asks for (``limit``) are checked, and the digests are cached per file
version (``bench.plan.images.file_sha256``), so the planner's own hashing costs nothing more.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

from bench.plan import archives

from bench import registry
from bench.plan.archives import RemoteArchive
from bench.errors import BenchError, ConfigError
from bench.config.paths import user_path
from bench.outputs import MARKER, is_output_folder
from bench.plan.images import file_sha256, unreadable

ENTRY_POINT_GROUP = registry.GROUPS["dataset"]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".bmp", ".tif", ".tiff", ".webp")
DOWNLOAD_TIMEOUT_S = 60


@dataclass(frozen=True)
class ImageRef:
    """One image of a dataset: where it is and how the rows name it."""

    dataset: str
    name: str
    path: Path
    #: True when the file differs from the dataset's pinned SHA-256 (measured anyway because the
    #: caller allowed it), False when it matches, None when the dataset pins no digest for it.
    modified: bool | None = None
    #: Why the entry cannot be read as an image file (a FIFO, a dangling link; ``images.unreadable``),
    #: None for a readable file: its tasks are planned anyway and become error rows with this line.
    problem: str | None = None

    def sha256(self) -> str:
        """The file's SHA-256, which keys its tasks; empty for an unreadable entry, which is never
        opened (a FIFO would block): its rows are errors, retried by every run."""
        return "" if self.problem else file_sha256(self.path)


class DatasetError(BenchError):
    """A named dataset's files are missing, cannot be downloaded, or differ from their pinned SHA-256."""


@dataclass(frozen=True)
class RemoteFile:
    name: str
    url: str
    sha256: str


@dataclass(frozen=True)
class NamedDataset:
    """A dataset with a fixed file list: downloadable files, one archive, or files found by a callable.

    An archive dataset's file list is the ``SHA256SUMS`` manifest written when its archive was
    verified and extracted (:mod:`bench.plan.archives`); its files are then checked like pinned files.
    """

    name: str
    description: str
    files: tuple[RemoteFile, ...] = ()
    #: For datasets shipped inside an installed package: returns the folder holding them.
    local_root: Callable[[], Path] | None = None
    local_names: tuple[str, ...] = field(default=())
    archive: RemoteArchive | None = None

    def root(self, data_dir: Path) -> Path:
        return self.local_root() if self.local_root else data_dir / self.name

    @property
    def image_count(self) -> int:
        if self.archive:
            return self.archive.image_count
        return len(self.local_names) if self.local_root else len(self.files)

    def presence(self, data_dir: Path) -> tuple[int, int | None]:
        """(files present, files expected) under ``data_dir``, from the directory alone: no file is
        hashed (an archive dataset's images are hundreds of megabytes). An archive dataset not yet
        extracted expects its archive's image count; None when that is not known either."""
        root = self.root(data_dir)
        if self.local_root:
            names: Sequence[str] = self.local_names
        elif self.archive:
            manifest = archives.read_manifest(root)
            if manifest is None:
                return 0, self.archive.image_count
            names = list(manifest)
        else:
            names = [f.name for f in self.files]
        return sum((root / name).is_file() for name in names), len(names)

    def _archive_files(self, data_dir: Path, download: bool) -> tuple[RemoteFile, ...]:
        """An archive dataset's files and digests from its manifest, extracting the archive first if needed."""
        assert self.archive is not None
        manifest = archives.read_manifest(self.root(data_dir))
        if manifest is None:
            if not download:
                raise DatasetError(
                    f"dataset {self.name!r}: not extracted under {self.root(data_dir)}; run `bench datasets fetch "
                    f"{self.name}` (or `bench datasets fetch {self.name} --archive FILE` with "
                    f"{self.archive.filename} downloaded by hand)"
                )
            install_archive(self, data_dir)
            manifest = archives.read_manifest(self.root(data_dir)) or {}
        return tuple(RemoteFile(name, self.archive.url, digest) for name, digest in manifest.items())

    def images(self, data_dir: Path, download: bool = True, limit: int | None = None,
               allow_modified: bool = False, names: Sequence[str] = ()) -> list[ImageRef]:
        """The first ``limit`` images (all when None; only ``names`` when given), each present and
        checked against its pin.

        Missing files are downloaded when ``download`` is set, else refused. A file whose bytes
        differ from the pinned SHA-256 is refused unless ``allow_modified``; then its ref says so.
        """
        root = self.root(data_dir)
        if self.local_root:
            return [ImageRef(self.name, n, root / n) for n in chosen(self.local_names, names, self.name)[:limit]]
        files = self._archive_files(data_dir, download) if self.archive else self.files
        wanted = set(chosen([f.name for f in files], names, self.name))
        files = [f for f in files if f.name in wanted][:limit]
        if self.archive and any(not (root / f.name).is_file() for f in files):
            first = next(f for f in files if not (root / f.name).is_file())
            raise DatasetError(f"{root / first.name}: listed in {root / archives.MANIFEST} but missing; "
                               f"restore it with `bench datasets fetch {self.name}`")
        missing = [f for f in files if not (root / f.name).is_file()]
        if missing and download:
            for remote in missing:
                fetch(remote, root / remote.name)
        elif missing:
            raise DatasetError(
                f"dataset {self.name!r}: {len(missing)} file(s) missing under {root}, first {missing[0].name}; "
                f"run `bench datasets fetch {self.name}` or set BENCH_DATA_DIR"
            )
        found = {f.name: file_sha256(root / f.name) for f in files}
        modified = [f for f in files if found[f.name] != f.sha256]
        if modified and not allow_modified:
            first = modified[0]
            others = f" ({len(modified) - 1} more file(s) differ too)" if len(modified) > 1 else ""
            raise DatasetError(
                f"{root / first.name}: SHA-256 {found[first.name][:12]}… differs from the pinned "
                f"{first.sha256[:12]}… of dataset {self.name!r}{others}; restore it with "
                f"`bench datasets fetch {self.name}`, or pass --allow-modified to measure it anyway "
                "(its rows get image_modified = true)"
            )
        return [ImageRef(self.name, f.name, root / f.name, modified=f in modified) for f in files]

    def fetch_all(self, data_dir: Path, archive_file: Path | None = None) -> FetchReport:
        """Download missing files and re-download every present file that differs from its pin.

        An archive dataset is extracted again (from ``archive_file``, else its cached or downloaded
        archive) when it was never extracted or any of its files is missing or differs from the manifest.
        """
        root = self.root(data_dir)
        report = FetchReport(root)
        if self.archive:
            manifest = archives.read_manifest(root)
            if manifest is None or archive_file is not None:
                report.downloaded.extend(install_archive(self, data_dir, archive_file))
                return report
            bad = [n for n, d in manifest.items() if not (root / n).is_file() or file_sha256(root / n) != d]
            if bad:
                install_archive(self, data_dir)
                report.replaced.extend(bad)
            return report
        if archive_file is not None:
            raise DatasetError(f"dataset {self.name!r} is not distributed as an archive; --archive does not apply")
        for remote in () if self.local_root else self.files:
            target = root / remote.name
            if not target.is_file():
                fetch(remote, target)
                report.downloaded.append(remote.name)
                continue
            digest = file_sha256(target)
            if digest == remote.sha256:
                continue
            try:
                fetch(remote, target)
            except DatasetError as exc:
                raise DatasetError(
                    f"{target}: SHA-256 {digest[:12]}… differs from the pinned {remote.sha256[:12]}… and "
                    f"re-downloading it failed: {exc}"
                ) from None
            report.replaced.append(remote.name)
        return report


@dataclass
class FetchReport:
    """What ``bench datasets fetch`` did: files downloaded because missing, or because modified."""

    root: Path
    downloaded: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


def fetch(remote: RemoteFile, target: Path) -> None:
    """Download ``remote`` to ``target``: checksum verified, written atomically, one-line errors."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(remote.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise DatasetError(
            f"cannot download {remote.name} from {remote.url} ({exc}); offline? put the file in "
            f"{target.parent} or set BENCH_DATA_DIR to a folder that holds it"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != remote.sha256:
        raise DatasetError(
            f"{remote.url}: SHA-256 {digest} does not match the pinned {remote.sha256}; not saved"
        )
    handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=".download-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def install_archive(dataset: NamedDataset, data_dir: Path, archive_file: Path | None = None) -> list[str]:
    """Verify an archive dataset's archive (downloading it to ``<data_dir>/.archives/`` unless
    ``archive_file`` is given) and extract it into the dataset folder; the extracted names.

    A trust-on-first-use dataset checks the archive against the digest recorded at its first fetch.
    """
    remote = dataset.archive
    assert remote is not None
    root = dataset.root(data_dir)
    record = archives.read_record(root) if remote.trust_on_first_use else None
    recorded = record.get("sha256") if record else None
    if archive_file is None:
        archive_file = data_dir / ".archives" / remote.filename
        if not archive_file.is_file():
            archives.download(remote, archive_file, dataset.name)
    elif not archive_file.is_file():
        raise DatasetError(f"--archive {archive_file}: no such file")
    digest = archives.verify(remote, archive_file, recorded)
    names = archives.extract(remote, archive_file, root)
    archives.write_record(root, remote, digest)
    if remote.trust_on_first_use and recorded is None:
        print(f"{dataset.name}: no pinned SHA-256 for {remote.filename}; recorded {digest} on this first "
              f"fetch (trust on first use): later archives must match it", file=sys.stderr)
    return sorted(names)


def default_data_dir() -> Path:
    """``BENCH_DATA_DIR`` if set, else the user cache (``$XDG_CACHE_HOME/bench/datasets``)."""
    if os.environ.get("BENCH_DATA_DIR"):
        return Path(os.environ["BENCH_DATA_DIR"]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "bench" / "datasets"


@lru_cache(maxsize=None)
def registered_datasets() -> dict[str, NamedDataset]:
    return registry.load_all("dataset")


def folder_images(folder: Path) -> list[ImageRef]:
    """Every entry with an image suffix under ``folder`` (recursively, links to folders not
    followed), in sorted order, bench's own output folders left out (``bench.outputs``).

    An entry that is not a readable regular file (a FIFO, a device, a dangling link) is kept
    with its ``problem``, so the run names it in an error row instead of measuring one image
    fewer without a word; it is only ever ``stat``ed.
    """
    if is_output_folder(folder):
        raise DatasetError(f"{folder}: a folder bench writes its outputs into ({MARKER} or results parts), not a "
                           f"dataset; pass the folder of the images, or delete {folder / MARKER} if it holds none of bench's outputs")
    files = sorted(image_entries(folder))
    if not files:
        raise DatasetError(f"{folder}: no image files ({', '.join(IMAGE_SUFFIXES)}) found")
    label = str(folder)
    return [ImageRef(label, str(p.relative_to(folder)), p, problem=unreadable(p)) for p in files]


def image_entries(folder: Path) -> list[Path]:
    """The non-folder entries with an image suffix below ``folder``, pruning every sub-folder
    that holds bench's outputs; a sub-folder that cannot be listed is one line, not a silent gap."""
    def refuse(exc: OSError) -> None:
        raise DatasetError(f"{exc.filename}: cannot list this folder of the dataset ({exc.strerror}); "
                           "fix its permissions or move it out of the dataset folder")

    found = []
    for root, dirs, names in os.walk(folder, onerror=refuse):
        base = Path(root)
        dirs[:] = [d for d in dirs if not is_output_folder(base / d)]
        found += [base / n for n in names if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    return found


def chosen(available: Sequence[str], names: Sequence[str], dataset: str) -> list[str]:
    """``available`` narrowed to ``names`` (``bench run --image``), in the dataset's order; a
    name the dataset lacks is an error that lists a few it has."""
    if not names:
        return list(available)
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise DatasetError(f"--image {', '.join(unknown)}: not in dataset {dataset!r} "
                           f"(it has {', '.join(list(available)[:4])}{', …' if len(available) > 4 else ''})")
    wanted = set(names)
    return [name for name in available if name in wanted]


def resolve(dataset: str, data_dir: Path | None = None, download: bool = True, limit: int | None = None,
            allow_modified: bool = False, names: Sequence[str] = ()) -> list[ImageRef]:
    """The first ``limit`` images (all when None; only ``names`` when given) of a registered
    dataset name or of a folder path.

    Only the returned files must be present and match their pinned SHA-256, so ``--limit 1``
    works with one file at hand; ``allow_modified`` lets files that differ through, marked.
    """
    named = registered_datasets()
    if dataset in named:
        return named[dataset].images(data_folder(data_dir, named[dataset]), download=download, limit=limit,
                                     allow_modified=allow_modified, names=names)
    folder = user_path(dataset)
    if folder.is_dir():
        found = folder_images(folder)
        keep = set(chosen([ref.name for ref in found], names, dataset))
        return [ref for ref in found if ref.name in keep][:limit]
    raise _unknown(dataset, named)


def fetch_dataset(dataset: str, data_dir: Path | None = None, archive_file: Path | None = None) -> FetchReport:
    """Make a registered dataset complete and unmodified under ``data_dir`` (``bench datasets fetch``);
    ``archive_file`` is an archive dataset's archive downloaded by hand (``--archive``)."""
    named = registered_datasets()
    if dataset not in named:
        raise _unknown(dataset, named)
    return named[dataset].fetch_all(data_folder(data_dir, named[dataset]), archive_file)


def data_folder(data_dir: Path | None, dataset: NamedDataset) -> Path:
    """``data_dir`` (else ``default_data_dir()``), refused in one line when it, a folder above
    it or the dataset's folder in it is a file: creating or reading files there would be a
    NotADirectoryError traceback. A dataset shipped in a package does not use it."""
    folder = data_dir or default_data_dir()
    if dataset.local_root:
        return folder
    for path in (folder / dataset.name, folder, *folder.parents):
        if path.exists() or path.is_symlink():
            if not path.is_dir():
                raise DatasetError(f"{path}: is a file, not a folder; the data folder {folder} (--data-dir, run.data_dir "
                                   "or BENCH_DATA_DIR) must be a folder holding one folder per dataset")
            break
    return folder


def _unknown(dataset: str, named: dict[str, NamedDataset]) -> ConfigError:
    return ConfigError(
        f"unknown dataset {dataset!r}: not a registered name ({', '.join(sorted(named))}) "
        "nor an existing folder"
    )
