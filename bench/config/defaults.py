"""Defaults of the analysis that the command line shows in its help: kept outside
``bench.analysis`` (whose package imports scipy) so ``bench --help`` prints them without
importing numpy, scipy or pandas."""

from __future__ import annotations

#: Bootstrap resamples, seed and interval level of BD intervals (``bench.analysis.bootstrap``).
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95
#: Most bootstrap resamples a command may ask for: more is a typo that would run for hours.
MAX_RESAMPLES = 1_000_000
#: AUC interpolations (``bench.analysis.auc``) and the default one.
INTERPOLATIONS = ("cubic", "pchip", "linear")
DEFAULT_INTERPOLATION = "cubic"
#: Where tasks can run (``bench.execute.backends``): local loky processes or a Dask cluster.
BACKENDS = ("loky", "dask")
#: BD interpolations (``bench.analysis.bd``): PCHIP (JVET CTC) or cubic (VCEG-M33).
BD_METHODS = ("pchip", "cubic")
#: BD of the dataset-mean curves, or the mean of per-image BDs (``bench.analysis.aggregate``).
BD_MODES = ("mean-curve", "per-image")
#: Images each mean is taken over: each curve's own, or those every curve has (``bench.analysis.curves``).
IMAGE_SETS = ("own", "common")
#: Spread bands around mean curves (``bench.render.rd``).
BANDS = ("iqr", "minmax", "none")
#: Fidelity axes of ``bench sweep-plot`` (``bench.render.sweep``).
FIDELITIES = ("psnr_rgb", "mse")
