"""Folders bench writes its outputs into, marked so that no dataset scan takes them for images.

A folder dataset is every image file below a folder, so a results store, plots or tables
written under it would become images of the dataset on the next run: ``crops-….png`` measured
as a photo, silently. Every folder bench creates for outputs goes through ``output_folder``,
which leaves a small ``.bench-output`` marker saying what the folder holds; the dataset scan
(``bench.plan.datasets.folder_images``) skips every subtree that holds a marker or store parts
(stores written before the marker existed).
"""

from __future__ import annotations

from pathlib import Path

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
