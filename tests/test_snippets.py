"""Every Python snippet of the README and docs/ runs verbatim, in the order a reader meets it,
in a working folder that holds a bench.toml and the committed gate baseline, as a user's would.
The README's API snippet runs twice: a second call finds its rows stored and must still describe
them (``summary.per_codec``)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
CONFIG = """[run]
datasets = ["sample"]
metrics = ["psnr_rgb", "ms_ssim"]
jobs = 1
results = "results/parts"

[codecs.jpeg]
rates = [20, 40, 60, 80, 90]

[codecs.webp]
rates = [20, 40, 60, 80, 90]
"""


def snippets() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text[:match.start()].count("\n") + 1
            found.append((page.relative_to(REPO).as_posix(), line, match.group(1)))
    return found


def test_the_pages_have_python_snippets():
    assert {page for page, _, _ in snippets()} >= {"README.md", "docs/published.md"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """One working folder for every snippet, so a later one reads what an earlier one stored."""
    folder = tmp_path_factory.mktemp("reader")
    (folder / "bench.toml").write_text(CONFIG)
    shutil.copytree(REPO / "results" / "baseline", folder / "results" / "baseline")
    from bench import api

    # matched-rate rows for docs/matched-rate.md's table snippet
    api.run(config=folder / "bench.toml", results=folder / "results" / "parts", codecs=["jpeg"], target_bpp=0.5,
            limit=1)
    return folder


@pytest.mark.parametrize("page,line,code", snippets(), ids=[f"{p}:{n}" for p, n, _ in snippets()])
def test_snippet_runs_verbatim(page, line, code, workdir, monkeypatch, kodak_dir):
    monkeypatch.chdir(workdir)
    runs = 2 if "api.run(" in code else 1
    for _ in range(runs):
        namespace: dict = {"__name__": "__snippet__"}
        exec(compile(code, f"{page}:{line}", "exec"), namespace)  # noqa: S102 - the docs' own code
    if "api.run(" in code:
        summary = namespace["summary"]
        assert summary.written == 0 and summary.per_codec["webp"].stored > 0
        assert summary.per_codec["webp"].mean_bpp > 0
