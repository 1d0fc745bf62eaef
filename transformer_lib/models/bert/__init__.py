"""The encoder-only model (BERT): its config, the model, its heads, Hugging Face weights and
the pretrained MiniLM."""

from ...data.masking import mask_tokens
from ...modules.pooling import mean_pool
from .config import BERTConfig
from .heads import BERTForMaskedLM, BERTForSequenceClassification
from .minilm import load_minilm
from .model import BERT, BERTOutput

# mask_tokens and mean_pool lived in the BERT module before the library had subpackages.
__all__ = [
    "BERTConfig",
    "BERT",
    "BERTOutput",
    "BERTForMaskedLM",
    "BERTForSequenceClassification",
    "mask_tokens",
    "mean_pool",
    "load_minilm",
]
