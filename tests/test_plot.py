"""RD figures: stable codec colours, legends outside the axes, honest image counts, spread bands,
per-image panels, published overlays and decoder-option envelopes."""

from __future__ import annotations

import json
import re

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from bench.analysis.envelope import envelope_curves
from bench.analysis.curves import image_rows, mean_curves
from bench.render.rd import per_image_figure, plot_per_image, plot_rd, rd_figures
from bench.render.style import codec_colours, curve_labels, marker_style
from bench.schema import METRIC_COLUMNS

ILC_MODE = json.dumps({"seed": 0, "temperature": 1.0, "z": "mode"})
ILC_HALF = json.dumps({"seed": 0, "temperature": 0.5, "z": "sample"})
ILC_ONE = json.dumps({"seed": 0, "temperature": 1.0, "z": "sample"})


def make_rows(curves: dict[tuple[str, str], list[str]], dataset: str = "kodak",
              rates: tuple[float, ...] = (10, 50, 90)) -> pd.DataFrame:
    """Synthetic successful rows: per (codec, decoder options), the given images at ``rates``;
    quality rises with rate and differs per image, codec and option, so means and spreads are known."""
    rows = []
    for c, ((codec, options), images) in enumerate(curves.items()):
        for i, image in enumerate(images):
            for rate in rates:
                row = {"dataset": dataset, "codec": codec, "decoder_options": options, "rate": rate, "image": f"{image}.png",
                       "image_sha256": image, "bpp": rate / 40 + 0.05 * i, "encode_s": 0.01, "decode_s": 0.01,
                       "error": None, "generation": 1, "chain": "", "params": "{}"}
                row.update({m: None for m in METRIC_COLUMNS})
                row["psnr_rgb"] = 25 + rate / 10 + i - c
                row["lpips"] = 0.5 - rate / 400 + 0.01 * i + 0.02 * c
                rows.append(row)
    return pd.DataFrame(rows)


def figures(rows: pd.DataFrame, **kwargs) -> dict[str, plt.Figure]:
    return dict(rd_figures(rows, **kwargs))


def curve_name(label: str) -> str:
    """A legend label without its image count: "jpeg (n=2)" → "jpeg", "ilc (best of 2 …, n=2)" → "ilc"."""
    return re.sub(r" \((?:best of [^()]*, )?n=[0-9–]+\)$", "", label)


def line_colours(fig: plt.Figure) -> dict[str, str]:
    ax = fig.axes[0]
    return {curve_name(line.get_label()): line.get_color() for line in ax.get_lines()
            if not line.get_label().startswith("_")}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_a_codec_drawn_once_is_labelled_by_its_name_alone():
    assert curve_labels([("ilc", ILC_MODE), ("jpeg", "{}")]) == {("ilc", ILC_MODE): "ilc", ("jpeg", "{}"): "jpeg"}


def test_only_the_options_that_differ_between_a_codecs_curves_are_shown():
    a, b = json.dumps({"scale": 0.0, "seed": 0}), json.dumps({"scale": 1.0, "seed": 0})
    labels = curve_labels([("probdec", a), ("probdec", b), ("webp", "{}")])
    assert labels == {("probdec", a): "probdec (scale=0.0)", ("probdec", b): "probdec (scale=1.0)", ("webp", "{}"): "webp"}


def test_the_mode_decoder_is_not_labelled_with_the_temperature_it_ignores():
    labels = curve_labels([("ilc", ILC_MODE), ("ilc", ILC_HALF), ("ilc", ILC_ONE)])
    assert labels == {("ilc", ILC_MODE): "ilc (z=mode)", ("ilc", ILC_HALF): "ilc (z=sample, temperature=0.5)",
                      ("ilc", ILC_ONE): "ilc (z=sample, temperature=1.0)"}


def test_a_curve_lacking_an_option_shows_nothing_for_it():
    a, b = json.dumps({"z": "mode"}), json.dumps({"z": "mode", "temperature": 0.5})
    assert curve_labels([("ilc", a), ("ilc", b)]) == {("ilc", a): "ilc", ("ilc", b): "ilc (temperature=0.5)"}
    c = json.dumps({"z": "sample", "temperature": 0.5})
    assert curve_labels([("ilc", a), ("ilc", c)]) == {("ilc", a): "ilc (z=mode)", ("ilc", c): "ilc (z=sample)"}


