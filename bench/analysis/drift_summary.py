"""Summaries of drift studies (rows with a ``chain``): loss per chain and per schedule.

A chain re-encodes one image generation after generation under one schedule; these functions
say how far quality fell, when it first fell by more than a threshold, and whether the codec
reached a fixed point (the same bitstream twice in a row). :mod:`bench.render.drift` draws them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def drift_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Successful drift rows with the schedule's label in a ``schedule`` column."""
    rows = rows[rows["error"].isna() & (rows["chain"].fillna("") != "")].copy()
    rows["schedule"] = rows["chain"].map(schedule_label)
    return rows


def schedule_label(chain: str) -> str:
    """The schedule as written (``jpeg:75``), with `` carry float`` for a float-carry chain: the two
    carries of one schedule are two chains per image, never one mean (nor a false fixed point
    where their identical first generations meet)."""
    spec = json.loads(chain)
    carry = spec.get("carry", "uint8")
    return spec["schedule"] if carry == "uint8" else f"{spec['schedule']} carry {carry}"


def schedule_codec(chain: str) -> str:
    """The codec label of a chain's first step: the codec whose colour draws the schedule."""
    return json.loads(chain)["steps"][0][0]


def per_chain(rows: pd.DataFrame, metric: str = "psnr_rgb", threshold: float = 1.0) -> pd.DataFrame:
    """One line per (dataset, schedule, image): drop after N, first crossing of ``threshold``, fixed point."""
    records = []
    for (dataset, schedule, image), chain in drift_rows(rows).groupby(["dataset", "schedule", "image"]):
        chain = chain.sort_values("generation")
        if chain["generation"].iloc[0] != 1:
            continue
        first, last = chain[metric].iloc[0], chain[metric].iloc[-1]
        # a lossless chain (PSNR ∞) crosses when it stops being lossless; ∞ − ∞ is no drop
        with np.errstate(invalid="ignore"):
            loss = np.where(chain[metric].to_numpy() == first, 0.0, first - chain[metric].to_numpy())
        crossed = chain[loss >= threshold]["generation"]
        same = chain["bitstream_sha256"].eq(chain["bitstream_sha256"].shift())
        records.append({
            "dataset": dataset, "schedule": schedule, "image": image, "generations": int(chain["generation"].max()),
            f"{metric}_gen1": first, f"{metric}_last": last, "drop": float(loss[-1]),
            "first_crossing": int(crossed.iloc[0]) if len(crossed) else None,
            "fixed_point": int(chain[same]["generation"].iloc[0]) if same.any() else None,
        })
    return pd.DataFrame(records)


def common_generations(rows: pd.DataFrame) -> pd.DataFrame:
    """Drift rows cut, per (dataset, schedule), to the generations every chain has: when one image's
    chain was run further than the others, its later generations would otherwise make the mean
    of "last" and "drop" mix generations."""
    rows = drift_rows(rows)
    deepest = rows.groupby(["dataset", "schedule", "image"])["generation"].max()
    horizon = deepest.groupby(level=["dataset", "schedule"]).min().rename("horizon").reset_index()
    rows = rows.merge(horizon, on=["dataset", "schedule"])
    return rows[rows["generation"] <= rows["horizon"]].drop(columns="horizon")


def summary_table(rows: pd.DataFrame, metric: str = "psnr_rgb", threshold: float = 1.0) -> pd.DataFrame:
    """Per (dataset, schedule): means over images at the generation count every chain reached,
    and how many chains crossed / reached a fixed point by then."""
    chains = per_chain(common_generations(rows), metric, threshold)
    if chains.empty:
        return chains
    out = []
    for (dataset, schedule), group in chains.groupby(["dataset", "schedule"]):
        out.append({
            "dataset": dataset, "schedule": schedule, "images": len(group), "generations": int(group["generations"].min()),
            f"mean {metric} gen 1": group[f"{metric}_gen1"].mean(), f"mean {metric} last": group[f"{metric}_last"].mean(),
            "mean drop": group["drop"].mean(),
            f"crossed −{threshold:g}": f"{group['first_crossing'].notna().sum()}/{len(group)}",
            "median first crossing": group["first_crossing"].median(),
            "fixed point": f"{group['fixed_point'].notna().sum()}/{len(group)}",
            "median fixed-point gen": group["fixed_point"].median(),
        })
    return pd.DataFrame(out)
