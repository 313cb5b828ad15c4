"""How curves look: one colour per codec label, line styles per decoder option set, legend text.

A reader compares figures side by side (Kodak beside the sample set, the RD plot beside the
report), so a codec's colour must not depend on which codecs one figure happens to hold. Colours
follow a fixed order: the configuration's codec order (the ``[codecs.*]`` sections of bench.toml),
then every other label sorted, mapped onto a fixed palette. Curves of one codec that differ only
in decoder options (ILC's ``z=mode`` and ``z=sample``) share the codec's colour and differ by line
style and marker; a published curve (``published:vtm``) takes its codec's colour, dashed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Iterable, Sequence

from matplotlib import colormaps
from matplotlib.colors import to_hex

from bench.analysis.curves import curve_labels, images_text, key_order  # noqa: F401 - figures label curves and count images as tables do

PUBLISHED_PREFIX = "published:"
AXIS_LABELS = {
    "psnr_rgb": "PSNR RGB [dB]",
    "psnr_y": "PSNR Y (BT.601) [dB]",
    "psnr_rgb_float": "PSNR RGB of the float reconstruction [dB]",
    "ms_ssim_db": "MS-SSIM [dB]",
    "ms_ssim": "MS-SSIM",
    "lpips": "LPIPS (AlexNet), lower is better",
    "mse": "MSE (8-bit RGB)",
}
#: How a metric is named in words in the report's headings, captions and metric definitions.
DISPLAY_NAMES = {
    "psnr_rgb": "PSNR RGB",
    "psnr_y": "PSNR Y",
    "psnr_rgb_float": "PSNR RGB (float reconstruction)",
    "ms_ssim_db": "MS-SSIM dB",
    "ms_ssim": "MS-SSIM",
    "lpips": "LPIPS",
    "mse": "MSE",
}
#: tab10, then the darkest and the middle shade of each of tab20b's five hue families: 20 colours
#: that stay readable on white (tab20's light halves are too pale for thin lines).
PALETTE: tuple[str, ...] = (
    *(to_hex(c) for c in colormaps["tab10"].colors),
    *(to_hex(c) for c in colormaps["tab20b"].colors[0::4]),
    *(to_hex(c) for c in colormaps["tab20b"].colors[2::4]),
)
#: Line style and marker of a codec's 1st, 2nd, … decoder-option variant. Plain dashes are left
#: out: they mark published curves.
VARIANT_LINES: tuple[tuple[Any, str], ...] = (
    ("-", "o"), (":", "s"), ("-.", "^"), ((0, (5, 1, 1, 1, 1, 1)), "D"), ((0, (1, 2)), "v"),
    ((0, (3, 1, 1, 1)), "P"), ((0, (8, 2)), "X"),
)
PUBLISHED_LINE: dict[str, Any] = {"linestyle": "--", "linewidth": 1.4, "marker": "none"}


def axis_label(metric: str) -> str:
    return AXIS_LABELS.get(metric, metric)


def display_name(metric: str) -> str:
    """``psnr_rgb`` → ``PSNR RGB``; an unknown column keeps its own name."""
    return DISPLAY_NAMES.get(metric, metric)


def base_codec(label: str) -> str:
    """The codec a curve belongs to for colouring: ``published:vtm`` → ``vtm``, and a published
    curve of another dataset to the same codec (``published:jpeg-clic`` → ``jpeg``), so a
    measured curve and its published counterpart share a colour on every dataset."""
    if not label.startswith(PUBLISHED_PREFIX):
        return label
    from bench.analysis.published import codec_of

    return codec_of(label[len(PUBLISHED_PREFIX):])


def codec_colours(labels: Iterable[str], codec_order: Sequence[str] = ()) -> dict[str, str]:
    """Colour per codec label (published labels map to their codec's colour).

    Position in the palette = position in ``codec_order`` followed by the remaining labels
    sorted, so a label keeps its colour in every figure drawn from the same store and config.
    """
    names = [base_codec(label) for label in labels]
    order = list(dict.fromkeys(codec_order))
    order += sorted(set(names) - set(order))
    position = {name: i for i, name in enumerate(order)}
    colours = {name: PALETTE[position[name] % len(PALETTE)] for name in order}
    for label in labels:
        colours[label] = colours[base_codec(label)]
    return colours


def marker_style(n_points: int, variant: int | None = None) -> dict[str, Any]:
    """One meaning per marker. A codec's own curve (``variant`` None) is a line with small dots,
    and a codec measured at a single rate (one trained model) a large star: the star means "one
    rate point" and nothing else. The ``variant``-th decoder option of a codec gets its line
    style and marker from :data:`VARIANT_LINES`, its single point that marker drawn large."""
    if variant is None:
        if n_points > 1:
            return {"linestyle": "-", "marker": "o", "markersize": 3.5}
        return {"linestyle": "none", "marker": "*", "markersize": 13}
    line, marker = VARIANT_LINES[variant % len(VARIANT_LINES)]
    if n_points > 1:
        return {"linestyle": line, "marker": marker, "markersize": 3.5}
    return {"linestyle": "none", "marker": marker, "markersize": 9}


def _sort_value(options: dict[str, Any], key: str) -> tuple:
    if key not in options:
        return (0, 0.0, "")
    value = options[key]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, float(value), "")
    return (2, 0.0, json.dumps(value, sort_keys=True))


def variant_order(options_json: Sequence[str]) -> list[str]:
    """One codec's decoder-option sets (JSON) in a fixed order: by their values, the key that
    splits the curves first deciding first (``z=mode`` before ``z=sample``, then temperature)."""
    parsed = {text: json.loads(text or "{}") for text in options_json}
    keys = key_order(list(parsed.values())) if parsed else []
    return sorted(parsed, key=lambda text: tuple(_sort_value(parsed[text], k) for k in keys))


def curve_styles(curves: list[tuple[str, str]], n_points: dict[tuple[str, str], int],
                 colours: dict[str, str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Plot keyword arguments per (codec, decoder-options JSON): the codec's colour, and the line
    style and marker of the curve's place in :func:`variant_order` among that codec's curves."""
    by_codec: dict[str, list[str]] = defaultdict(list)
    for codec, options in dict.fromkeys(curves):
        by_codec[codec].append(options)
    styles = {}
    for codec, texts in by_codec.items():
        for variant, text in enumerate(variant_order(texts)):
            key = (codec, text)
            styles[key] = {"color": colours[codec], **marker_style(n_points[key], variant if len(texts) > 1 else None)}
    return styles
