"""The Transformer block's parts in one namespace (the module they lived in before they were
split): the feed-forward networks, the residual sublayer, and the encoder and decoder layers
and stacks. New code imports them from ``feed_forward``, ``residual``, ``encoder`` and
``decoder``, or simply from ``transformer_lib``.
"""

from .decoder import Decoder, DecoderLayer
from .encoder import Encoder, EncoderLayer
from .feed_forward import FeedForward, SwiGLU
from .positions import POSITIONAL_KINDS
from .residual import ResidualSublayer, residual

__all__ = [
    "FeedForward",
    "SwiGLU",
    "ResidualSublayer",
    "residual",
    "EncoderLayer",
    "Encoder",
    "DecoderLayer",
    "Decoder",
    "POSITIONAL_KINDS",
]
