"""The gate's exact check: did a curve's configuration or output change between the stores?

A curve is matched by its label, so a label whose parameters changed (``jpeg`` now 4:4:4) still
matches its baseline rows; its output is then expected to differ, and the cause to name is the
parameters, not "output changed at the same codec version". Where the configuration is the
same, bytes must be equal exactly, and decoded PSNR within the codec's declared decode
tolerance: a learned codec's float decoder gives slightly different pixels at another torch
thread count (``bench run --jobs``) from the very same bitstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

_UNSET = object()


def configuration_change(matched: pd.DataFrame) -> str | None:
    """What changed in the curve's codec implementation or parameters (canonical JSON), as
    "implementation 'jpeg' → 'webp'" or "subsampling '4:2:0' → '4:4:4'"; None when nothing did."""
    changes = []
    impls = [_first(matched, f"codec_impl_{side}") for side in ("base", "cand")]
    if impls[0] != impls[1]:
        changes.append(f"implementation {impls[0]!r} → {impls[1]!r}")
    params = [_first(matched, f"params_{side}") for side in ("base", "cand")]
    if params[0] != params[1]:
        changes.append(_params_change(params[0], params[1]))
    return "; ".join(changes) or None


def _first(matched: pd.DataFrame, column: str) -> Any:
    """The column's first value (a curve has one implementation and one parameter set); None
    when the store predates the column."""
    return matched[column].iloc[0] if column in matched.columns else None


def _params_change(base: str | None, cand: str | None) -> str:
    """Each parameter whose value differs, ``key 'old' → 'new'``; the raw strings when either
    side is not a JSON object (the store was edited)."""
    try:
        old, new = json.loads(base or "{}"), json.loads(cand or "{}")
    except ValueError:
        old = new = None
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return f"params {base!r} → {cand!r}"
    return ", ".join(f"{key} {_shown(old.get(key, _UNSET))} → {_shown(new.get(key, _UNSET))}"
                     for key in sorted(set(old) | set(new)) if old.get(key, _UNSET) != new.get(key, _UNSET))


def _shown(value: Any) -> str:
    return "(unset)" if value is _UNSET else repr(value)


@dataclass(frozen=True)
class OutputChange:
    """Rows whose output differs between the stores at the same codec version and parameters."""

    #: Rows whose byte count or bitstream digest differs.
    bytes_changed: int
    #: Rows with equal bytes but a PSNR difference beyond the decode tolerance.
    psnr_beyond: int
    #: Rows whose PSNR differs within the tolerance (a note, not a failure).
    psnr_within: int
    #: Largest PSNR difference among the rows within the tolerance (dB).
    largest_within: float

    @property
    def changed(self) -> int:
        return self.bytes_changed + self.psnr_beyond


def output_change(matched: pd.DataFrame, tolerance_db: float) -> OutputChange:
    """Compare bytes exactly (count and, where both stores have it, the bitstream's SHA-256) and
    PSNR RGB within ``tolerance_db``; an infinite PSNR matches only an infinite one."""
    bytes_changed = np.array(matched["bytes_base"] != matched["bytes_cand"], dtype=bool)
    if {"bitstream_sha256_base", "bitstream_sha256_cand"} <= set(matched.columns):
        both = matched["bitstream_sha256_base"].notna() & matched["bitstream_sha256_cand"].notna()
        bytes_changed |= (both & (matched["bitstream_sha256_base"] != matched["bitstream_sha256_cand"])).to_numpy()
    base = matched["psnr_rgb_base"].astype(float).to_numpy()
    cand = matched["psnr_rgb_cand"].astype(float).to_numpy()
    with np.errstate(invalid="ignore"):
        difference = np.where(base == cand, 0.0, np.abs(cand - base))
    difference = np.where(np.isnan(difference), np.inf, difference)
    same_bytes = ~bytes_changed
    within = same_bytes & (difference > 0) & (difference <= tolerance_db)
    return OutputChange(bytes_changed=int(bytes_changed.sum()),
                        psnr_beyond=int((same_bytes & (difference > tolerance_db)).sum()),
                        psnr_within=int(within.sum()),
                        largest_within=float(difference[within].max()) if within.any() else 0.0)
