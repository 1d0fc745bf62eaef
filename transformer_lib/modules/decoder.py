"""The Transformer decoder: masked self-attention, cross-attention over the encoder's output,
then a feed-forward network per layer, and the stack (chapter 5).

Shapes: ``(B, T, d_model)`` in and out.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..utils._checks import check_memory, check_sequence, device_of
from .feed_forward import FeedForward
from .multi_head_attention import KVCache, MultiHeadAttention
from .norms import make_norm
from .positions import add_alibi, stack_positions
from .residual import ResidualSublayer

__all__ = ["DecoderLayer", "Decoder"]


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
        norm: ``"layernorm"`` or ``"rmsnorm"`` (``"layer"`` and ``"rms"`` are accepted too).
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
        self.position = stack_positions(num_layers, positional, d_model, max_len)
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
            tgt_mask = add_alibi(tgt_mask, self.num_heads, T, x.device, x.dtype, offset + T)
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
