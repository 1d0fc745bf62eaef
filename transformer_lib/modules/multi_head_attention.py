"""Multi-head attention with grouped key/value heads and a key/value cache (chapter 2).

Shapes: inputs ``(B, T, d_model)``; inside, ``(B, H, T, d_head)`` with ``d_head = d_model / H``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..utils._checks import check_device, device_of, is_int, is_number
from .attention import check_attention_inputs, unchecked_attention
from .positions import RotaryEmbedding

__all__ = ["MultiHeadAttention", "KVCache"]


class KVCache:
    """The keys and values one attention layer has already computed, for incremental decoding.

    ``key`` and ``value`` are ``(B, H_kv, T_cached, d_head)``, or ``None`` before the first step.
    Each forward pass appends the new positions, so a decoder computes every key and value once
    instead of once per generated token.

    Args:
        capacity: if given, the first update allocates room for ``capacity`` positions and
            later updates write into it in place, so a token costs no new allocation and no copy
            of the whole cache (``GPT.generate`` sizes it to prompt plus new tokens). Without
            it, every update concatenates: simplest, and the choice when gradients must flow
            through the cache. A cache that outgrows its capacity reallocates.
    """

    def __init__(self, capacity: int | None = None) -> None:
        if capacity is not None and (not is_int(capacity) or capacity < 1):
            raise ValueError(f"capacity must be a positive int or None, but got {capacity!r}")
        self.capacity = capacity
        self._key: Tensor | None = None  # (B, H_kv, room, d_head); the first `length` are used
        self._value: Tensor | None = None
        self.length = 0

    def __repr__(self) -> str:
        shape = None if self._key is None else tuple(self.key.shape)
        return f"KVCache(length={self.length}, capacity={self.capacity}, key shape={shape})"

    @property
    def key(self) -> Tensor | None:
        return None if self._key is None else self._key[:, :, : self.length]

    @key.setter
    def key(self, key: Tensor | None) -> None:  # e.g. beam search reordering the batch
        self._key = key
        self.length = 0 if key is None else key.shape[-2]

    @property
    def value(self) -> Tensor | None:
        return None if self._value is None else self._value[:, :, : self.length]

    @value.setter
    def value(self, value: Tensor | None) -> None:
        self._value = value

    def __len__(self) -> int:
        return self.length

    def update(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Append ``(B, H_kv, T_new, d_head)`` keys and values; return all of them."""
        for name, t in (("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{name} must be a tensor, but got {type(t).__name__}")
            if t.ndim != 4:
                raise ValueError(
                    f"{name} must have shape (B, H_kv, T_new, d_head), but has {tuple(t.shape)}"
                )
        if self._key is not None and key.shape[:2] != self._key.shape[:2]:
            raise ValueError(
                f"cache holds (B, H_kv) = {tuple(self._key.shape[:2])}, but the new keys "
                f"have {tuple(key.shape[:2])}; use one cache per batch"
            )
        old, new = self.length, key.shape[-2]
        if self.capacity is None:
            if self._key is None:
                self._key, self._value = key, value
            else:
                self._key = torch.cat([self.key, key], dim=-2)
                self._value = torch.cat([self.value, value], dim=-2)
        else:
            assert self._value is not None or self._key is None
            if self._key is None or old + new > self._key.shape[-2]:
                room = max(self.capacity, old + new)
                grown_key = key.new_empty(*key.shape[:2], room, key.shape[-1])
                grown_value = value.new_empty(*value.shape[:2], room, value.shape[-1])
                if self._key is not None:
                    grown_key[:, :, :old] = self.key
                    grown_value[:, :, :old] = self.value
                self._key, self._value = grown_key, grown_value
            self._key[:, :, old : old + new] = key
            self._value[:, :, old : old + new] = value
        self.length = old + new
        return self.key, self.value


class MultiHeadAttention(nn.Module):
    """``H`` attention heads side by side, each with its own projections of size ``d_head``.

    Args:
        d_model: model width; the input and output feature size.
        num_heads: number of query heads ``H``; must divide ``d_model``.
        num_kv_heads: number of key/value heads (grouped-query attention); must divide
            ``num_heads``. ``None`` means ``num_heads`` (ordinary multi-head attention), ``1``
            means multi-query attention.
        dropout: dropout on the attention weights, active in training mode only.
        bias: whether the four projections have biases.
        rope: rotate queries and keys with a :class:`RotaryEmbedding` (self-attention only).
        rope_base: the RoPE frequency base (10000 in Su et al., 2021).
        rope_interleaved: RoPE's pairing of features (see :class:`RotaryEmbedding`):
            ``False`` for Hugging Face checkpoints, ``True`` for GGUF / Meta ones.

    The projections are ``nn.Linear`` layers named as in PyTorch and Hugging Face:
    ``q_proj`` ``(d_model -> d_model)``, ``k_proj`` and ``v_proj``
    ``(d_model -> num_kv_heads * d_head)``, ``out_proj`` ``(d_model -> d_model)``.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        *,
        num_kv_heads: int | None = None,
        dropout: float = 0.0,
        bias: bool = True,
        rope: bool = False,
        rope_base: float = 10000.0,
        rope_interleaved: bool = False,
    ) -> None:
        super().__init__()
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        for name, n in (("d_model", d_model), ("num_heads", num_heads),
                        ("num_kv_heads", num_kv_heads)):  # fmt: skip
            if not is_int(n) or n < 1:
                raise ValueError(f"{name} must be a positive int, but got {n!r}")
        if d_model % num_heads:
            raise ValueError(
                f"num_heads={num_heads} must divide d_model={d_model} "
                f"(each head gets d_model / num_heads features)"
            )
        if num_heads % num_kv_heads:
            raise ValueError(
                f"num_kv_heads={num_kv_heads} must divide num_heads={num_heads} "
                "(each key/value head serves a whole group of query heads)"
            )
        if not is_number(dropout):
            raise ValueError(f"dropout must be a number in [0, 1), but got {dropout!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), but got {dropout}")
        self.d_model, self.num_heads, self.num_kv_heads = d_model, num_heads, num_kv_heads
        self.d_head = d_model // num_heads
        self.dropout = dropout
        kv_dim = num_kv_heads * self.d_head
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, kv_dim, bias=bias)
        self.v_proj = nn.Linear(d_model, kv_dim, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.rotary = (
            RotaryEmbedding(self.d_head, base=rope_base, interleaved=rope_interleaved)
            if rope
            else None
        )

    def extra_repr(self) -> str:
        kv = f", num_kv_heads={self.num_kv_heads}" if self.num_kv_heads != self.num_heads else ""
        rope = ", rope=True" if self.rotary is not None else ""
        return (
            f"d_model={self.d_model}, num_heads={self.num_heads}{kv}, dropout={self.dropout}{rope}"
        )

    def _check(self, name: str, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a tensor, but got {type(x).__name__}")
        if x.ndim != 3:
            raise ValueError(
                f"{name} must have shape (B, T, d_model), but has shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.d_model:
            raise ValueError(
                f"{name} has last dimension {x.shape[-1]}, but d_model is {self.d_model}"
            )
        if not x.dtype.is_floating_point:
            raise TypeError(f"{name} must be a floating-point tensor, but has dtype {x.dtype}")
        check_device(name, x, device_of(self.q_proj))

    def split_heads(self, x: Tensor, num_heads: int) -> Tensor:
        """``(B, T, num_heads * d_head) -> (B, num_heads, T, d_head)``."""
        B, T, _ = x.shape
        return x.view(B, T, num_heads, self.d_head).transpose(1, 2)

    @staticmethod
    def merge_heads(x: Tensor) -> Tensor:
        """``(B, H, T, d_head) -> (B, T, H * d_head)``: the heads side by side again."""
        B, H, T, d_head = x.shape
        return x.transpose(1, 2).reshape(B, T, H * d_head)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        mask: Tensor | None = None,
        *,
        is_causal: bool = False,
        return_weights: bool = False,
        cache: KVCache | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Self-attention when ``key`` and ``value`` are omitted, cross-attention otherwise.

        Args:
            query: ``(B, T_q, d_model)``.
            key: ``(B, T_k, d_model)``; defaults to ``query``.
            value: ``(B, T_k, d_model)``; defaults to ``key``.
            mask: bool (``True`` = may attend) or float, broadcastable to ``(B, H, T_q, T_k)``:
                ``(T_q, T_k)`` or 4-D. A padding mask is ``(B, 1, 1, T_k)``; a 2-D mask whose
                first size is both ``B`` and ``T_q`` is refused as ambiguous.
            is_causal: forbid attending to later positions.
            return_weights: also return the ``(B, H, T_q, T_k)`` attention weights.
            cache: a :class:`KVCache` to append this call's keys and values to; attention then
                runs over all cached positions (``T_k`` = cached + new).

        Returns:
            ``(B, T_q, d_model)``, or ``(output, weights)`` if ``return_weights``.

        Raises:
            TypeError: an input that is not a floating-point tensor, a mask that is neither
                bool nor float, a ``cache`` that is not a :class:`KVCache`.
            ValueError: wrong shapes, batch sizes that differ, inputs on another device than
                the parameters, a separate ``key`` with ``rope=True``.
        """
        if self.rotary is not None and key is not None and key is not query:
            raise ValueError(
                "rope=True rotates queries and keys by their positions in one sequence, so it "
                "is for self-attention only; got a separate key (cross-attention)"
            )
        key = query if key is None else key
        value = key if value is None else value
        self._check("query", query)
        if key is not query:  # self-attention: one tensor, checked once
            self._check("key", key)
        if value is not key:
            self._check("value", value)
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(
                f"key has (B, T_k) = {tuple(key.shape[:2])}, but value has {tuple(value.shape[:2])}"
            )
        if key.shape[0] != query.shape[0]:
            raise ValueError(f"query has batch size {query.shape[0]}, but key has {key.shape[0]}")

        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache or None, but got {type(cache).__name__}")
        if isinstance(mask, Tensor) and mask.ndim not in (2, 4):
            raise ValueError(
                f"mask must have shape (T_q, T_k) or (B, H or 1, T_q, T_k), but has shape "
                f"{tuple(mask.shape)}; for a (B, T_q, T_k) mask pass mask[:, None]"
            )

        q = self.split_heads(self.q_proj(query), self.num_heads)  # (B, H, T_q, d_head)
        k = self.split_heads(self.k_proj(key), self.num_kv_heads)  # (B, H_kv, T_k, d_head)
        v = self.split_heads(self.v_proj(value), self.num_kv_heads)
        if self.rotary is not None:
            offset = len(cache) if cache is not None else 0  # new tokens follow the cached ones
            q, k = self.rotary(q, offset), self.rotary(k, offset)
        if cache is not None:
            k, v = cache.update(k, v)

        # Each key/value head serves a group of consecutive query heads: the attention function
        # shares it without copying where the fused kernel can (else it repeats the heads).
        group = self.num_heads // self.num_kv_heads
        dropout_p = self.dropout if self.training else 0.0
        check_attention_inputs(q, k, v, mask, dropout_p, kv_groups=group)
        result = unchecked_attention(
            q, k, v, mask, is_causal, dropout_p, None, return_weights, group
        )
        out, weights = result if return_weights else (result, None)
        out = self.out_proj(self.merge_heads(out))  # (B, T_q, d_model)
        return (out, weights) if return_weights else out
