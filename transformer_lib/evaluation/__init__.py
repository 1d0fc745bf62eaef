"""Scores: BLEU, chrF, exact match and perplexity of generated text; the SQuAD metrics of
extractive question answering.

Layer 2: imports ``utils`` and ``data``.
"""
