"""Producing sequences from a trained model: sampling, greedy decoding and beam search.

Layer 2: imports ``utils`` and ``modules``. It sits below ``models`` (as in Hugging Face's
library) because decoding needs only a model's interface, not its class; a model's thin
``generate`` method can then call it.
"""
