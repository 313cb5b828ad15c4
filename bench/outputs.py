"""Folders bench writes its outputs into, marked so that no dataset scan takes them for images.

A folder dataset is every image file below a folder, so a results store, plots or tables
written under it would become images of the dataset on the next run: ``crops-….png`` measured
as a photo, silently. Every folder bench creates for outputs goes through ``output_folder``,
which leaves a small ``.bench-output`` marker saying what the folder holds; the dataset scan
(``bench.plan.datasets.folder_images``) skips every subtree that holds a marker or store parts
(stores written before the marker existed).

Where an analysis command writes by default is named relative to the store it reads
(:class:`Beside`), and each command removes its own stale files there (:func:`remove_stale`):
both keep one study's outputs from being read as another's.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

#: The marker file's name; its one line says what the folder holds and why it is there.
MARKER = ".bench-output"
#: The name of every results part (``bench.store``): a folder holding one is a store.
PART_GLOB = "part-*.parquet"


def output_folder(folder: Path, what: str, mark_existing: bool = True) -> Path:
    """Create ``folder`` (and its parents) for bench's outputs and mark it; returns ``folder``.

    ``what`` names the outputs (``results store``, ``figures``) in the marker's line. A folder
    given for one file (``--out report.html``, the history file) is marked only when bench
    creates it (``mark_existing=False``): the folder a user names for one file is theirs, often
    the working directory. An existing marker is left as it is, so marking costs one ``stat``.
    """
    created = not folder.is_dir()
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / MARKER
    if (created or mark_existing) and not marker.exists():
        marker.write_text(f"bench output folder ({what}): dataset scans skip this folder and all below it\n",
                          encoding="utf-8")
    return folder


def is_output_folder(folder: Path) -> bool:
    """Whether ``folder`` holds bench's outputs: a marker, or the parts of a results store."""
    return (folder / MARKER).exists() or any(folder.glob(PART_GLOB))


@dataclass(frozen=True)
class Beside:
    """An output place named relative to the results store: ``Beside("tables")`` is the folder
    ``tables`` next to the store's folder, so the default ``results/parts`` writes
    ``results/tables`` and a second study's store ``study2/parts`` writes ``study2/tables``, never
    into the first study's folder."""

    name: str

    def of(self, store: Path) -> Path:
        """The place for ``store``; a store given as ``.`` or ``..`` is resolved first, since its
        parent would otherwise be itself."""
        parent = store.parent if store.name not in ("", ".", "..") else store.resolve().parent
        return parent / self.name


def output_path(out: Path | str | Beside, store: Path) -> Path:
    """Where a command writes: ``out`` as given, or its :class:`Beside` place for ``store``."""
    return out.of(store) if isinstance(out, Beside) else Path(out)


def remove_stale(folder: Path, patterns: Iterable[str], written: Iterable[Path]) -> list[Path]:
    """Remove the files in ``folder`` whose names match one of ``patterns`` (``fnmatch``; escape
    user-given parts with ``glob.escape``) but that this run did not write; returns them.

    A command owns the files it names by pattern: the folder then shows what its last run wrote,
    never a table of an earlier anchor or a figure of a decoder option no longer stored beside
    them. Files of other patterns (another command's, the user's) are never touched."""
    if not folder.is_dir():
        return []
    kept = {Path(path).resolve() for path in written}
    names = list(patterns)
    stale = [path for path in sorted(folder.iterdir())
             if path.is_file() and any(fnmatch.fnmatchcase(path.name, p) for p in names) and path.resolve() not in kept]
    for path in stale:
        path.unlink()
    return stale
