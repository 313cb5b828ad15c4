"""Configuration, the first stage of config -> plan -> execute -> store -> analysis -> render:
bench.toml and the command line's flags, validated once (``settings``); the defaults the command
line shows without loading anything heavy (``defaults``); the metric names (``metric_names``);
and what a row and a report record of the software and machine (``provenance``, ``environment``).
"""
