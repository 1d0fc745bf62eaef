"""transformer_lib: the small, tested PyTorch library behind the Transformer course book.

>>> import torch, transformer_lib as tl
>>> q = k = v = torch.randn(2, 4, 10, 16)            # (B, H, T, d_head)
>>> tl.scaled_dot_product_attention(q, k, v, is_causal=True).shape
torch.Size([2, 4, 10, 16])
"""

from .attention import causal_mask, padding_mask, scaled_dot_product_attention
from .device import get_device
from .layers import Encoder, EncoderLayer, FeedForward, ResidualSublayer
from .measure import peak_memory, time_call
from .multi_head_attention import KVCache, MultiHeadAttention
from .norms import LayerNorm, RMSNorm
from .positions import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
)
from .schedules import cosine_schedule, noam_schedule, warmup_schedule
from .seeding import set_seed
from .tasks import IGNORE_INDEX, LookupBatch, key_value_lookup, shifted_copy
from .training import train
from .viz import plot_attention, plot_training_curve

__version__ = "0.1.0"

__all__ = [
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "MultiHeadAttention",
    "KVCache",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
    "alibi_bias",
    "alibi_slopes",
    "LayerNorm",
    "RMSNorm",
    "FeedForward",
    "ResidualSublayer",
    "EncoderLayer",
    "Encoder",
    "warmup_schedule",
    "noam_schedule",
    "cosine_schedule",
    "get_device",
    "set_seed",
    "train",
    "time_call",
    "peak_memory",
    "key_value_lookup",
    "LookupBatch",
    "shifted_copy",
    "IGNORE_INDEX",
    "plot_attention",
    "plot_training_curve",
]
