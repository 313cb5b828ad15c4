"""A built wheel (not an editable install) runs a learned codec: the demo weights ship.

The wheel is built offline from a copy of the sources (``pip wheel --no-build-isolation``, so
the setuptools already installed here builds it) and installed into a fresh venv that sees this
environment's dependencies through a path entry, but neither the source tree nor the editable
install (its ``.pth`` hook is not run for a plain path entry).
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "bench", "codecs", "datasets")


def run(*command: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, str]:
    """A venv holding only the bench wheel, with this environment's packages on its path; and
    the build's output."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(REPO / name, source / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", root / "dist", source,
                cwd=root, env=env)
    wheels = list((root / "dist").glob("bench-*.whl"))
    if built.returncode != 0 or not wheels:
        pytest.skip(f"cannot build the wheel offline here: {built.stderr.strip().splitlines()[-1:] or built.returncode}")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root, env=env).check_returncode()
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheels[0],
        cwd=root, env=env).check_returncode()
    venv_site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root,
                         env=env).stdout.strip())
    (venv_site / "project-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv, built.stdout + built.stderr


def test_the_wheel_builds_without_setuptools_warnings(installed):
    # e.g. the deprecated license table, or a data folder missing from `packages`
    assert "Warning" not in installed[1], installed[1]


@pytest.mark.slow
def test_the_wheel_holds_the_weights_and_runs_a_learned_codec(installed, tmp_path):
    installed = installed[0]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = run(installed / "bin" / "python", "-c", "import bench, bench_codecs.inn.codec as c; "
                "print(bench.__file__); print(sorted(p.name for p in c.WEIGHTS.glob('*.pt')))", cwd=tmp_path, env=env)
    module, weights = where.stdout.splitlines()
    assert Path(module).is_relative_to(installed), module
    assert "invcompress-lambda0.0130-1118steps.pt" in weights
    version = run(installed / "bin" / "bench", "--version", cwd=tmp_path, env=env)
    assert version.returncode == 0 and version.stdout.startswith("bench ")
    result = run(installed / "bin" / "bench", "run", "--dataset", "sample", "--codec", "invcompress", "--limit", "1",
                 "--metric", "psnr_rgb", "--results", tmp_path / "store", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "invcompress" in result.stdout and list((tmp_path / "store").glob("*.parquet"))
