"""Commits as git knows them: a commit's identity (hash, date, subject) and the order of history.

Regression tracking orders its records by ancestry, not by when they were appended: a CI job
that reruns an old build, or two jobs that finish out of order, must not reorder the history.
Every question goes to ``git`` itself in the repository the user names.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.errors import ConfigError, one_line


@dataclass(frozen=True)
class Commit:
    """One commit: full hash, committer date (timezone-aware) and subject line."""

    sha: str
    date: datetime
    subject: str


def _git(repo: Path, *args: str) -> str:
    """stdout of ``git -C repo ARGS``; a missing git or a failing command is one line."""
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"{repo}: git cannot run ({one_line(exc)}); install git or pass --repo") from None
    if result.returncode != 0:
        raise ConfigError(f"{repo}: git {' '.join(args)} failed ({one_line(result.stderr, keep='end')}); "
                          "pass --repo with the checkout and --commit with a commit it has")
    return result.stdout


def commit_info(repo: Path, revision: str = "HEAD") -> Commit:
    """The commit ``revision`` names in ``repo`` (a branch, a tag, a hash, ``HEAD``)."""
    sha, date, subject = _git(repo, "show", "-s", "--format=%H%x00%cI%x00%s", f"{revision}^{{commit}}", "--").rstrip("\n").split("\0", 2)
    return Commit(sha, datetime.fromisoformat(date), subject)


def ancestry(repo: Path, revision: str = "HEAD") -> list[str]:
    """Every commit reachable from ``revision``, oldest first, parents before children
    (``git rev-list --topo-order``): the order a history of that branch is drawn in."""
    return _git(repo, "rev-list", "--topo-order", "--reverse", revision, "--").split()
