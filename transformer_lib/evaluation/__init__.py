"""Scores of generated text: BLEU, chrF, exact match and perplexity.

Layer 2: imports ``utils`` and ``data``.
"""
