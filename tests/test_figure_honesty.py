"""Figures a paper reprints: a codec keeps one colour in every figure of a command (published
curves included, whichever others are overlaid), every marker lies whole inside its frame, each
report caption explains exactly the marks its figure draws, and BD captions and notes say what
was computed against a published anchor."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from bench import api
from bench.analysis.paper import TableSettings
from bench.render.rd import rd_figures
from bench.render.report import ReportSettings, report_figures
from bench.render.style import codec_colours
from test_output_places import MODE, SAMPLE, bench, synthetic_rows, write_store

CURVES = {("jpeg", "{}"): (20, 40, 60, 80), ("webp", "{}"): (20, 40, 60, 80)}
ILC = {("ilc", MODE): (1,), ("ilc", SAMPLE): (1,)}
PROBDEC = {("probdec", json.dumps({"scale": 0.0})): (1, 2), ("probdec", json.dumps({"scale": 1.0})): (1, 2)}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text("")
    return path


def rows(curves: dict) -> pd.DataFrame:
    frame = pd.DataFrame(synthetic_rows(curves))
    if any(codec == "ilc" for codec, _ in curves):  # the sampling decoder 20 dB below the mode
        frame.loc[frame["decoder_options"] == SAMPLE, "psnr_rgb"] -= 20
    return frame


def published_colours(frame: pd.DataFrame, names: list[str], config: Path) -> dict[str, str]:
    fig = dict(rd_figures(frame, ("psnr_rgb",), codec_order=api.colour_order(frame, config),
                          published=api.published(names)))["kodak-psnr_rgb"]
    return {line.get_label(): line.get_color() for line in fig.axes[0].get_lines() if "published" in line.get_label()}


def test_a_published_curve_keeps_its_colour_whichever_others_are_overlaid(config):
    frame = rows(CURVES)
    alone = published_colours(frame, ["compressai"], config)
    more = published_colours(frame, ["compressai", "iat", "invcompress", "ilc"], config)
    mbt = next(label for label in alone if label.startswith("mbt2018"))
    assert more[mbt] == alone[mbt]
    assert {label: more[label] for label in alone} == alone
    # the style function gives that colour to the codec itself, measured or published
    order = api.colour_order(frame, config)
    assert codec_colours(["mbt2018"], order)["mbt2018"] == alone[mbt]
    assert len(set(more.values())) == len(more)  # and published codecs differ from each other


def test_every_marker_lies_whole_inside_its_frame():
    """Two codecs' options panels side by side, legends below (the layout shrinks the axes), with
    the envelope's broad ring around a single-rate point: the tightest frames bench draws."""
    for stem, fig in rd_figures(rows({**CURVES, **ILC, **PROBDEC}), ("psnr_rgb",), envelope=True):
        fig.canvas.draw()
        for ax in fig.axes:
            frame = ax.get_window_extent()
            for line in ax.get_lines():
                if not line.get_clip_on() or line.get_marker() in ("none", "None", ""):
                    continue  # off-scale triangles are drawn on the edge on purpose
                radius = line.get_markersize() / 2 * fig.dpi / 72
                for x, y in ax.transData.transform(line.get_xydata()):
                    assert frame.x0 <= x - radius and x + radius <= frame.x1, (stem, line.get_label())
                    assert frame.y0 <= y - radius and y + radius <= frame.y1, (stem, line.get_label())


def captions(frame: pd.DataFrame, band: str = "iqr", published: tuple[str, ...] = ()) -> dict[str, str]:
    settings = ReportSettings(tables=TableSettings(metrics=("psnr_rgb",)), band=band,
                              published=api.published(published))
    return {item.stem: item.caption for item in report_figures(frame, settings)}


def test_captions_explain_only_the_marks_their_figures_draw():
    plain = captions(rows(CURVES), band="none")["kodak-psnr_rgb"]
    assert "star" not in plain and "band" not in plain and "bars" not in plain and "dashed" not in plain
    mixed = captions(rows({**CURVES, **ILC}), published=("published:vtm",))
    assert "stars: codecs measured at one rate point" in mixed["kodak-psnr_rgb"]
    assert "shaded band and bars: interquartile range" in mixed["kodak-psnr_rgb"]
    assert "dashed: published curves" in mixed["kodak-psnr_rgb"]
    options = mixed["kodak-psnr_rgb-options"]  # single-rate options: no star, no band, no published curve
    assert "star" not in options and "shaded band" not in options and "dashed" not in options
    assert "bars: interquartile range" in options


def test_a_published_anchor_without_lpips_says_so_and_claims_no_interval(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bench.toml").write_text("")
    store = write_store(tmp_path / "parts", CURVES)
    bench("table", "--results", store, "--anchor", "published:jpeg", "-m", "psnr_rgb", "-m", "lpips",
          "--published-partial")
    folder = tmp_path / "tables" / "kodak"
    lpips = (folder / "bd-lpips.md").read_text()
    assert lpips.count("n/a (the published curve published:jpeg has no lpips values)") == 2
    assert "non-finite" not in lpips
    for table in ("bd-lpips.md", "bd-psnr_rgb.md"):
        text = (folder / table).read_text()
        assert "bootstrap" not in text and "no interval (a published anchor has no per-image values" in text
