"""transformer_lib: the small, tested PyTorch library behind the Transformer course book.

>>> import torch, transformer_lib as tl
>>> q = k = v = torch.randn(2, 4, 10, 16)            # (B, H, T, d_head)
>>> tl.scaled_dot_product_attention(q, k, v, is_causal=True).shape
torch.Size([2, 4, 10, 16])
"""

from .attention import causal_mask, padding_mask, scaled_dot_product_attention
from .device import get_device
from .measure import peak_memory, time_call
from .seeding import set_seed
from .tasks import LookupBatch, key_value_lookup
from .training import train
from .viz import plot_attention, plot_training_curve

__version__ = "0.1.0"

__all__ = [
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "get_device",
    "set_seed",
    "train",
    "time_call",
    "peak_memory",
    "key_value_lookup",
    "LookupBatch",
    "plot_attention",
    "plot_training_curve",
]
