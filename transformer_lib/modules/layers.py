"""The Transformer block: residual sublayers, encoder and decoder layers and their stacks.

Chapter 4 builds the encoder side; chapter 5 adds the decoder (masked self-attention, then
cross-attention over the encoder's output, then the feed-forward network).

Shapes: ``(B, T, d_model)`` in and out everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..utils._checks import (
    check_dropout,
    check_memory,
    check_sequence,
    device_of,
    is_int,
)
from .feed_forward import FeedForward, SwiGLU
from .multi_head_attention import KVCache, MultiHeadAttention
from .norms import make_norm
from .positions import (
    POSITIONAL_KINDS,
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
)

# FeedForward and SwiGLU are imported from feed_forward.py; named here too because they lived
# here before (``from transformer_lib.layers import FeedForward``).
__all__ = [
    "FeedForward",
    "SwiGLU",
    "ResidualSublayer",
    "EncoderLayer",
    "Encoder",
    "DecoderLayer",
    "Decoder",
]


def residual(
    x: Tensor,
    sublayer: Callable[[Tensor], Tensor],
    norm: nn.Module,
    dropout: nn.Module,
    *,
    norm_first: bool,
) -> Tensor:
    """The residual connection around ``sublayer``, with ``norm`` before it or after the sum.

    The one place the formula is written: :class:`ResidualSublayer` and GPT's blocks (which
    keep GPT-2's parameter names ``ln_1``/``ln_2``) both call it.
    """
    if norm_first:
        return x + dropout(sublayer(norm(x)))
    return norm(x + dropout(sublayer(x)))


class ResidualSublayer(nn.Module):
    """A sublayer with its residual connection and normalization, in either order.

    * Post-LN (``norm_first=False``, the 2017 paper): ``norm(x + dropout(f(x)))``.
    * Pre-LN (``norm_first=True``, GPT-2 and most models since): ``x + dropout(f(norm(x)))``.

    ``forward(x, f)`` takes the sublayer as a function, so one wrapper serves attention (which
    needs masks) and the feed-forward network alike.
    """

    def __init__(
        self,
        d_model: int,
        dropout: float = 0.0,
        *,
        norm_first: bool = False,
        norm: str = "layernorm",
        norm_eps: float | None = None,
    ) -> None:
        super().__init__()
        check_dropout(dropout)
        self.norm_first = norm_first
        self.norm = make_norm(norm, d_model, eps=norm_eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        """``x`` ``(..., d_model)``; ``sublayer`` maps such a tensor to one of the same shape."""
        if not callable(sublayer):
            raise TypeError(f"sublayer must be callable, but got {type(sublayer).__name__}")
        return residual(x, sublayer, self.norm, self.dropout, norm_first=self.norm_first)


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


def _stack_position(
    num_layers: int, positional: str | None, d_model: int, max_len: int
) -> nn.Module | None:
    """Check a stack's options; return the module that adds absolute positions, if any.

    RoPE and ALiBi act inside attention, so they need no module here.
    """
    if positional not in POSITIONAL_KINDS:
        raise ValueError(f"positional must be one of {POSITIONAL_KINDS}, but got {positional!r}")
    if not is_int(num_layers) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive int, but got {num_layers!r}")
    if positional == "sinusoidal":
        return SinusoidalPositionalEncoding(d_model, max_len)
    if positional == "learned":
        return LearnedPositionalEmbedding(d_model, max_len)
    return None


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
        self.position = _stack_position(num_layers, positional, d_model, max_len)
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
            mask = _add_alibi(mask, self.num_heads, x.shape[1], x.device, x.dtype)
        weights = []
        for layer in self.layers:
            if return_weights:
                x, w = layer(x, mask, is_causal=is_causal, return_weights=True)
                weights.append(w)
            else:
                x = layer(x, mask, is_causal=is_causal)
        x = self.final_norm(x)
        return (x, weights) if return_weights else x


def _add_alibi(
    mask: Tensor | None,
    num_heads: int,
    T: int,
    device: torch.device,
    dtype: torch.dtype,
    T_k: int | None = None,
) -> Tensor:
    """Fold the ALiBi bias into ``mask`` as one float mask broadcastable to ``(B, H, T, T_k)``.

    ``T`` is the number of queries, ``T_k`` (default ``T``) the number of keys; with a cache
    the queries are the last ``T`` of the ``T_k`` positions (lower-right alignment).
    """
    bias = alibi_bias(num_heads, T, T_k, device=device, dtype=dtype)[None]  # (1, H, T, T_k)
    if mask is None:
        return bias
    if mask.dtype == torch.bool:  # torch.where broadcasts (B, 1, 1, T) against (H, T, T)
        return torch.where(mask, bias, torch.tensor(float("-inf"), device=device, dtype=dtype))
    return bias + mask


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention over the encoder memory, then a feed-forward net.

    Each of the three sublayers sits in its own :class:`ResidualSublayer`
    (``self_attn_residual``, ``cross_attn_residual``, ``ff_residual``), as in Vaswani et al.
    (2017) and ``torch.nn.TransformerDecoderLayer``.

    Args:
        d_model, num_heads, num_kv_heads: as in :class:`MultiHeadAttention`.
        d_ff: hidden size of the feed-forward network; default ``4 * d_model``.
        dropout: on attention weights, inside the feed-forward network, and on each
            sublayer's output before the residual sum.
        norm_first: Pre-LN if ``True``; Post-LN (the paper) if ``False``.
        activation: ``"relu"`` (the paper), ``"gelu"`` or ``"gelu_tanh"`` (GPT-2's approximation).
        norm: ``"layer"`` or ``"rms"``.
        rope: rotary position embedding inside the *self*-attention (cross-attention compares
            positions of two different sequences, so it gets none).
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
        self.cross_attn = MultiHeadAttention(
            d_model, num_heads, num_kv_heads=num_kv_heads, dropout=dropout, bias=bias
        )
        self.ff = FeedForward(d_model, d_ff, dropout, activation=activation, bias=bias)
        residual = dict(norm_first=norm_first, norm=norm, norm_eps=norm_eps)
        self.self_attn_residual = ResidualSublayer(d_model, dropout, **residual)
        self.cross_attn_residual = ResidualSublayer(d_model, dropout, **residual)
        self.ff_residual = ResidualSublayer(d_model, dropout, **residual)

    @property
    def norm_first(self) -> bool:
        return self.self_attn_residual.norm_first

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        *,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        is_causal: bool = True,
        cache: KVCache | None = None,
        return_cross_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Run the layer on the target ``x`` while reading the encoder output ``memory``.

        Args:
            x: ``(B, T, d_model)`` target positions (with a cache: only the new ones).
            memory: ``(B, S, d_model)`` encoder output.
            tgt_mask: broadcastable to ``(B, H, T, T_k)`` for the self-attention, where
                ``T_k`` is the number of cached plus new positions.
            memory_mask: broadcastable to ``(B, H, T, S)``, usually the source padding mask
                ``(B, 1, 1, S)``.
            is_causal: forbid the self-attention to look at later target positions.
            cache: a :class:`KVCache` for the self-attention's keys and values (incremental
                decoding). The cross-attention recomputes its keys from ``memory``: they are
                cheap next to the decoder steps and keep the cache one simple object.
            return_cross_weights: also return the ``(B, H, T, S)`` cross-attention weights.

        Returns:
            ``(B, T, d_model)``, or ``(output, cross_weights)`` if ``return_cross_weights``.
        """
        attn = self.self_attn
        device = device_of(attn.q_proj)
        check_sequence("x", x, attn.d_model, device)
        check_memory(memory, x, attn.d_model, device)
        x = self.self_attn_residual(
            x, lambda h: self.self_attn(h, mask=tgt_mask, is_causal=is_causal, cache=cache)
        )
        weights: list[Tensor] = []  # filled by cross(), which the residual wrapper calls

        def cross(h: Tensor) -> Tensor:
            if not return_cross_weights:
                return self.cross_attn(h, memory, memory, memory_mask)
            out, w = self.cross_attn(h, memory, memory, memory_mask, return_weights=True)
            weights.append(w)
            return out

        x = self.cross_attn_residual(x, cross)
        x = self.ff_residual(x, self.ff)
        return (x, weights[0]) if return_cross_weights else x


