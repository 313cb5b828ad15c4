"""CompressAI's learned VAE codecs (Ballé 2018, Minnen 2018, Cheng 2020 and the variable-rate
models) and researchers' own CompressAI models, as harness codecs (docs/compressai-codecs.md)."""