def test_colours_follow_the_configured_order_then_the_other_labels_sorted():
    colours = codec_colours(["zeta", "webp", "jpeg", "alpha", "published:vtm"], codec_order=["webp", "vtm", "jpeg"])
    assert list(colours)[:5] == ["webp", "vtm", "jpeg", "alpha", "zeta"]
    assert colours["published:vtm"] == colours["vtm"]
    assert len({colours[k] for k in ("webp", "vtm", "jpeg", "alpha", "zeta")}) == 5


def test_a_codec_keeps_its_colour_in_figures_of_different_codec_subsets():
    order = ["jpeg", "jpeg-444", "webp"]
    both = make_rows({("jpeg", "{}"): ["a", "b"], ("webp", "{}"): ["a", "b"]})
    alone = make_rows({("webp", "{}"): ["a", "b"]}, dataset="sample")
    first = line_colours(figures(both, metrics=("psnr_rgb",), codec_order=order)["kodak-psnr_rgb"])
    second = line_colours(figures(alone, metrics=("psnr_rgb",), codec_order=order)["sample-psnr_rgb"])
    assert first["webp"] == second["webp"] != first["jpeg"]


def test_variants_of_one_codec_share_its_colour_and_differ_in_style():
    rows = make_rows({("ilc", ILC_MODE): ["a", "b"], ("ilc", ILC_HALF): ["a", "b"], ("jpeg", "{}"): ["a", "b"]})
    drawn = figures(rows, metrics=("psnr_rgb",))
    main = [line.get_label() for line in drawn["kodak-psnr_rgb"].axes[0].get_lines()]
    assert sorted(main) == ["ilc (best of 2 decoder options, n=2)", "jpeg (n=2)"]  # the options go to their own figure
    jpeg = line_colours(drawn["kodak-psnr_rgb"])["jpeg"]
    ax = drawn["kodak-psnr_rgb-options"].axes[0]
    lines = {curve_name(line.get_label()): line for line in ax.get_lines()}
    mode, sample = lines["ilc (z=mode)"], lines["ilc (z=sample)"]
    assert mode.get_color() == sample.get_color() == line_colours(drawn["kodak-psnr_rgb"])["ilc"] != jpeg
    assert (mode.get_linestyle(), mode.get_marker()) != (sample.get_linestyle(), sample.get_marker())


def test_the_legend_lies_outside_the_axes_and_a_band_shows_the_spread():
    rows = make_rows({("jpeg", "{}"): ["a", "b", "c"], ("webp", "{}"): ["a", "b", "c"]})
    fig = figures(rows, metrics=("psnr_rgb",))["kodak-psnr_rgb"]
    fig.canvas.draw()
    ax = fig.axes[0]
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2
    assert "interquartile range" in ax.get_title(loc="left")
    unbanded = figures(rows, metrics=("psnr_rgb",), band="none")["kodak-psnr_rgb"].axes[0]
    assert not any(isinstance(c, PolyCollection) for c in unbanded.collections)


def test_the_title_claims_only_the_images_every_curve_has():
    rows = make_rows({("jpeg", "{}"): ["a"], ("webp", "{}"): ["a", "b", "c"]})
    ax = figures(rows, metrics=("psnr_rgb",), images="common")["kodak-psnr_rgb"].axes[0]
    assert "mean over 1 image every curve has" in ax.get_title(loc="left")
    assert not any(isinstance(c, PolyCollection) for c in ax.collections)  # one image: no spread to show


def test_own_images_puts_each_curves_count_in_the_legend():
    rows = make_rows({("jpeg", "{}"): ["a"], ("webp", "{}"): ["a", "b", "c"]})
    ax = figures(rows, metrics=("psnr_rgb",), images="own")["kodak-psnr_rgb"].axes[0]
    assert {line.get_label() for line in ax.get_lines()} == {"jpeg (n=1)", "webp (n=3)"}
    assert "n differs between curves" in ax.get_title(loc="left") and "mean over 1" not in ax.get_title(loc="left")


def test_a_single_rate_codec_is_a_large_star():
    assert marker_style(1)["markersize"] > 2 * marker_style(8)["markersize"]
    assert marker_style(1)["linestyle"] == "none" and marker_style(1)["marker"] == "*"


def test_plot_rd_writes_one_file_per_dataset_metric_and_format(tmp_path):
    rows = make_rows({("jpeg", "{}"): ["a", "b"]})
    rows["lpips"] = None
    written = plot_rd(rows, tmp_path, metrics=("psnr_rgb", "lpips"), formats=("png",))
    assert [p.name for p in written] == ["kodak-psnr_rgb.png"]  # no LPIPS values: no empty LPIPS plot
    assert written[0].stat().st_size > 1000


