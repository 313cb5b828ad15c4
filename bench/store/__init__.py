"""The append-only parquet store of result rows, as a package of four small modules:

* ``parts``: one part file (atomic write: temporary file, fsync, rename; checked read);
* ``folder``: the store folder (``Store``: append, read deduplicated, compact, temporaries);
* ``writer``: buffered writing during a run, and recovery of rows a full disk could not take;
* ``lock``: ``<store>/.lock``, one writer at a time (run, measure, drift, migrate, compact).

A killed run (even ``kill -9``) leaves only complete parts; resuming never rewrites anything.
Everything callers use is importable from ``bench.store`` itself.
"""

from bench.store.folder import Store, read_rows
from bench.store.lock import LOCK_NAME, StoreInUse, StoreLock
from bench.store.parts import PART_GLOB, TMP_PREFIX, StoreWriteError, read_part, rows_to_table, write_file
from bench.store.writer import BufferedWriter, save_recovery

__all__ = ["BufferedWriter", "LOCK_NAME", "PART_GLOB", "Store", "StoreInUse", "StoreLock", "StoreWriteError", "TMP_PREFIX",
           "read_part", "read_rows", "rows_to_table", "save_recovery", "write_file"]
