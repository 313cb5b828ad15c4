"""Execution: the run from start to end (``runner``), the driver that hands units of work to
workers and streams rows to the store (``driver``, ``backends``, ``memory_budget``), the worker
side that encodes, decodes and measures (``worker``), what a run did (``summary``), and the work
built on the same steps: drift studies (``drift``), metrics from kept bitstreams (``remeasure``)
and rekeying an older store (``migrate``).
"""
