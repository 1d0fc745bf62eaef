"""The decoder-only language model (GPT-2 and Llama shapes): its config, the model, sampling,
a classifier on top, and loaders of Hugging Face and GGUF weights."""

from .classification import GPTForSequenceClassification
from .config import GPTConfig
from .model import GPT, GPTBlock

__all__ = ["GPTConfig", "GPT", "GPTBlock", "GPTForSequenceClassification"]
