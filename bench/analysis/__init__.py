"""Analysis of stored rows: Bjøntegaard deltas, AUC, aggregation and baseline comparison.

Everything here reads rows (a DataFrame from the store) and never touches a codec.
"""

from bench.analysis.auc import auc
from bench.analysis.bd import BDError, bd_quality, bd_rate

__all__ = ["BDError", "auc", "bd_quality", "bd_rate"]
