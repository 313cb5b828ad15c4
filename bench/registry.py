"""The one registry: codecs, datasets and training targets, each an entry-point group.

A package (this project's ``bench_codecs`` and ``bench_datasets``, or anyone's) adds an entry to
a group in its ``pyproject.toml``; the harness lists names without importing anything and loads
only the entry it is asked for, so looking up JPEG never imports the learned codecs' torch
stack, and the core never names a codec module.

A codec may also declare its :class:`CodecListing` in the ``bench.codec_listings`` group, from a
module that imports nothing heavy: ``bench codecs`` then says what the codec is and whether it can
run here without importing torch or loading a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable

#: Kind of plugin → its entry-point group.
GROUPS = {"codec": "bench.codecs", "dataset": "bench.datasets", "trainer": "bench.trainers",
          "codec_listing": "bench.codec_listings"}


def always_available() -> str | None:
    """The availability check of a codec that needs nothing beyond bench's own dependencies."""
    return None


@dataclass(frozen=True)
class CodecListing:
    """What ``bench codecs`` shows of one codec, declared beside the codec class in a light module.

    The fields repeat the class's attributes of the same names (a test keeps them equal), so that
    listing every codec imports neither the classes nor what they need (torch, a model, a binding).
    ``unavailable`` is a cheap check: None when the codec can run here, else one line saying why
    not and how to fix it; it looks for files, binaries and installed modules
    (``importlib.util.find_spec``) and loads nothing.
    """

    name: str
    rate_parameter: str
    default_rates: tuple[float, ...]
    learned: bool = False
    unavailable: Callable[[], str | None] = always_available


def _entries(kind: str) -> dict[str, EntryPoint]:
    """The group's entries by name (the first one where two packages register the same name)."""
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=GROUPS[kind]):
        found.setdefault(entry.name, entry)
    return found


def names(kind: str) -> list[str]:
    """Registered names of ``kind`` ("codec", "dataset" or "trainer"), sorted; nothing is imported."""
    return sorted(_entries(kind))


def load(kind: str, name: str) -> Any | None:
    """The object registered as ``name`` (its module imported now), or None when there is none."""
    entry = _entries(kind).get(name)
    return entry.load() if entry is not None else None


def load_all(kind: str) -> dict[str, Any]:
    """Every object of ``kind`` by name (each module imported)."""
    return {name: entry.load() for name, entry in sorted(_entries(kind).items())}


def entry_value(kind: str, name: str) -> str:
    """Where ``name`` points ("module:attribute"), for error messages."""
    return _entries(kind)[name].value
