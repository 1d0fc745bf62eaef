"""Models assembled from ``modules``: the encoder-decoder Transformer, GPT, BERT, the Vision
Transformer, extractive question answering; loading weights from Hugging Face and GGUF files
lives in its own file next to each model.

Layer 3: imports ``utils``, ``modules``, ``data``, ``datasets``, ``evaluation`` and
``generation``.
"""
