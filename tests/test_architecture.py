"""The one-way flow: the core never imports a codec, and the docs show the real schema."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from bench.schema import markdown_table

REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_never_imports_a_codec():
    for path in (REPO / "bench").rglob("*.py"):
        offending = {m for m in imported_modules(path) if m.split(".")[0] in ("bench_codecs", "codecs")}
        assert not offending, f"{path.relative_to(REPO)} imports {offending}"


def test_readme_shows_the_current_schema():
    assert markdown_table() in (REPO / "README.md").read_text()


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme.split("\n## ")[0]
    assert (REPO / ".ci" / "run").read_text().strip().splitlines()[-1] == "make test"


def test_looking_up_one_codec_imports_only_that_codec():
    """Workers of a JPEG-only run must not pay for importing the learned codecs (torch, CompressAI)."""
    import subprocess
    import sys

    code = ("import sys; from bench.codec import codec_class; codec_class('jpeg'); "
            "print(sorted(m for m in sys.modules if m.startswith('bench_codecs')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['bench_codecs', 'bench_codecs.pillow_codecs']"


def test_loading_a_learned_codec_prints_no_torch_deprecation_notice():
    """Pool workers import the learned codecs without the CLI's set-up, so the notice that
    CompressAI's import causes must be silenced by the codec package itself."""
    result = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", "import bench_codecs.inn.iat"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-500:]
