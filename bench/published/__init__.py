"""Read-only data: published rate–distortion points (one CSV per dataset) and their sources
(``SOURCES.md``). A package so that the files install with the wheel and load through
:mod:`importlib.resources`; the loader is :mod:`bench.analysis.published`."""
