"""The Transformer encoder: self-attention and a feed-forward network per layer, and the stack
(chapter 4).

Shapes: ``(B, T, d_model)`` in and out.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..utils._checks import check_sequence, device_of
from .feed_forward import FeedForward
from .multi_head_attention import MultiHeadAttention
from .norms import make_norm
from .positions import add_alibi, stack_positions
from .residual import ResidualSublayer

__all__ = ["EncoderLayer", "Encoder"]


class EncoderLayer(nn.Module):
    """Self-attention then a feed-forward network, each in a :class:`ResidualSublayer`.

    Args:
        d_model, num_heads, num_kv_heads: as in :class:`MultiHeadAttention`.
        d_ff: hidden size of the feed-forward network; default ``4 * d_model``.
        dropout: on attention weights, inside the feed-forward network, and on each sublayer's
            output before the residual sum (as in the 2017 paper).
        norm_first: Pre-LN if ``True``; Post-LN (the paper, and PyTorch's default) if ``False``.
        activation: ``"relu"`` (the paper), ``"gelu"`` or ``"gelu_tanh"`` (GPT-2's approximation).
        norm: ``"layernorm"`` (:class:`LayerNorm`) or ``"rmsnorm"`` (:class:`RMSNorm`); the
            short forms ``"layer"`` and ``"rms"`` are accepted too.
        norm_eps: the norms' ``eps``; ``None`` keeps their defaults (1e-5 and 1e-6).
        rope: rotary position embedding inside self-attention.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int | None = None,
        dropout: float = 0.0,
        *,
        norm_first: bool = False,
        activation: str = "relu",
        norm: str = "layernorm",
        norm_eps: float | None = None,
        num_kv_heads: int | None = None,
        rope: bool = False,
        bias: bool = True,
    ) -> None:
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.self_attn = MultiHeadAttention(
            d_model, num_heads, num_kv_heads=num_kv_heads, dropout=dropout, bias=bias, rope=rope
        )
        self.ff = FeedForward(d_model, d_ff, dropout, activation=activation, bias=bias)
        residual = dict(norm_first=norm_first, norm=norm, norm_eps=norm_eps)
        self.attn_residual = ResidualSublayer(d_model, dropout, **residual)
        self.ff_residual = ResidualSublayer(d_model, dropout, **residual)

    @property
    def norm_first(self) -> bool:
        return self.attn_residual.norm_first

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        *,
        is_causal: bool = False,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``x`` ``(B, T, d_model)``; ``mask`` broadcastable to ``(B, H, T, T)``.

        With ``return_weights=True``, returns ``(x, weights)``: also the self-attention
        weights ``(B, H, T, T)``, e.g. to draw what each head attends to.
        """
        attn = self.self_attn
        check_sequence("x", x, attn.d_model, device_of(attn.q_proj))
        weights: list[Tensor] = []

        def self_attention(h: Tensor) -> Tensor:
            if not return_weights:
                return attn(h, mask=mask, is_causal=is_causal)
            out, w = attn(h, mask=mask, is_causal=is_causal, return_weights=True)
            weights.append(w)
            return out

        x = self.ff_residual(self.attn_residual(x, self_attention), self.ff)
        return (x, weights[0]) if return_weights else x


class Encoder(nn.Module):
    """A stack of :class:`EncoderLayer` s, with the positional information of your choice.

    Args:
        num_layers: number of layers.
        positional: ``None`` (no positions: the encoder is permutation-equivariant),
            ``"sinusoidal"`` or ``"learned"`` (added to the input), ``"rope"`` (rotary, inside
            every attention layer) or ``"alibi"`` (distance bias added to every attention score).
        max_len: longest sequence for ``"sinusoidal"`` and ``"learned"``.

    The other arguments are those of :class:`EncoderLayer`. Pre-LN stacks
    (``norm_first=True``) end with a final normalization, as in GPT-2.

    ``forward(x, mask=None, *, is_causal=False, return_weights=False)``: ``x`` is the ``(B, T,
    d_model)`` input embeddings; returns ``(B, T, d_model)``, or with ``return_weights=True``
    that and a list of each layer's ``(B, H, T, T)`` attention weights. It raises ``TypeError``
    for an ``x`` that is not a floating-point tensor and ``ValueError`` for one of another shape
    or device, or longer than ``max_len`` with absolute positions.
    """

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        d_ff: int | None = None,
        dropout: float = 0.0,
        *,
        norm_first: bool = False,
        positional: str | None = None,
        max_len: int = 512,
        activation: str = "relu",
        norm: str = "layernorm",
        norm_eps: float | None = None,
        num_kv_heads: int | None = None,
    ) -> None:
        super().__init__()
        self.positional, self.num_heads = positional, num_heads
        self.position = stack_positions(num_layers, positional, d_model, max_len)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(
                d_model,
                num_heads,
                d_ff,
                dropout,
                norm_first=norm_first,
                activation=activation,
                norm=norm,
                norm_eps=norm_eps,
                num_kv_heads=num_kv_heads,
                rope=positional == "rope",
            )
            for _ in range(num_layers)
        )
        self.final_norm = make_norm(norm, d_model, eps=norm_eps) if norm_first else nn.Identity()

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        *,
        is_causal: bool = False,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        attn = self.layers[0].self_attn
        check_sequence("x", x, attn.d_model, device_of(attn.q_proj))
        if self.position is not None:
            x = self.position(x)
        x = self.dropout(x)
        if self.positional == "alibi":
            mask = add_alibi(mask, self.num_heads, x.shape[1], x.device, x.dtype)
        weights = []
        for layer in self.layers:
            if return_weights:
                x, w = layer(x, mask, is_causal=is_causal, return_weights=True)
                weights.append(w)
            else:
                x = layer(x, mask, is_causal=is_causal)
        x = self.final_norm(x)
        return (x, weights) if return_weights else x