def test_per_image_draws_one_panel_per_image(tmp_path):
    rows = make_rows({("jpeg", "{}"): ["a", "b", "c", "d", "e"], ("webp", "{}"): ["a", "b", "c", "d", "e"]})
    fig = per_image_figure(image_rows(rows), "psnr_rgb", dataset="kodak", colours=codec_colours(["jpeg", "webp"]))
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert sorted(ax.get_title() for ax in panels) == ["a", "b", "c", "d", "e"]
    assert all(len(ax.get_lines()) == 2 for ax in panels) and len(fig.legends) == 1
    written = plot_per_image(rows, tmp_path, formats=("png",))
    assert [p.name for p in written] == ["kodak-psnr_rgb-per-image.png"]


def test_published_curves_are_dashed_in_their_codecs_colour_where_they_have_values():
    rows = make_rows({("vtm", "{}"): ["a", "b"], ("jpeg", "{}"): ["a", "b"]})
    published = pd.DataFrame({"dataset": ["kodak"] * 3, "codec": ["published:vtm"] * 3, "bpp": [0.2, 0.5, 1.0],
                              "psnr_rgb": [30.0, 33.0, 36.0], "ms_ssim_db": [float("nan")] * 3,
                              "label": ["VTM 8.2 (CompressAI)"] * 3, "n_images": [24] * 3})
    drawn = figures(rows, metrics=("psnr_rgb", "lpips"), published=published)
    lines = {curve_name(line.get_label()): line for line in drawn["kodak-psnr_rgb"].axes[0].get_lines()}
    overlay = lines["VTM 8.2 (CompressAI) (published, n=24)"]
    assert overlay.get_linestyle() == "--" and overlay.get_color() == lines["vtm"].get_color()
    assert ("measured over fewer images than the published means (24): jpeg, vtm"
            in drawn["kodak-psnr_rgb"].axes[0].get_title(loc="left"))
    assert not any("published" in l.get_label() for l in drawn["kodak-lpips"].axes[0].get_lines())


def test_the_envelope_takes_the_best_option_at_each_rate():
    rows = make_rows({("probdec", json.dumps({"scale": 0.0})): ["a", "b"],
                      ("probdec", json.dumps({"scale": 1.0})): ["a", "b"], ("jpeg", "{}"): ["a", "b"]})
    better_lpips = (rows["decoder_options"] == json.dumps({"scale": 1.0})) & (rows["rate"] == 90)
    rows.loc[better_lpips, "lpips"] = 0.01
    curves = mean_curves(rows)
    envelope = envelope_curves(curves, "lpips", higher_is_better=False)
    assert set(envelope["codec"]) == {"probdec"}  # a codec with one option set gets none
    assert envelope["decoder_options"].map(json.loads).tolist() == [{"envelope": "lpips"}] * 3
    assert envelope["best_options"].map(json.loads).map(lambda o: o["scale"]).tolist() == [0.0, 0.0, 1.0]
    assert envelope["lpips"].iloc[-1] == pytest.approx(0.01)
    psnr = envelope_curves(curves, "psnr_rgb", higher_is_better=True)
    assert psnr["best_options"].map(json.loads).map(lambda o: o["scale"]).tolist() == [0.0, 0.0, 0.0]
    ax = figures(rows, metrics=("lpips",), envelope=True)["kodak-lpips-options"].axes[0]
    assert "probdec (envelope over decoder options)" in [l.get_label() for l in ax.get_lines()]


def test_plot_command_narrows_rows_and_writes_per_image_panels(tmp_path):
    from pathlib import Path

    from typer.testing import CliRunner

    import bench.cli  # noqa: F401
    from bench.cli.app import app
    baseline = Path(__file__).resolve().parents[1] / "results" / "baseline" / "gate"
    (tmp_path / "none.toml").write_text("# no codec sections: colours follow the store's labels\n")
    args = ["plot", "--results", str(baseline), "--out", str(tmp_path), "--config", str(tmp_path / "none.toml"),
            "-m", "psnr_rgb"]
    result = CliRunner().invoke(app, [*args, "--codec", "webp", "--images", "own", "--band", "minmax", "--per-image",
                                      "--published", "published:vtm"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["sample-psnr_rgb-per-image.png", "sample-psnr_rgb.png"]
    result = CliRunner().invoke(app, [*args, "--band", "sideways"])
    assert result.exit_code == 2 and "--band 'sideways'" in result.output  # one line, no traceback
