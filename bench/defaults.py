"""Defaults of the analysis that the command line shows in its help: kept apart from the
numerical modules so ``bench --help`` need not import numpy, scipy or pandas to print them."""

from __future__ import annotations

#: Bootstrap resamples, seed and interval level of BD intervals (``bench.analysis.bootstrap``).
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95
#: AUC interpolations (``bench.analysis.auc``) and the default one.
INTERPOLATIONS = ("cubic", "pchip", "linear")
DEFAULT_INTERPOLATION = "cubic"
