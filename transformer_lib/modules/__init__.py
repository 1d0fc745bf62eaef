"""The building blocks of every model: attention, multi-head attention and its key/value
cache, positional information, norms, feed-forward networks, encoder and decoder layers, LoRA.

Layer 1: imports only ``utils``.
"""