class Decoder(nn.Module):
    """A stack of :class:`DecoderLayer` s, with the positional information of your choice.

    Args:
        num_layers: number of layers.
        positional: as in :class:`Encoder`: ``None``, ``"sinusoidal"``, ``"learned"``,
            ``"rope"`` or ``"alibi"``.
        max_len: longest target for ``"sinusoidal"`` and ``"learned"``.

    The other arguments are those of :class:`DecoderLayer`. Pre-LN stacks
    (``norm_first=True``) end with a final normalization.

    The self-attention is always causal: a decoder predicts each token from the earlier ones.
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
        self.positional, self.num_heads, self.d_model = positional, num_heads, d_model
        self.position = _stack_position(num_layers, positional, d_model, max_len)
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            DecoderLayer(
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

    def new_caches(self) -> list[KVCache]:
        """One empty :class:`KVCache` per layer, for incremental decoding."""
        return [KVCache() for _ in self.layers]

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        *,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        caches: list[KVCache] | None = None,
        return_cross_weights: bool = False,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Decode the target embeddings ``x`` while reading the encoder output ``memory``.

        Args:
            x: ``(B, T, d_model)`` target embeddings; with ``caches``, only the new positions.
            memory: ``(B, S, d_model)`` encoder output.
            tgt_mask: broadcastable to ``(B, H, T, T_k)`` (``T_k`` = cached + new positions),
                e.g. a target padding mask ``(B, 1, 1, T)``; the causal mask is added anyway.
            memory_mask: broadcastable to ``(B, H, T, S)``, e.g. the source padding mask.
            caches: one :class:`KVCache` per layer (see :meth:`new_caches`). The new positions
                follow the cached ones: their positions start at ``len(caches[0])``.
            return_cross_weights: also return a list of ``(B, H, T, S)`` cross-attention
                weights, one per layer.

        Returns:
            ``(B, T, d_model)``, or ``(output, [cross_weights per layer])``.

        Raises:
            TypeError: ``x`` or ``memory`` not a floating-point tensor.
            ValueError: ``x`` or ``memory`` of another shape or device, batch sizes that
                differ, ``caches`` that do not fit the layers, positions beyond ``max_len``.
        """
        device = device_of(self.layers[0].self_attn.q_proj)
        check_sequence("x", x, self.d_model, device)
        check_memory(memory, x, self.d_model, device)
        offset = 0
        if caches is not None:
            if len(caches) != len(self.layers):
                raise ValueError(
                    f"caches must hold one KVCache per layer ({len(self.layers)}), "
                    f"but holds {len(caches)}"
                )
            offset = len(caches[0])
            if any(len(c) != offset for c in caches):
                raise ValueError(
                    f"caches hold different numbers of positions: {[len(c) for c in caches]}"
                )
        if self.position is not None:
            x = self.position(x, offset)  # positions continue after the cached ones
        x = self.dropout(x)
        if self.positional == "alibi":
            T = x.shape[1]
            tgt_mask = _add_alibi(tgt_mask, self.num_heads, T, x.device, x.dtype, offset + T)
        all_weights = []
        for i, layer in enumerate(self.layers):
            result = layer(
                x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, is_causal=True,
                cache=None if caches is None else caches[i],
                return_cross_weights=return_cross_weights,
            )  # fmt: skip
            if return_cross_weights:
                x, weights = result
                all_weights.append(weights)
            else:
                x = result
        x = self.final_norm(x)
        return (x, all_weights) if return_cross_weights else x
