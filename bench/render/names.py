"""File names from dataset, codec and option names: apart from ``figure`` so that writing
tables never imports matplotlib."""

from __future__ import annotations

import re


def safe_name(text: str) -> str:
    """A file-name fragment from a dataset, codec or option name (a dataset may be a folder path)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "dataset"
