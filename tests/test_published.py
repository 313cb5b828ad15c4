"""Published Kodak points: loader shape, names, spot checks against the sources, packaging."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.analysis import bd_rate
from bench.analysis.published import (COLUMNS, PREFIX, available, is_published, published_anchor,
                                      published_curves, published_datasets)
from bench.errors import AnalysisError

REPO = Path(__file__).resolve().parents[1]
SETS = ("compressai", "invcompress", "iat", "ilc")
SOURCE_FIELDS = ("source", "read", "caveats", "n_images")
IMAGES = {"kodak": 24, "clic2020-professional-valid": 41, "tecnick": 100}


def all_curves() -> pd.DataFrame:
    return published_curves(SETS)


def point(curves: pd.DataFrame, curve: str, rate: float) -> pd.Series:
    rows = curves[(curves["codec"] == PREFIX + curve) & (curves["rate"] == rate)]
    assert len(rows) == 1, (curve, rate)
    return rows.iloc[0]


def test_curves_have_the_mean_curve_columns_and_are_sorted_by_bpp():
    curves = all_curves()
    assert list(curves.columns) == COLUMNS
    assert (curves["decoder_options"] == "{}").all()
    assert curves["codec"].map(is_published).all()
    assert curves[["psnr_y", "lpips", "encode_s", "decode_s"]].isna().all().all()
    for _, curve in curves.groupby("codec"):
        assert curve["bpp"].is_monotonic_increasing
        assert (curve["n_points"] == len(curve)).all()
        assert curve["dataset"].nunique() == 1  # a curve id belongs to one dataset
        assert (curve["n_images"] == IMAGES[curve["dataset"].iloc[0]]).all()
    assert curves.equals(curves.sort_values(["dataset", "codec", "bpp"]).reset_index(drop=True))


@pytest.mark.parametrize("name", SETS)
def test_each_set_loads(name):
    curves = published_curves([name], dataset="kodak")
    assert not curves.empty and (curves["dataset"] == "kodak").all()


def test_every_curve_is_monotone():
    for codec, curve in all_curves().groupby("codec"):
        assert (np.diff(curve["bpp"]) > 0).all(), codec
        assert (np.diff(curve["psnr_rgb"]) > 0).all(), codec
        for column in ("ms_ssim", "ms_ssim_db"):
            values = curve[column].dropna()
            assert (np.diff(values) > 0).all(), (codec, column)


def test_names_resolve_to_sets_and_curves():
    compressai = ("vtm", "bpg", "jpeg", "bmshj2018-hyperprior", "mbt2018", "cheng2020-anchor")
    assert set(published_curves(["compressai"], dataset="kodak")["codec"]) == {PREFIX + c for c in compressai}
    assert set(published_curves(["compressai"], dataset="clic2020-professional-valid")["codec"]) == {
        PREFIX + c + "-clic" for c in compressai}
    assert set(published_curves(["invcompress"])["codec"]) == {
        "published:invcompress", "published:invcompress-clic", "published:invcompress-tecnick"}
    assert set(published_curves(["ilc"])["codec"]) == {"published:ilc", "published:ilc-baseline"}
    assert set(published_curves(["published:ilc"])["codec"]) == {"published:ilc"}
    assert published_curves(["vtm"]).equals(published_curves(["published:vtm"]))
    names = available()
    assert set(SETS) <= set(names) and "published:vtm" in names
    assert all(isinstance(text, str) and "\n" not in text for text in names.values())


def test_unknown_name_is_a_one_line_error_listing_what_exists():
    with pytest.raises(AnalysisError) as error:
        published_curves(["compressai", "vtm-13"])
    message = str(error.value)
    assert "\n" not in message and "'vtm-13'" in message and "published:vtm" in message
    with pytest.raises(AnalysisError, match="dataset 'clic'"):
        published_curves(["vtm"], dataset="clic")
    assert published_datasets() == ("clic2020-professional-valid", "kodak", "tecnick")


def test_anchor_is_one_curve():
    anchor = published_anchor("published:vtm")
    assert set(anchor["codec"]) == {"published:vtm"} and len(anchor) == 8
    with pytest.raises(AnalysisError, match="name one of them"):
        published_anchor("compressai")


def test_rate_is_the_codecs_parameter_or_the_bpp_order():
    curves = all_curves()
    assert list(curves.loc[curves["codec"] == "published:vtm", "rate"]) == [47, 42, 37, 32, 27, 22, 17, 12]
    assert list(curves.loc[curves["codec"] == "published:jpeg", "rate"]) == list(range(5, 96, 5))
    assert list(curves.loc[curves["codec"] == "published:iat", "rate"]) == list(range(1, 21))


def test_spot_checks_against_the_sources():
    """Values as printed in the sources named in SOURCES.md."""
    curves = all_curves()
    vtm = point(curves, "vtm", 37)  # CompressAI results/image/kodak/vtm.json
    assert round(vtm["bpp"], 4) == 0.2458 and round(vtm["psnr_rgb"], 2) == 31.20
    assert round(vtm["ms_ssim"], 4) == 0.9561
    bpg = point(curves, "bpg", 32)  # bpg_444_x265_ycbcr.json
    assert round(bpg["bpp"], 4) == 0.6847 and round(bpg["psnr_rgb"], 2) == 34.86
    jpeg = point(curves, "jpeg", 75)  # jpeg.json
    assert round(jpeg["bpp"], 4) == 1.3688 and round(jpeg["psnr_rgb"], 2) == 34.39
    inv = point(curves, "invcompress", 4)  # InvCompress results/kodak_mse.json, q4
    assert round(inv["bpp"], 4) == 0.2926 and round(inv["psnr_rgb"], 3) == 31.919
    assert round(inv["ms_ssim"], 4) == 0.9658
    iat = point(curves, "iat", 11)  # Cai et al. 2022, Table 2, first HIGH row
    assert (iat["bpp"], iat["psnr_rgb"], iat["ms_ssim_db"]) == (1.02433, 38.3226, 21.2580)
    assert np.isnan(iat["ms_ssim"])
    ilc = point(curves, "ilc", 4)  # Wang et al. 2020, Table III, ILC Q column, row 4
    assert (ilc["bpp"], ilc["psnr_rgb"]) == (0.6197, 33.4)


def test_clic_and_tecnick_spot_checks_against_the_sources():
    """CompressAI results/image/clic2020-professional/*.json @ 869a9f5, InvCompress results/*_mse.json @ 5ac94b3."""
    curves = published_curves(["compressai", "invcompress"])
    vtm = point(curves, "vtm-clic", 32)  # vtm.json, fourth point
    assert (vtm["bpp"], vtm["psnr_rgb"]) == (0.26650466002352563, 36.611257690121995)
    assert (vtm["dataset"], vtm["n_images"]) == ("clic2020-professional-valid", 41)
    bpg = point(curves, "bpg-clic", 47)
    assert (bpg["bpp"], bpg["psnr_rgb"], bpg["ms_ssim"]) == (0.04406167053227703, 29.37640736886428, 0.9150212876796723)
    inv = point(curves, "invcompress-clic", 1)
    assert (inv["bpp"], inv["psnr_rgb"]) == (0.07203977324678053, 29.59623646173013)
    tec = point(curves, "invcompress-tecnick", 8)
    assert (tec["bpp"], tec["psnr_rgb"], tec["n_images"]) == (0.7412455555555556, 39.05021961699284, 100)
    assert list(curves.loc[curves["codec"] == "published:jpeg-clic", "rate"]) == list(range(5, 96, 5))


def test_clic_anchor_and_sanity():
    """Within CompressAI's CLIC results BPG needs more bits than VTM; an anchor is one dataset's curve."""
    anchor = published_anchor("published:vtm-clic", dataset="clic2020-professional-valid")
    assert len(anchor) == 8 and set(anchor["dataset"]) == {"clic2020-professional-valid"}
    bpg = published_curves(["bpg-clic"])
    assert bd_rate(anchor["bpp"], anchor["psnr_rgb"], bpg["bpp"], bpg["psnr_rgb"]) > 0


def test_ms_ssim_db_is_derived_from_ms_ssim():
    curves = all_curves()
    has = curves["ms_ssim"].notna()
    assert np.allclose(curves.loc[has, "ms_ssim_db"], -10 * np.log10(1 - curves.loc[has, "ms_ssim"]))


def test_vtm_beats_bpg():
    """Sanity: VVC intra needs fewer bits than HEVC intra, so BPG's BD-rate against VTM is positive."""
    curves = published_curves(["vtm", "bpg"])
    vtm, bpg = (curves[curves["codec"] == PREFIX + c] for c in ("vtm", "bpg"))
    assert bd_rate(vtm["bpp"], vtm["psnr_rgb"], bpg["bpp"], bpg["psnr_rgb"]) > 0


def source_sections() -> dict[str, str]:
    text = resources.files("bench.published").joinpath("SOURCES.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\S+)\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_curve_has_a_complete_source_entry():
    sections = source_sections()
    curves = {codec[len(PREFIX):] for codec in all_curves()["codec"]}
    assert curves == set(sections)
    for curve, body in sections.items():
        for field in SOURCE_FIELDS:
            assert re.search(rf"^- \*\*{field}\*\*: \S", body, flags=re.MULTILINE), (curve, field)
        n_images = re.search(r"\*\*n_images\*\*: (\d+)", body)
        frame = published_curves([PREFIX + curve])
        assert (frame["n_images"] == int(n_images.group(1))).all(), curve


def packaged_files() -> list[tuple[Path, str]]:
    """(file, path in the wheel) for the ``bench`` packages, as pyproject's setuptools config lists
    them: every module of each listed package plus its package-data patterns."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    data = config.get("package-data", {})
    files = []
    for package in config["packages"]:
        if package.split(".")[0] != "bench":
            continue
        folder = REPO.joinpath(*package.split("."))
        patterns = ["*.py", *data.get(package, [])]
        for path in sorted(folder.iterdir()):
            if path.is_file() and any(fnmatch.fnmatch(path.name, p) for p in patterns):
                files.append((path, path.relative_to(REPO).as_posix()))
    return files


def test_data_ships_as_package_data_and_loads_from_an_installed_copy(tmp_path):
    """A zip of exactly what the wheel would hold for ``bench``, imported ahead of the source tree,
    finds the points through importlib.resources."""
    files = packaged_files()
    names = {name for _, name in files}
    assert {"bench/published/kodak.csv", "bench/published/SOURCES.md"} <= names
    archive = tmp_path / "bench.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path, name in files:
            handle.write(path, name)
    code = ("import bench.analysis.published as p; assert p.__file__.startswith(%r), p.__file__; "
            "print(len(p.published_curves(['compressai', 'invcompress', 'iat', 'ilc'])))" % str(archive))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(archive), "PATH": ""}, timeout=120)
    assert result.returncode == 0, result.stderr[-800:]
    assert int(result.stdout) == len(all_curves())


def test_a_published_curve_of_another_dataset_takes_its_codecs_colour():
    from bench.analysis.published import codec_of
    from bench.render.style import codec_colours

    assert codec_of("jpeg-clic") == "jpeg" and codec_of("invcompress-tecnick") == "invcompress"
    assert codec_of("vtm") == "vtm" and codec_of("ilc-baseline") == "ilc-baseline"  # a Kodak curve of its own
    colours = codec_colours(["jpeg", "published:jpeg-clic", "published:vtm-clic", "published:vtm"], ["jpeg"])
    assert colours["published:jpeg-clic"] == colours["jpeg"] != colours["published:vtm-clic"] == colours["published:vtm"]
