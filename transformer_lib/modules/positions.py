"""Positional information for a model that is otherwise blind to order (chapter 3).

Four ways to tell attention where each token is:

* ``SinusoidalPositionalEncoding``: fixed sines and cosines added to the embeddings
  (Vaswani et al., 2017).
* ``LearnedPositionalEmbedding``: one trained vector per position, added to the embeddings
  (as in BERT and GPT-2).
* ``RotaryEmbedding``: rotates queries and keys by an angle proportional to their position,
  so that their dot product depends only on the offset (RoPE, Su et al., 2021).
* ``alibi_bias``: a penalty proportional to the distance, added to the attention scores
  (ALiBi, Press et al., 2022).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..utils._checks import check_device, check_positive_int, is_int, is_number

__all__ = [
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
    "alibi_slopes",
    "alibi_bias",
    "POSITIONAL_KINDS",
]

#: The values the models' ``positional`` option accepts.
POSITIONAL_KINDS = (None, "sinusoidal", "learned", "rope", "alibi")


def _check_offset(offset: object) -> None:
    if not is_int(offset) or offset < 0:
        raise ValueError(f"offset must be a non-negative int, but got {offset!r}")


def _check_sequence(
    x: Tensor, d_model: int, max_len: int | None, offset: int, device: torch.device
) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a tensor, but got {type(x).__name__}")
    if x.ndim != 3 or x.shape[-1] != d_model:
        raise ValueError(f"x must have shape (B, T, d_model={d_model}), but has {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be a floating-point tensor, but has dtype {x.dtype}")
    check_device("x", x, device, "the module's position table is")
    _check_offset(offset)
    if max_len is not None and offset + x.shape[1] > max_len:
        raise ValueError(
            f"positions {offset}..{offset + x.shape[1] - 1} do not fit in max_len={max_len}"
        )


class SinusoidalPositionalEncoding(nn.Module):
    r"""Adds :math:`PE(pos, 2i) = \sin(pos / 10000^{2i/d})`, :math:`PE(pos, 2i+1) = \cos(\cdot)`.

    ``forward(x, offset=0)``: ``x`` is ``(B, T, d_model)``; positions ``offset .. offset+T-1``.
    The table is a buffer (not a parameter): nothing is learned.

    Raises:
        ValueError: a size that is not a positive int (or an odd ``d_model``); in ``forward``,
            an ``x`` of another shape or device, a negative ``offset``, or positions beyond
            ``max_len``.
        TypeError: in ``forward``, an ``x`` that is not a floating-point tensor.
    """

    def __init__(self, d_model: int, max_len: int = 4096, *, base: float = 10000.0) -> None:
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("max_len", max_len)
        if d_model % 2:
            raise ValueError(f"d_model must be even (sine/cosine pairs), but got {d_model}")
        self.d_model, self.max_len = d_model, max_len
        self.register_buffer("pe", self.table(max_len, d_model, base), persistent=False)

    @staticmethod
    def table(max_len: int, d_model: int, base: float = 10000.0) -> Tensor:
        """The ``(max_len, d_model)`` table of encodings."""
        position = torch.arange(max_len, dtype=torch.float64)[:, None]  # (T, 1)
        inv_freq = base ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
        angles = position * inv_freq  # (T, d_model / 2)
        pe = torch.empty(max_len, d_model, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(angles)
        pe[:, 1::2] = torch.cos(angles)
        return pe.float()

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        _check_sequence(x, self.d_model, self.max_len, offset, self.pe.device)
        return x + self.pe[offset : offset + x.shape[1]].to(x.dtype)


class LearnedPositionalEmbedding(nn.Module):
    """Adds a trained vector per position: ``nn.Embedding(max_len, d_model)``.

    ``forward(x, offset=0)``: ``x`` is ``(B, T, d_model)``. It cannot go beyond ``max_len``.

    Raises:
        ValueError: as :class:`SinusoidalPositionalEncoding`.
        TypeError: in ``forward``, an ``x`` that is not a floating-point tensor.
    """

    def __init__(self, d_model: int, max_len: int) -> None:
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("max_len", max_len)
        self.d_model, self.max_len = d_model, max_len
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        _check_sequence(x, self.d_model, self.max_len, offset, self.embedding.weight.device)
        positions = torch.arange(offset, offset + x.shape[1], device=x.device)
        return x + self.embedding(positions).to(x.dtype)


class RotaryEmbedding(nn.Module):
    r"""Rotary position embedding (RoPE) for queries and keys, applied inside attention.

    Pair ``i`` of features is rotated by the angle ``pos * base^{-2i/d}``. Rotating a query at
    position ``m`` and a key at position ``n`` makes their dot product depend on ``m - n`` only.

    Which features form pair ``i`` is a convention that checkpoints disagree on:

    - ``interleaved=False``: ``(x_i, x_{i + d/2})``, the "rotate half" pairing of GPT-NeoX and
      Hugging Face's Llama;
    - ``interleaved=True``: ``(x_{2i}, x_{2i+1})``, the pairing of Su et al. (2021), Meta's
      original Llama code and llama.cpp's GGUF files.

    The two are the same rotation of a permuted vector, so a model trained with one runs with
    the other once its query and key projections are permuted to match.

    ``forward(x, offset=0)``: ``x`` is ``(B, H, T, d_head)``; positions ``offset .. offset+T-1``.

    Raises:
        ValueError: an odd or non-positive ``d_head``, ``base <= 1``; in ``forward``, an ``x``
            whose last dimension is not ``d_head`` or that lies on another device, a negative
            ``offset``.
        TypeError: in ``forward``, an ``x`` that is not a floating-point tensor.
    """

    def __init__(self, d_head: int, *, base: float = 10000.0, interleaved: bool = False) -> None:
        super().__init__()
        check_positive_int("d_head", d_head)
        if d_head % 2:
            raise ValueError(f"d_head must be even (features rotate in pairs), but got {d_head}")
        if not isinstance(interleaved, bool):
            raise ValueError(f"interleaved must be True or False, but got {interleaved!r}")
        if not is_number(base) or not base > 1:
            raise ValueError(f"base must be a number > 1, but got {base!r}")
        self.d_head, self.base, self.interleaved = d_head, base, interleaved
        inv_freq = base ** (-torch.arange(0, d_head, 2, dtype=torch.float32) / d_head)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def cos_sin(self, positions: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """``(T, d_head)`` cosines and sines for integer ``positions`` ``(T,)``."""
        work = torch.promote_types(dtype, torch.float32)  # float64 stays float64
        angles = positions.to(work)[:, None] * self.inv_freq.to(work)[None, :]  # (T, d_head/2)
        if self.interleaved:  # angle i for features 2i and 2i+1
            angles = angles.repeat_interleave(2, dim=-1)  # (T, d_head)
        else:  # angle i for features i and i + d/2
            angles = torch.cat([angles, angles], dim=-1)  # (T, d_head)
        return angles.cos().to(dtype), angles.sin().to(dtype)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a tensor, but got {type(x).__name__}")
        if x.ndim < 2:
            raise ValueError(f"x must have shape (..., T, d_head), but has {tuple(x.shape)}")
        if x.shape[-1] != self.d_head:
            raise ValueError(f"x has last dimension {x.shape[-1]}, but d_head is {self.d_head}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"x must be a floating-point tensor, but has dtype {x.dtype}")
        check_device("x", x, self.inv_freq.device, "the module's frequencies are")
        _check_offset(offset)
        positions = torch.arange(offset, offset + x.shape[-2], device=x.device)
        cos, sin = self.cos_sin(positions, x.dtype)
        # Each pair (a, b) becomes (a cos - b sin, a sin + b cos): x * cos + partner * sin,
        # where partner holds (-b, a) in the pair's places.
        if self.interleaved:
            even, odd = x[..., 0::2], x[..., 1::2]
            partner = torch.stack([-odd, even], dim=-1).flatten(-2)
        else:
            half = self.d_head // 2
            partner = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + partner * sin

    def extra_repr(self) -> str:
        return f"d_head={self.d_head}, base={self.base}, interleaved={self.interleaved}"


def alibi_slopes(num_heads: int) -> Tensor:
    """The ``(num_heads,)`` ALiBi slopes: a geometric sequence starting at ``2^(-8/n)``.

    For a number of heads that is not a power of two, Press et al. (2022) take the slopes of
    the nearest lower power of two and fill in every other slope of the next power of two.
    """
    check_positive_int("num_heads", num_heads)

    def geometric(n: int) -> list[float]:
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    if math.log2(num_heads).is_integer():
        slopes = geometric(num_heads)
    else:
        lower = 2 ** math.floor(math.log2(num_heads))
        slopes = geometric(lower) + geometric(2 * lower)[0::2][: num_heads - lower]
    return torch.tensor(slopes)


def alibi_bias(
    num_heads: int,
    T_q: int,
    T_k: int | None = None,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Float ``(num_heads, T_q, T_k)`` bias ``-slope_h * |i - j|`` to add to attention scores.

    Queries are the last ``T_q`` of ``T_k`` positions (as with a key/value cache). Combined
    with a causal mask this is the ALiBi of Press et al. (2022); without one it is its
    symmetric variant for bidirectional encoders. ``tl.scaled_dot_product_attention`` takes it
    as its ``mask`` directly; ``MultiHeadAttention`` wants ``bias[None]`` (a 4-D mask).
    """
    T_k = T_q if T_k is None else T_k
    check_positive_int("T_q", T_q)
    check_positive_int("T_k", T_k)
    if T_k < T_q:  # the queries are the last T_q of the T_k key positions
        raise ValueError(f"T_k must be at least T_q={T_q}, but got {T_k}")
    q_pos = torch.arange(T_k - T_q, T_k, device=device)[:, None]
    k_pos = torch.arange(T_k, device=device)[None, :]
    distance = (q_pos - k_pos).abs().to(dtype)  # (T_q, T_k)
    return -alibi_slopes(num_heads).to(device=device, dtype=dtype)[:, None, None] * distance


def stack_positions(
    num_layers: int, positional: str | None, d_model: int, max_len: int
) -> nn.Module | None:
    """Check an encoder or decoder stack's options; return the module that adds absolute
    positions, if any.

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


def add_alibi(
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
