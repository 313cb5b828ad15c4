"""Regression tracking over commits: a git repository of six commits, a real store per commit.

One real run (JPEG and WebP on two Kodak images, four qualities) is measured once; each commit's
store is derived from it: from the fourth commit on, WebP's bytes and bpp are 5 % larger at equal
quality, and every commit's timings carry a few percent of noise, as a shared CI machine gives.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import bench.cli  # noqa: F401
from bench.cli.app import app
from bench.store import Store, read_rows
from tests.conftest import DATA_DIR, kodak_folder

runner = CliRunner()
COMMITS = 6
REGRESSION = 3  # index of the fourth commit


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout.strip()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """(repo, commit hashes oldest first, store per commit)."""
    root = tmp_path_factory.mktemp("history")
    kodak_folder()  # skips when the Kodak copies are not there
    config = root / "bench.toml"
    config.write_text('[run]\ncodecs = ["jpeg", "webp"]\nmetrics = ["psnr_rgb"]\njobs = 1\n'
                      '[codecs.jpeg]\nrates = [30, 50, 70, 90]\n[codecs.webp]\nrates = [30, 50, 70, 90]\n')
    measured = root / "measured"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BENCH_DATA_DIR", str(DATA_DIR))
        result = invoke("run", "--config", config, "--dataset", "kodak", "--image", "kodim05.png", "--image", "kodim23.png",
                        "--results", measured)
    assert result.exit_code == 0, result.output
    rows = read_rows(measured)
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    rng = np.random.default_rng(0)
    shas, stores = [], []
    for i in range(COMMITS):
        git(repo, "commit", "-q", "--allow-empty", "-m", f"change {i + 1}")
        shas.append(git(repo, "rev-parse", "HEAD"))
        derived = rows.copy()
        if i >= REGRESSION:
            webp = derived["codec"] == "webp"
            derived.loc[webp, "bpp"] *= 1.05
            derived.loc[webp, "bytes"] = (derived.loc[webp, "bytes"] * 1.05).round().astype("int64")
        for column in ("encode_s", "decode_s"):
            derived[column] *= 1 + 0.03 * rng.uniform(-1, 1, len(derived))
        stores.append(root / f"store-{i + 1}")
        Store(stores[-1]).write(derived.to_dict(orient="records"))
    return repo, shas, stores


def record(history: Path, repo: Path, shas: list[str], stores: list[Path], order: list[int]) -> None:
    for i in order:
        result = invoke("history", "append", "--results", stores[i], "--history", history, "--repo", repo,
                        "--commit", shas[i], "--machine", "ci-runner")
        assert result.exit_code == 0, result.output


def report(history: Path, repo: Path, out: Path) -> tuple[dict, str]:
    result = invoke("history", "report", "--history", history, "--repo", repo, "--out", out.with_suffix(".html"),
                    "--json", out.with_suffix(".json"))
    assert result.exit_code == 0, result.output
    return json.loads(out.with_suffix(".json").read_text()), result.output


def test_one_worse_step_for_webp_at_the_fourth_commit_whatever_the_append_order(project, tmp_path):
    repo, shas, stores = project
    record(tmp_path / "in-order", repo, shas, stores, list(range(COMMITS)))
    steps, output = report(tmp_path / "in-order", repo, tmp_path / "a")
    assert [(s["curve"], s["metric"], s["commit_before"], s["commit_after"], s["worse"]) for s in steps["steps"]] == \
        [("webp", "bd_rate_psnr_rgb", shas[REGRESSION - 1], shas[REGRESSION], True)]
    assert steps["steps"][0]["dataset"] == "kodak" and steps["steps"][0]["change"] == pytest.approx(5.0, abs=1e-6)
    assert steps["not_in_git"] == [] and f"worse: webp on kodak (ci-runner), bd_rate_psnr_rgb" in output

    shuffled = tmp_path / "shuffled"
    record(shuffled, repo, shas, stores, [4, 0, 5, 3, 1, 2, 3, 0])
    again = invoke("history", "append", "--results", stores[2], "--history", shuffled, "--repo", repo,
                   "--commit", shas[2], "--machine", "ci-runner")
    assert again.exit_code == 0 and again.output.startswith(f"replaced 8 rate points of {shas[2][:10]} (change 3)")
    assert len(list(shuffled.glob("*.parquet"))) == COMMITS
    assert report(shuffled, repo, tmp_path / "b")[0] == steps


def test_a_commit_git_does_not_know_is_kept_and_said_so(project, tmp_path):
    repo, shas, stores = project
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "commit", "-q", "--allow-empty", "-m", "abandoned")
    abandoned = git(clone, "rev-parse", "HEAD")
    history = tmp_path / "h"
    record(history, repo, shas, stores, list(range(COMMITS)))
    result = invoke("history", "append", "--results", stores[0], "--history", history, "--repo", clone,
                    "--commit", abandoned, "--machine", "ci-runner")
    assert result.exit_code == 0, result.output
    steps, output = report(history, repo, tmp_path / "r")
    assert steps["not_in_git"] == [abandoned] and f"not in the git history of HEAD: {abandoned[:10]}" in output
    assert len(steps["steps"]) == 1
    assert "(not in git history) abandoned" in (tmp_path / "r.html").read_text()


def test_a_damaged_history_or_the_old_file_is_one_line(project, tmp_path):
    repo, shas, stores = project
    history = tmp_path / "h"
    record(history, repo, shas, stores, [0])
    (history / "commit-0-0.parquet").write_text("not parquet\n")
    result = invoke("history", "report", "--history", history, "--repo", repo, "--out", tmp_path / "r.html")
    assert result.exit_code == 2 and "commit-0-0.parquet: not a readable parquet file" in result.output
    assert len(result.output.strip().splitlines()) == 1
    old = tmp_path / "history.jsonl"
    old.write_text('{"git_commit": "abc", "codec": "jpeg"}\n')
    result = invoke("history", "report", "--history", old, "--repo", repo, "--out", tmp_path / "r.html")
    assert result.exit_code == 2 and "history.jsonl: a file, not a history folder (a history.jsonl" in result.output
    result = invoke("history", "append", "--results", stores[0], "--history", history, "--repo", tmp_path)
    assert result.exit_code == 2 and "git rev-parse" not in result.output and "pass --repo" in result.output


def test_the_dashboard_in_a_browser(project, tmp_path):
    """Every curve's graphs render, a point's tooltip names its commit, and the step is marked."""
    sync_playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").sync_playwright
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    repo, shas, stores = project
    record(tmp_path / "h", repo, shas, stores, list(range(COMMITS)))
    report(tmp_path / "h", repo, tmp_path / "dash")
    messages: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(offline=True, viewport={"width": 1280, "height": 900}).new_page()
        page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
        page.goto((tmp_path / "dash.html").as_uri())
        sizes = page.eval_on_selector_all("svg.graph", "svgs => svgs.map(s => s.getBoundingClientRect().width)")
        tooltips = page.eval_on_selector_all("rect.commit title", "ts => ts.map(t => t.textContent)")
        marked = page.eval_on_selector_all("line.step title", "ts => ts.map(t => t.textContent)")
        page.screenshot(path=str(tmp_path / "history.png"), full_page=True)
        browser.close()
    assert len(sizes) == 2 * 5 and all(width > 300 for width in sizes)
    assert any(text.startswith(f"{shas[REGRESSION][:10]} change {REGRESSION + 1}") for text in tooltips)
    assert marked == [f"worse: 0 → 5 between {shas[REGRESSION - 1][:10]} and {shas[REGRESSION][:10]}"]
    assert not [m for m in messages if m.startswith(("error", "pageerror", "warning"))], messages
