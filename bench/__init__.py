"""bench: rate-distortion evaluation of learned (invertible) and classical image codecs.

The harness flows one way: config -> plan -> execute -> store -> analyse -> render.
The core never imports a codec; codecs register through the ``bench.codecs`` entry-point group.
"""

__version__ = "0.1.0"
