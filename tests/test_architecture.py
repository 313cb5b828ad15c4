"""The one-way flow: the core never imports a codec, the command line goes through bench.api and
imports only what a command uses, and the docs show the real schema."""

from __future__ import annotations

import ast
import hashlib
import math
import subprocess
import sys
from datetime import datetime, timezone
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
    result = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c",
                             "import bench_codecs.inn.iat, bench_codecs.compressai_codecs.codec"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-500:]


#: What a module of bench/cli may import of bench: the API, the CLI's own modules, the errors.
CLI_MAY_IMPORT = ("bench.api", "bench.cli", "bench.errors")


def bench_imports(path: Path) -> set[str]:
    """Every bench module ``path`` imports, at the top or inside a function
    (``from bench import api`` counts as ``bench.api``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "bench":
                names.update(f"bench.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return {name for name in names if name == "bench" or name.startswith("bench.")}


def test_the_cli_goes_through_bench_api_only():
    """The command line parses and prints; everything it runs is a function of bench.api."""
    paths = sorted((REPO / "bench" / "cli").glob("*.py"))
    assert len(paths) > 10
    for path in paths:
        offending = {name for name in bench_imports(path)
                     if not any(name == allowed or name.startswith(allowed + ".") for allowed in CLI_MAY_IMPORT)}
        assert not offending, f"{path.relative_to(REPO)} imports {sorted(offending)}; go through bench.api"


def test_the_api_states_the_limits_the_core_enforces():
    """bench.api repeats a limit of the core so that --help need not import it; they must agree."""
    from bench import api
    from bench.config import settings as config

    assert api.MAX_GENERATIONS == config.MAX_GENERATIONS


def loaded_after(args: list[str], cwd: Path) -> set[str]:
    """Which of torch, matplotlib, pandas and scipy are in sys.modules after ``bench ARGS`` ran."""
    code = ("import sys; sys.argv = ['bench', *sys.argv[1:]]\n"
            "from bench.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print(' '.join(m for m in ('torch', 'matplotlib', 'pandas', 'scipy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    assert result.returncode == 0, result.stderr[-800:]
    return set(result.stdout.strip().splitlines()[-1].split())


def synthetic_store(root: Path) -> Path:
    """Two codecs × four images × five rates, PSNR = 30 + 10·log10(bpp) + offsets: enough for a table."""
    from bench.schema import METRIC_COLUMNS
    from bench.store import Store

    rows = []
    for gain, codec in ((0.0, "jpeg"), (0.8, "webp")):
        for i in range(4):
            for rate in (10, 30, 50, 70, 90):
                bpp = rate / 50 * (1 + 0.05 * i)
                row = dict.fromkeys(METRIC_COLUMNS)
                row.update(key=hashlib.sha256(f"{codec}-{i}-{rate}".encode()).hexdigest(), dataset="d", codec=codec,
                           codec_impl=codec, decoder_options="{}", created_utc=datetime(2026, 1, 1, tzinfo=timezone.utc),
                           rate=float(rate), image=f"i{i}.png", image_sha256=f"{i}", bpp=bpp,
                           psnr_rgb=30 + 10 * math.log10(bpp) + gain + 0.3 * i, encode_s=0.01, decode_s=0.01,
                           error=None, generation=1, chain="", params="{}")
                rows.append(row)
    Store(root).write(rows)
    return root


def test_help_and_table_do_not_import_what_they_do_not_use(tmp_path):
    """`bench --help` loads no torch, matplotlib, pandas, numpy or scipy; `bench table` no torch
    (and, since it draws nothing, no matplotlib): the command line answers at once."""
    assert not loaded_after(["--help"], tmp_path) & {"torch", "matplotlib", "pandas", "numpy", "scipy"}
    store = synthetic_store(tmp_path / "store")
    (tmp_path / "bench.toml").write_text('[run]\ncodecs = ["jpeg", "webp", "iat"]\n[codecs.iat]\nrates = [0.5]\n')
    loaded = loaded_after(["table", "--results", str(store), "--out", str(tmp_path / "t"), "--resamples", "20"], tmp_path)
    assert "pandas" in loaded  # the command ran
    assert not loaded & {"torch", "matplotlib"}


def test_a_classical_run_does_not_import_torch_in_the_process_that_writes_the_store(tmp_path):
    """The driver of a two-worker JPEG run plans and writes rows; only its workers measure, so
    torch (about 2 s before the first worker starts) stays out of it."""
    images = tmp_path / "images"
    images.mkdir()
    import numpy as np
    from PIL import Image
    for i in range(2):  # MS-SSIM needs 161×161 pixels at least
        pixels = np.random.default_rng(i).integers(0, 256, (170, 170, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"i{i}.png")
    loaded = loaded_after(["run", "--dataset", str(images), "--codec", "jpeg", "--metric", "psnr_rgb",
                           "--metric", "ms_ssim", "--jobs", "2", "--results", str(tmp_path / "r")], tmp_path)
    assert (tmp_path / "r").is_dir()  # the run wrote its store
    assert "torch" not in loaded


def test_codecs_datasets_and_trainers_are_found_through_one_registry():
    """Only bench.registry reads entry points: one place decides how a plugin is found."""
    def reads_entry_points(path: Path) -> bool:
        return any(isinstance(node, ast.ImportFrom) and node.module == "importlib.metadata"
                   and "entry_points" in {alias.name for alias in node.names}
                   for node in ast.walk(ast.parse(path.read_text())))

    readers = {str(path.relative_to(REPO)) for path in (REPO / "bench").rglob("*.py") if reads_entry_points(path)}
    assert readers == {"bench/registry.py"}
    from bench import registry

    assert {"jpeg", "webp", "iat"} <= set(registry.names("codec"))
    assert {"kodak", "sample"} <= set(registry.names("dataset"))
    assert "invcompress" in registry.names("trainer") and registry.load("trainer", "no such") is None


#: The folders of bench/ in the order work flows through them, root modules (the contracts every
#: stage shares) first. A module may import from its own folder and from folders of lower rank
#: only, so the dependencies form layers and no stage reaches back into a later one.
RANKS = {"errors": 0, "registry": 0, "published": 0, "outputs": 0, "labels": 0, "codec": 1, "schema": 1, "config": 2, "metrics": 3, "plan": 3, "store": 3,
         "execute": 4, "analysis": 5, "render": 6, "api": 7, "cli": 8, "__main__": 9}


def imported_bench_parts(path: Path) -> set[str]:
    """The first part below ``bench`` of every bench module ``path`` imports (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bench" and not node.level:
            parts = node.module.split(".")
            found |= {alias.name for alias in node.names} if len(parts) == 1 else {parts[1]}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("bench.")}
    return found


def test_the_folders_read_as_the_flow_and_no_import_points_back():
    bench = REPO / "bench"
    assert {p.name for p in bench.iterdir() if p.is_dir() and p.name not in ("__pycache__", "published")} == \
        {"config", "plan", "execute", "store", "analysis", "render", "metrics", "cli"}
    problems = []
    for path in bench.rglob("*.py"):
        parts = path.relative_to(bench).parts
        own = parts[0] if len(parts) > 1 else path.stem
        if own == "__init__":
            continue
        assert own in RANKS, f"{path}: a folder or root module of unknown rank; add it to RANKS"
        for target in imported_bench_parts(path) - {own, "__version__"}:
            if RANKS.get(target, -1) >= RANKS[own]:
                problems.append(f"{path.relative_to(REPO)} imports bench.{target}")
    assert not problems, problems
