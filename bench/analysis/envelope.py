"""The best decoder option per rate: Ma et al. 2021's "Ours-LPIPS" curve.

A codec whose decoder has a knob (probabilistic decoding's variance scale, ILC's ``z`` mode)
decodes one bitstream per image and rate several ways. Choosing, at each rate, the option with
the best dataset-mean value of one metric gives the curve a user would get by tuning the decoder
for that metric — at no cost in bits, since every option decodes the same bitstream.
"""

from __future__ import annotations

import json

import pandas as pd

ENVELOPE_KEY = "envelope"


def envelope_options(metric: str) -> str:
    """The ``decoder_options`` marker of an envelope curve over ``metric``."""
    return json.dumps({ENVELOPE_KEY: metric})


def is_envelope(decoder_options: str) -> bool:
    return ENVELOPE_KEY in json.loads(decoder_options or "{}")


def envelope_curves(curves: pd.DataFrame, metric: str, higher_is_better: bool) -> pd.DataFrame:
    """One curve per (dataset, codec) that has several decoder-option curves: at each rate that
    every one of them has, the row of the option with the best mean ``metric``.

    ``curves`` is :func:`bench.analysis.curves.mean_curves` output. The result keeps the chosen row's
    columns (bpp, metric, spread, ``n_images``), sets ``decoder_options`` to
    ``{"envelope": metric}`` and adds ``best_options`` (the chosen option set) and ``n_options``.
    Codecs with one decoder option set get no envelope.
    """
    columns = [*curves.columns, "best_options", "n_options"]
    data = curves.dropna(subset=[metric])
    pieces = []
    for _, codec_curves in data.groupby(["dataset", "codec"], sort=True):
        n_options = codec_curves["decoder_options"].nunique()
        if n_options < 2:
            continue
        per_rate = codec_curves.groupby("rate")["decoder_options"].nunique()
        shared = per_rate[per_rate == n_options].index
        candidates = codec_curves[codec_curves["rate"].isin(shared)]
        order = candidates.sort_values([metric, "decoder_options"], ascending=[not higher_is_better, True])
        best = order.drop_duplicates("rate").sort_values("rate").copy()
        best["best_options"] = best["decoder_options"]
        best["decoder_options"] = envelope_options(metric)
        best["n_options"] = n_options
        best["n_points"] = len(best)
        pieces.append(best)
    if not pieces:
        return pd.DataFrame(columns=columns)
    return pd.concat(pieces, ignore_index=True)[columns]
