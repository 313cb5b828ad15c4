"""File names from dataset, codec and option names: apart from ``figure`` so that writing
tables never imports matplotlib."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence


def safe_name(text: str) -> str:
    """A file-name fragment from a dataset, codec or option name (a dataset may be a folder path)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "dataset"


def dataset_labels(datasets: Sequence[str]) -> dict[str, str]:
    """How each dataset is named in a title and a file name: a folder dataset (stored as its path)
    by its folder's name, so no figure carries the path of the machine that ran it; the path
    where two folders share a name, so their figures do not overwrite each other."""
    names = {dataset: Path(dataset).name or dataset for dataset in datasets}
    shared = {name for name in names.values() if list(names.values()).count(name) > 1}
    return {dataset: dataset if name in shared else name for dataset, name in names.items()}
