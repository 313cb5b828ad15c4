"""How a codec's curves are named: the codec label, plus only the decoder options that tell its
curves apart (``ilc (z=mode)``, ``ilc (z=sample, temperature=0.5)``).

One function for every place a curve is named (figures, tables, the gate's verdict, the run
summary), so a curve reads the same in a run's last lines as in the paper's legend. It lives at
the root because the run summary (``bench.execute``) and the analyses both name curves.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any


_MISSING = "\0missing"


def _value(options: dict[str, Any], key: str) -> str:
    return json.dumps(options[key], sort_keys=True) if key in options else _MISSING


def key_order(options: list[dict[str, Any]]) -> list[str]:
    """Keys in the order they split a codec's curves: categorical options first (they pick a
    decoder mode, e.g. ILC's ``z``), then numeric knobs (which act within a mode), each group by
    fewest distinct values, then by name."""
    def rank(key: str) -> tuple[bool, int, str]:
        carried = [o[key] for o in options if key in o]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in carried)
        return numeric, len({_value(o, key) for o in options}), key
    return sorted(set().union(*options), key=rank)


def shown_options(options: list[dict[str, Any]]) -> list[list[str]]:
    """Per curve of one codec, the decoder options its legend shows, in display order.

    The curves are split key by key (in :func:`key_order`): a key is shown only where it tells
    apart curves that agree on every key shown before it, and a curve lacking the key shows
    nothing for it. ILC's ``z=mode`` curve, stored with the default ``temperature=1.0``, is thus
    split off by ``z`` alone and never labelled with a temperature it does not use.
    """
    shown: list[list[str]] = [[] for _ in options]

    def split(members: list[int], keys: list[str]) -> None:
        for i, key in enumerate(keys):
            groups: dict[str, list[int]] = defaultdict(list)
            for j in members:
                groups[_value(options[j], key)].append(j)
            if len(groups) < 2:
                continue
            for j in members:
                if key in options[j]:
                    shown[j].append(key)
            for group in groups.values():
                if len(group) > 1:
                    split(group, keys[i + 1:])
            return

    if len(options) > 1:
        split(list(range(len(options))), key_order(options))
    return shown


def curve_labels(curves: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Legend text per (codec, decoder-options JSON): the codec, plus only the options that tell
    that codec's curves apart (:func:`shown_options`), so a codec drawn once reads as its name,
    not as its defaults."""
    by_codec: dict[str, list[str]] = defaultdict(list)
    for codec, options in dict.fromkeys(curves):
        by_codec[codec].append(options)
    labels = {}
    for codec, texts in by_codec.items():
        parsed = [json.loads(text or "{}") for text in texts]
        for text, mine, keys in zip(texts, parsed, shown_options(parsed)):
            shown = ", ".join(f"{k}={mine[k]}" for k in keys)
            labels[(codec, text)] = f"{codec} ({shown})" if shown else codec
    return labels
