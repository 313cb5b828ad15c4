"""Where and with what a row was produced: harness version, git commit, host, run id."""

from __future__ import annotations

import platform
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import bench


@dataclass(frozen=True)
class Provenance:
    run_id: str
    harness_version: str
    git_commit: str
    host: str

    def fields(self) -> dict[str, str]:
        return dict(self.__dict__)


@lru_cache(maxsize=1)
def git_commit() -> str:
    """HEAD of the harness checkout, '+dirty' if tracked files changed; 'unknown' outside git."""
    here = Path(bench.__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def new_provenance() -> Provenance:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Provenance(
        run_id=f"{stamp}-{uuid.uuid4().hex[:8]}",
        harness_version=bench.__version__,
        git_commit=git_commit(),
        host=platform.node(),
    )


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
