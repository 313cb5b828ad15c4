"""Defaults of the analysis that the command line shows in its help: kept outside
``bench.analysis`` (whose package imports scipy) so ``bench --help`` prints them without
importing numpy, scipy or pandas."""

from __future__ import annotations

#: Bootstrap resamples, seed and interval level of BD intervals (``bench.analysis.bootstrap``).
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95
#: AUC interpolations (``bench.analysis.auc``) and the default one.
INTERPOLATIONS = ("cubic", "pchip", "linear")
DEFAULT_INTERPOLATION = "cubic"
#: Where tasks can run (``bench.execute.backends``): local loky processes or a Dask cluster.
BACKENDS = ("loky", "dask")
