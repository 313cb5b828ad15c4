"""Built-in codecs (installed as ``bench_codecs``; the folder is named ``codecs/``).

``codecs`` is a standard-library module, so this folder installs under ``bench_codecs``.
Each codec class registers in the ``bench.codecs`` entry-point group in pyproject.toml; the
harness core never imports this package.
"""

import warnings

# Importing CompressAI makes torch print a deprecation notice for torch.jit.script, in every
# process that loads a learned codec (pool workers too): noise to users, silenced where it starts.
warnings.filterwarnings("ignore", message=".*torch.jit.script.*is deprecated", category=FutureWarning)
