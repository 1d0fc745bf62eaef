"""Turning text into batches: tokenizers (character, word, byte-pair), padding and bucketing,
and the corruption objectives that make training targets from raw text (span corruption).

Layer 1: imports only ``utils``.
"""
