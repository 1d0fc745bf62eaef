"""The encoder-only model (BERT), its heads, masked-language-model data and MiniLM."""
