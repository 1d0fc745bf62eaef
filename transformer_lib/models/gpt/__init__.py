"""The decoder-only language model (GPT-2 and Llama shapes) and its GGUF loader."""
