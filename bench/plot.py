"""Former home of the RD plots, kept as an import path for callers not yet moved to
:mod:`bench.render.rd` (the HTML report); new code imports from there."""

from bench.render.rd import DEFAULT_METRICS, plot_rd

__all__ = ["DEFAULT_METRICS", "plot_rd"]
