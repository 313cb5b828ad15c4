"""`bench crops`: crops of stored points (kept bitstreams or re-encodes checked against the row's
SHA-256), rate-searched crops within tolerance, one-line errors for bad input; panel order, titles
that never overlap, framed off-target panels, progress, and the report finding the grids."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

from bench.render.crop_grid import Box, crop_grid, find_image, off_target_text, panel_order
from bench.errors import AnalysisError, ConfigError
from bench.render.crops import OFF_TARGET_COLOUR, Panel, crops_figure, crops_prefix, enlargement, wrap
from bench.render.report import crops_by_dataset
from bench.store import read_rows

runner = CliRunner()
RATES = "[10, 30, 50, 70, 90]"


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """One folder dataset of two 96×64 photos, run with JPEG and WebP into two stores: one
    keeping its bitstreams, one not."""
    from skimage import data

    root = tmp_path_factory.mktemp("crops")
    folder = root / "imgs"
    folder.mkdir()
    Image.fromarray(data.astronaut()[40:104, 180:276]).save(folder / "a.png")
    Image.fromarray(data.coffee()[100:164, 200:296]).save(folder / "b.png")
    config = root / "bench.toml"
    config.write_text(f'[run]\ncodecs = ["jpeg", "webp"]\nmetrics = ["psnr_rgb"]\njobs = 1\nresults = "store"\n'
                      f"[codecs.jpeg]\nrates = {RATES}\n[codecs.webp]\nrates = {RATES}\n")
    paths = {"folder": folder, "config": config}
    for name, flags in (("kept", ["--keep-bitstreams"]), ("plain", [])):
        store = root / name
        result = runner.invoke(app, ["run", "--config", str(config), "--dataset", str(folder),
                                     "--results", str(store), *flags])
        assert result.exit_code == 0, result.output
        paths[name] = store
    return paths


def grid(stores, store: str, tmp_path: Path, **kwargs):
    rows = read_rows(stores[store])
    ref = find_image("a", str(stores["folder"]))
    args = dict(codecs=None, target_bpp=2.0, search=False, tolerance=0.05, results_dir=stores[store],
                out_dir=tmp_path, metrics=None) | kwargs
    return crop_grid(rows, ref, Box(10, 8, 48, 32), **args)


def test_kept_bitstreams_give_one_panel_per_codec_plus_the_original(stores, tmp_path):
    result = grid(stores, "kept", tmp_path)
    assert result.panels == 3 and len(result.choices) == 2
    assert result.path == tmp_path / "crops-imgs-a-2.png" and result.path.is_file()
    assert list(result.choices["codec"]) == ["jpeg", "webp"]
    assert all("kept bitstream" in how for how in result.choices["chosen"])
    rows = read_rows(stores["kept"])
    mine = rows[(rows["image"] == "a.png") & (rows["codec"] == "jpeg")]
    nearest = mine.iloc[int(np.argmin(np.abs(mine["bpp"] - 2.0)))]
    assert result.choices.iloc[0]["bpp"] == nearest["bpp"]
    assert result.choices.iloc[0]["psnr_rgb"] == nearest["psnr_rgb"]
    with Image.open(result.path) as png:
        assert png.mode in ("RGB", "RGBA") and png.size[0] > 3 * 48 * 6  # crops enlarged ×7
        assert np.asarray(png.convert("RGB"))[0, 0].tolist() == [255, 255, 255]
    assert result.markdown().startswith("| codec | rate | bpp |") and result.markdown().count("\n") == 3


def test_without_kept_bitstreams_the_re_encode_reproduces_the_stored_bytes(stores, tmp_path):
    result = grid(stores, "plain", tmp_path)
    assert all("re-encoded, same bytes" in how for how in result.choices["chosen"])
    assert result.notes == []
    rows = read_rows(stores["plain"])
    rows.loc[rows["codec"] == "webp", "bitstream_sha256"] = hashlib.sha256(b"other").hexdigest()
    ref = find_image("a.png", str(stores["folder"]))
    tampered = crop_grid(rows, ref, Box(0, 0, 96, 64), ["webp"], 2.0, False, 0.05, stores["plain"], tmp_path)
    assert "other bytes" in tampered.choices.iloc[0]["chosen"]
    assert any("SHA-256 differs" in note for note in tampered.notes)


@pytest.mark.parametrize("target", [1.5, 3.0])
def test_target_bpp_search_lands_within_tolerance(stores, tmp_path, target):
    result = grid(stores, "plain", tmp_path, target_bpp=target, search=True)
    assert result.choices["within"].all(), result.notes
    assert (abs(result.choices["bpp"] / target - 1) <= 0.05).all()
    assert all(how.startswith("searched") for how in result.choices["chosen"])


def test_unreachable_target_is_shown_with_the_reason(stores, tmp_path):
    result = grid(stores, "plain", tmp_path, target_bpp=60.0, search=True, codecs=["jpeg"])
    assert not result.choices.iloc[0]["within"] and result.panels == 2
    assert any(n.startswith("jpeg: missed ±5% of 60 bpp") and "reachable range" in n for n in result.notes)


def test_cli_prints_the_table_and_writes_the_png(stores, tmp_path):
    result = runner.invoke(app, ["crops", "--image", "b", "--bpp", "1", "--box", "0,0,32,32", "--codec", "webp",
                                 "--results", str(stores["kept"]), "--config", str(stores["config"]),
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "| webp | quality=" in result.output and (tmp_path / "crops-imgs-b-1.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["--box", "90,0,32,32", "--bpp", "1"], "outside b.png, which is 96×64 pixels"),
    (["--box", "0,0,32", "--bpp", "1"], "write x,y,width,height"),
    (["--box", "0,0,32,32"], "exactly one of --bpp"),
    (["--box", "0,0,32,32", "--bpp", "1", "--codec", "avif"], "--codec avif: not in the store"),
])
def test_bad_input_is_a_one_line_error(stores, tmp_path, args, message):
    result = runner.invoke(app, ["crops", "--image", "b", "--results", str(stores["plain"]),
                                 "--config", str(stores["config"]), "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and message in result.output and len(result.output.strip().splitlines()) == 1


def test_image_errors_name_the_image(stores, tmp_path):
    with pytest.raises(ConfigError, match="--image kodim99: not in dataset"):
        find_image("kodim99", str(stores["folder"]))
    rows = read_rows(stores["plain"])
    ref = find_image("a", str(stores["folder"]))
    with pytest.raises(AnalysisError, match="no successful single-pass rows"):
        crop_grid(rows[rows["image"] != "a.png"], ref, Box(0, 0, 8, 8), None, 1.0, False, 0.05, None, tmp_path)
    changed = rows.copy()
    changed["image_sha256"] = "0" * 64
    with pytest.raises(AnalysisError, match="the file changed since the run"):
        crop_grid(changed, ref, Box(0, 0, 8, 8), None, 1.0, False, 0.05, None, tmp_path)


def choice(codec: str, learned: bool, options: str = "{}", bpp: float = 1.0):
    from bench.render.crop_grid import Choice

    return Choice(codec, options, "quality", 50, bpp, {}, "nearest stored", True, np.zeros((1, 1, 3), np.uint8), learned)


def test_panels_run_anchor_classical_learned_whatever_the_names():
    given = [choice("aaa-net", True), choice("avif", False), choice("ilc", True, '{"z":"mode"}'),
             choice("ilc", True, '{"z":"sample"}'), choice("jpeg", False), choice("webp", False)]
    order = [(c.codec, c.decoder_options) for c in panel_order(given, "jpeg")]
    assert order == [("jpeg", "{}"), ("avif", "{}"), ("webp", "{}"), ("aaa-net", "{}"),
                     ("ilc", '{"z":"mode"}'), ("ilc", '{"z":"sample"}')]
    assert [c.codec for c in panel_order(given, "webp")][:3] == ["webp", "avif", "jpeg"]


def test_learned_is_declared_by_the_codec_implementation():
    from bench.codec import Codec, codec_class, registered_names

    assert Codec.learned is False
    learned = {name for name in registered_names() if codec_class(name).learned}
    assert {"invcompress", "iat", "ilc", "probdec"} <= learned
    assert not learned & {"jpeg", "webp", "avif", "jpeg2000", "jpegxl", "bpg", "vtm"}


def test_anchor_goes_first_and_a_named_anchor_joins_the_codecs(stores, tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr("bench.render.crop_grid.render_crops", lambda panels, caption, out, stem: drawn.update(
        titles=[p.title for p in panels], caption=caption) or out / f"{stem}.png")
    result = grid(stores, "kept", tmp_path, anchor="webp")
    assert list(result.choices["codec"]) == ["webp", "jpeg"]
    assert drawn["titles"] == ["original", "webp (anchor)", "jpeg"]
    result = grid(stores, "kept", tmp_path, codecs=["webp"], anchor="jpeg")
    assert list(result.choices["codec"]) == ["jpeg", "webp"]
    with pytest.raises(AnalysisError, match="--anchor avif: no successful rows for a.png"):
        grid(stores, "kept", tmp_path, anchor="avif")


def test_a_panel_outside_the_tolerance_is_framed_and_says_its_offset(stores, tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr("bench.render.crop_grid.render_crops", lambda panels, caption, out, stem: drawn.update(
        panels=panels, caption=caption) or out / f"{stem}.png")
    result = grid(stores, "kept", tmp_path, target_bpp=1.0, tolerance=0.0001)
    off = [p.off_target for p in drawn["panels"][1:]]
    for text, bpp in zip(off, result.choices["bpp"]):
        assert text == off_target_text(bpp, 1.0) and text.endswith(" % off 1 bpp")
    assert not result.choices["within"].any() and "Framed in red: 2 panels" in drawn["caption"]
    assert off_target_text(1.155, 0.75) == "+54 % off 0.75 bpp" and off_target_text(0.5, 1) == "-50 % off 1 bpp"
    assert off_target_text(0.711, 0.75) == "-5.2 % off 0.75 bpp"
    inside = grid(stores, "kept", tmp_path, target_bpp=1.0, tolerance=10.0)
    assert inside.choices["within"].all() and not any(p.off_target for p in drawn["panels"])
    figure = crops_figure([Panel(np.zeros((40, 40, 3), np.uint8), "a"),
                           Panel(np.zeros((40, 40, 3), np.uint8), "b", ("1.155 bpp",), "+54 % off 0.75 bpp")], "c")
    frames = [p for p in figure.patches if isinstance(p, Rectangle)]
    assert len(frames) == 1 and to_hex(frames[0].get_edgecolor()) == OFF_TARGET_COLOUR
    assert "+54 % off 0.75 bpp" in [t.get_text() for t in figure.texts]


def test_titles_wrap_and_never_overlap_on_a_grid_of_many_long_labels():
    labels = ["original", "jpeg-444-subsampling-four-four-four (anchor)", "hevc-x265-heif z=sample, temperature=0.5, seed=0",
              "avif speed=6 pixelformat=444 quality=55", "averyveryverylongcodecnamewithoutanybreakcharacters",
              "jpegxl effort=7", "webp method=6 preset=photo", "probdec variance_factor=0.3, seed=0",
              "ilc z=sample, temperature=1.0, seed=0"]
    lines = ("0.812 bpp (+8.3%), quality=57", "PSNR RGB 31.24 dB, LPIPS 0.123", "searched · stored · kept bitstream")
    panels = [Panel(np.full((40, 30, 3), 128, np.uint8), t, lines, "+54 % off 0.75 bpp" if i % 3 == 0 else "")
              for i, t in enumerate(labels)]
    figure = crops_figure(panels, "caption " * 80)
    renderer = figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in figure.texts if t.get_text()]
    panel_px = 30 * enlargement(40, 30)
    assert len(boxes) > 9 * 4
    for i, a in enumerate(boxes):
        assert a.width <= panel_px + 1 or a.x0 < 1  # the caption spans the figure from its left edge
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    assert max(b.x1 for b in boxes) <= figure.bbox.width + 1


def test_wrap_breaks_long_words_at_their_joints():
    assert wrap("hevc-x265-heif", 10_000, 9) == ["hevc-x265-heif"]
    narrow = wrap("hevc-x265-heif z=sample", 60, 9, "bold")
    assert "".join(narrow).replace(" ", "") == "hevc-x265-heifz=sample" and len(narrow) > 1
    assert narrow[0].endswith("-")


def test_progress_reaches_the_callback_and_the_cli_stderr_only(stores, tmp_path, capsys):
    heard = []
    grid(stores, "kept", tmp_path, target_bpp=1.5, search=True, progress=lambda text, done: heard.append((text, done)))
    assert heard[0] == ("crops: jpeg: searching rate for 1.5 bpp on a", False) and heard[1][1]
    assert heard[1][0].endswith(")") and " bpp (quality=" in heard[1][0]
    assert [done for _, done in heard] == [False, True, False, True]
    assert capsys.readouterr() == ("", "")
    result = runner.invoke(app, ["crops", "--image", "b", "--bpp", "1", "--box", "0,0,32,32",
                                 "--results", str(stores["kept"]), "--config", str(stores["config"]),
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("crops: jpeg: decoding the stored point nearest 1 bpp on b ... ")
    assert lines[1].startswith("crops: webp: decoding the stored point nearest 1 bpp on b ... ")
    assert "crops:" not in result.stdout


def test_report_embeds_crops_of_a_folder_dataset_and_refuses_a_stray_one(stores, tmp_path):
    written = grid(stores, "kept", tmp_path).path
    assert written.name.startswith(crops_prefix(str(stores["folder"])))
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--results", str(stores["kept"]), "--config", str(stores["config"]),
                                 "--crops", str(written), "--resamples", "0", "--out", str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert f"alt='{written.stem}'" in html and "Visual comparison" in html
    stray = tmp_path / "crops-other-a-2.png"
    stray.write_bytes(written.read_bytes())
    result = runner.invoke(app, ["report", "--results", str(stores["kept"]), "--config", str(stores["config"]),
                                 "--crops", str(stray), "--resamples", "0", "--out", str(page)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"--crops {stray}: its name matches no dataset of this report" in result.output.replace("\n", "")


def test_crops_of_datasets_sharing_a_prefix_go_to_the_longest_match(tmp_path):
    grids = [Path("crops-kodak-kodim01-0.5.png"), Path("crops-kodak-crops-kodim01-0.5.png")]
    placed = crops_by_dataset(grids, ["kodak", "/data/kodak-crops"])
    assert placed == {"kodak": [grids[0]], "/data/kodak-crops": [grids[1]]}
    with pytest.raises(AnalysisError, match="share a name"):
        crops_by_dataset(grids[:1], ["/a/kodak", "/b/kodak"])
