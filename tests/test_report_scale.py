"""A report of many images stays small: no per-image panels beyond ``PANEL_IMAGES`` images, and
per-image tables beyond ``INLINE_ROWS`` rows written as CSV beside the page and linked."""

from __future__ import annotations

import pandas as pd

from bench.analysis.paper import TableSettings
from bench.render import report
from test_paper_tables import curve_rows


def rows() -> pd.DataFrame:
    images = [f"k{i}" for i in range(6)]
    frame = pd.DataFrame(curve_rows("kodak", "jpeg", images) + curve_rows("kodak", "webp", images, gain=1.0, spread=0.5))
    return frame.assign(codec_version="1", harness_version="0.1.0", git_commit="abc", host="h", device="cpu")


def test_many_images_get_no_panels_and_their_tables_as_linked_files(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "PANEL_IMAGES", 4)
    monkeypatch.setattr(report, "INLINE_ROWS", 20)
    files = tmp_path / "report-files"
    settings = report.ReportSettings(tables=TableSettings(resamples=0, metrics=("psnr_rgb",)), files=files)
    page = report.render_report(rows(), settings)
    assert "alt='kodak-psnr_rgb-per-image'" not in page and "alt='kodak-psnr_rgb'" in page
    assert "No per-image panels: 6 images, more than the 4 drawn" in page
    points = pd.read_csv(files / "kodak-rd-points-per-image.csv")
    assert len(points) == 60 and "href='report-files/kodak-rd-points-per-image.csv'" in page
    assert "<summary>Per-image BD against jpeg" in page  # 12 rows: still inline
    assert not (files / "kodak-bd-psnr_rgb-per-image.csv").exists()

