"""Built-in datasets (installed as ``bench_datasets``; the folder is named ``datasets/``).

``datasets`` is also the name of a popular PyPI package, so this folder installs under
``bench_datasets``. Each module exposes one ``NamedDataset`` registered in pyproject.toml.
"""
