"""Paths as a user writes them: in bench.toml, in flags, as a dataset folder.

A shell expands ``~`` and ``$HOME`` before bench sees an argument, but not inside bench.toml,
not after ``--results=``, and not inside quotes; there ``~/runs`` would become a folder named
``~`` in the working directory, and results would land somewhere nobody looks. One function,
used by the configuration and by every path option of the command line, expands a leading
``~`` as the shell does and refuses environment variables outright: expanding them would make
a study's bench.toml mean different folders for different users.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.errors import ConfigError

#: ``$NAME`` or ``${…}``: what a shell would substitute. A ``$`` before anything else is a
#: character of the name.
ENVIRONMENT_VARIABLE = re.compile(r"\$(\{|[A-Za-z_])")


def user_path(value: str | Path, where: str | None = None) -> Path:
    """``value`` as a Path, a leading ``~`` or ``~user`` expanded; ConfigError (one line naming
    ``where``, else the path) for an environment variable or a ``~user`` that names no user."""
    text = str(value)
    where = where or text
    if ENVIRONMENT_VARIABLE.search(text):
        raise ConfigError(f"{where}: bench does not expand environment variables: write the path out")
    path = Path(text)
    if not text.startswith("~"):
        return path
    try:
        return path.expanduser()
    except RuntimeError:
        user = text[1:].split("/", 1)[0]
        if not user:
            raise ConfigError(f"{where}: no home folder to expand ~ for (HOME is not set); write the path out") from None
        raise ConfigError(f"{where}: no user {user!r} on this machine to expand ~{user} for; write the path out") from None
