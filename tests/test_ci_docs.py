"""docs/ci.md's gate commands, run verbatim as a CI job would run them on the sample dataset.

The commands a user copies are the blocks fenced as ```bash ci-test; the GitHub and GitLab jobs
on the same page must contain each of their lines, so the jobs cannot drift from what is tested.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "ci.md"


def fenced(info: str) -> list[str]:
    """Bodies of the fenced blocks of docs/ci.md whose info string is exactly ``info``."""
    return re.findall(rf"^```{re.escape(info)}\n(.*?)^```$", DOC.read_text(), flags=re.MULTILINE | re.DOTALL)


def command_lines() -> list[str]:
    return [line.strip() for block in fenced("bash ci-test") for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_ci_commands_run_verbatim_as_a_job(tmp_path):
    blocks = fenced("bash ci-test")
    assert len(blocks) >= 2, "docs/ci.md lost its ```bash ci-test blocks"
    job = tmp_path / "checkout"
    (job / "benchmarks").mkdir(parents=True)
    shutil.copy(REPO / "benchmarks" / "gate.toml", job / "benchmarks" / "gate.toml")
    shutil.copytree(REPO / "results" / "baseline", job / "results" / "baseline")
    summary = tmp_path / "step-summary.md"
    summary.write_text("# earlier steps\n")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "BENCH_DATA_DIR": str(tmp_path / "datasets"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    script = "set -euo pipefail\n" + "\n".join(blocks)
    result = subprocess.run(["bash", "-c", script], cwd=job, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    verdict = json.loads((job / "compare.json").read_text())
    assert verdict["passed"] is True and verdict["failures"] == []
    assert {curve["label"] for curve in verdict["curves"]} == {"jpeg", "webp"}
    markdown = (job / "compare.md").read_text()
    assert "### bench compare: no regression" in markdown
    assert summary.read_text() == "# earlier steps\n" + markdown
    assert "| sample | jpeg |" in markdown
    assert (job / "report.html").stat().st_size > 0


def test_the_ci_jobs_contain_the_tested_commands():
    yaml = pytest.importorskip("yaml")
    commands = command_lines()
    github = yaml.safe_load(fenced("yaml github-actions")[0])
    steps = github["jobs"]["gate"]["steps"]
    github_lines = {line.strip() for step in steps for line in step.get("run", "").splitlines()}
    assert [c for c in commands if c not in github_lines] == []
    gitlab = yaml.safe_load(fenced("yaml gitlab-ci")[0])["bench-gate"]
    gitlab_lines = {line.strip() for key in ("before_script", "script", "after_script") for line in gitlab[key]}
    assert [c for c in commands if c not in gitlab_lines and "GITHUB_STEP_SUMMARY" not in c] == []
    assert gitlab["artifacts"]["when"] == "always"


def test_history_recipe_runs_verbatim_in_a_git_checkout(tmp_path):
    """docs/ci.md's ```bash history-ci blocks: run, record the checkout's commit, report it."""
    blocks = fenced("bash history-ci")
    assert blocks, "docs/ci.md lost its ```bash history-ci block"
    job = tmp_path / "checkout"
    (job / "benchmarks").mkdir(parents=True)
    shutil.copy(REPO / "benchmarks" / "gate.toml", job / "benchmarks" / "gate.toml")
    identity = {"GIT_AUTHOR_NAME": "ci", "GIT_AUTHOR_EMAIL": "ci@example.org", "GIT_COMMITTER_NAME": "ci",
                "GIT_COMMITTER_EMAIL": "ci@example.org"}
    env = {**os.environ, **identity, "BENCH_DATA_DIR": str(tmp_path / "datasets"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for args in (["init", "-q"], ["add", "benchmarks"], ["commit", "-q", "-m", "gate configuration"]):
        subprocess.run(["git", *args], cwd=job, env=env, check=True, capture_output=True)
    result = subprocess.run(["bash", "-c", "set -euo pipefail\n" + "\n".join(blocks)], cwd=job, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "recorded 10 rate points of" in result.stdout and "(gate configuration) on ci-runner" in result.stdout
    assert json.loads((job / "history-steps.json").read_text()) == {"schema": 1, "steps": [], "not_in_git": []}
    assert "<svg class='graph'" in (job / "history.html").read_text()
