"""The verifier: embedded corpus, tokenizers, token packing, training and evaluation.

Importing this package imports nothing heavy (no torch, no tokenizers); each submodule loads its
own dependencies when it is imported.
"""
