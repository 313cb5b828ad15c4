"""Analysis of stored rows: Bjøntegaard deltas, AUC, aggregation and baseline comparison.

Everything here reads rows (a DataFrame from the store) and never touches a codec.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["BDError", "auc", "bd_quality", "bd_rate"]
_HOMES = {"auc": "bench.analysis.auc", "BDError": "bench.analysis.bd", "bd_quality": "bench.analysis.bd",
          "bd_rate": "bench.analysis.bd"}


def __getattr__(name: str) -> Any:
    """The shortcuts above, imported when first used: importing a light submodule
    (``bench.analysis.defaults``) must not load scipy."""
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'bench.analysis' has no attribute {name!r}")
