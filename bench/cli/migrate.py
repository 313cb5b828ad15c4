"""``bench migrate DIR``: rekey a store written by an older schema version (nothing is re-measured)."""

from __future__ import annotations

from pathlib import Path

from bench import api
from bench.cli.app import app, call, console, path_argument, warn


@app.command("migrate")
def migrate_command(results: Path = path_argument("RESULTS", help="results store folder written by an older bench")) -> None:
    """Recompute the keys of rows from an older schema version, so they resume and analyse with this one."""
    done = call(api.migrate, results, on_note=warn)
    if not done.parts:
        console.print(f"{results}: every part is already at this schema version")
        return
    console.print(f"{results}: {done.rows} rows from {done.parts} old part(s) rekeyed into one part; "
                  f"{done.bitstreams} kept bitstream(s) renamed", highlight=False, soft_wrap=True)
