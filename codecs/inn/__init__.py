"""Invertible-neural-network codecs built from one shared library of invertible layers.

``layers`` holds the invertible building blocks; ``invcompress`` and ``iat`` the models of
Xie et al. (2021) and Cai et al. (2022); ``coding`` the bitstream format and the safe checkpoint
loader; ``codec`` the harness codecs; ``train`` the training loop behind ``bench train``.
"""
