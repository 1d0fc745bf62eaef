"""Data to learn from, all offline: generated tasks (lookup, copying, number words, topics,
news reports, reviews, biographies, instructions) and the corpora shipped with the repository
(Shakespeare, an English-Spanish Bible).

Layer 2: imports ``utils`` and ``data``.
"""
