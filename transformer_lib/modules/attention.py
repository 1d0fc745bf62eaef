"""Scaled dot-product attention and the masks that steer it (chapter 1).

Shapes follow PyTorch's ``F.scaled_dot_product_attention``: any number of leading batch
dimensions ``...`` (usually ``(B, H)``), then the sequence and feature dimensions:

* ``query``  ``(..., T_q, d_k)``
* ``key``    ``(..., T_k, d_k)``
* ``value``  ``(..., T_k, d_v)``
* ``mask``   broadcastable to ``(..., T_q, T_k)``
* output     ``(..., T_q, d_v)``; weights ``(..., T_q, T_k)``

A boolean mask means ``True`` = "this query may attend to this key". A floating-point mask is
added to the scores before the softmax (``-inf`` removes a key; ALiBi adds a distance penalty).

Two paths give one result. The explicit path, ``softmax(Q K^T / sqrt(d_k)) V``, is the one the
book teaches and the only one that can return the attention weights. The fused path calls
``torch.nn.functional.scaled_dot_product_attention``, which picks a memory-efficient kernel
(FlashAttention and friends) and never materialises the ``T_q x T_k`` weight matrix.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..utils._checks import check_device, is_int, is_number

__all__ = ["scaled_dot_product_attention", "causal_mask", "padding_mask"]


def causal_mask(T: int, device: torch.device | str | None = None) -> Tensor:
    """Boolean ``(T, T)`` mask, ``True`` on and below the diagonal.

    Query ``i`` may attend to keys ``0..i``: no token sees the future.
    """
    if not is_int(T) or T < 0:
        raise ValueError(f"T must be a non-negative int, but got {T!r}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: Tensor, max_len: int) -> Tensor:
    """Boolean ``(B, 1, 1, max_len)`` mask, ``True`` for the real (non-padding) tokens.

    ``lengths`` is a ``(B,)`` integer tensor of true sequence lengths. The two singleton
    dimensions broadcast over heads and queries, so the mask can go straight into attention
    with scores of shape ``(B, H, T_q, max_len)``.
    """
    if not isinstance(lengths, Tensor):
        raise TypeError(f"lengths must be a tensor of shape (B,), but got {type(lengths).__name__}")
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must hold integers, but has dtype {lengths.dtype}")
    if lengths.ndim != 1:
        raise ValueError(f"lengths must have shape (B,), but has shape {tuple(lengths.shape)}")
    if not is_int(max_len) or max_len < 0:
        raise ValueError(f"max_len must be a non-negative int, but got {max_len!r}")
    # Reading the range waits for the device and would split a torch.compile graph: under
    # compile the check is left out (as GPT's id check is).
    if (
        lengths.numel()
        and not torch.compiler.is_compiling()
        and (int(lengths.min()) < 0 or int(lengths.max()) > max_len)
    ):
        raise ValueError(
            f"lengths must lie in [0, max_len={max_len}], "
            f"but range from {int(lengths.min())} to {int(lengths.max())}"
        )
    positions = torch.arange(max_len, device=lengths.device)
    return (positions < lengths[:, None])[:, None, None, :]


def check_attention_inputs(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, dropout_p: float, kv_groups: int = 1
) -> None:
    """Raise a clear error for anything the attention formula cannot take.

    ``kv_groups > 1`` (grouped key/value heads, used by :class:`MultiHeadAttention`): key and
    value have ``H / kv_groups`` heads in dimension ``-3`` where the query has ``H``.
    """
    for name, t in (("query", q), ("key", k), ("value", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a tensor, but got {type(t).__name__}")
        if not t.dtype.is_floating_point:
            raise TypeError(f"{name} must be a floating-point tensor, but has dtype {t.dtype}")
        if t.ndim < 2:
            raise ValueError(
                f"{name} must have at least 2 dimensions (..., T, d), "
                f"but has shape {tuple(t.shape)}"
            )
    if not q.ndim == k.ndim == v.ndim:
        raise ValueError(
            "query, key and value must have the same number of dimensions, but have shapes "
            f"{tuple(q.shape)}, {tuple(k.shape)} and {tuple(v.shape)}"
        )
    # Devices before anything reads values: a key on another device than the query fails
    # inside the kernel otherwise (a device-side error on a GPU).
    check_device("key", k, q.device, "query is")
    check_device("value", v, q.device, "query is")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(
            f"query, key and value must share a dtype, but have {q.dtype}, {k.dtype} and {v.dtype}"
        )
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(
            f"key has feature size d_k={k.shape[-1]}, but query has d_k={q.shape[-1]}; "
            "queries and keys must have the same last dimension"
        )
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(
            f"value has {v.shape[-2]} positions (T_k), but key has {k.shape[-2]}; "
            "every key needs exactly one value"
        )
    q_lead = q.shape[:-2]
    if kv_groups > 1 and q.ndim >= 3 and q.shape[-3] % kv_groups == 0:
        q_lead = (*q.shape[:-3], q.shape[-3] // kv_groups)  # the key/value heads' count
    if not q_lead == k.shape[:-2] == v.shape[:-2]:
        raise ValueError(
            "query, key and value must share their leading (batch, head) dimensions, but have "
            f"{tuple(q.shape[:-2])}, {tuple(k.shape[:-2])} and {tuple(v.shape[:-2])}"
        )
    if not is_number(dropout_p):
        raise ValueError(f"dropout_p must be a number in [0, 1), but got {dropout_p!r}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must lie in [0, 1), but got {dropout_p}")
    if mask is not None:
        _check_mask(q, k, mask)


def _check_mask(q: Tensor, k: Tensor, mask: Tensor) -> None:
    """The mask's type, device, values (a float keep-mask) and shape against the scores'."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a tensor or None, but got {type(mask).__name__}")
    check_device("mask", mask, q.device, "query is")
    if mask.dtype != torch.bool and not mask.dtype.is_floating_point:
        raise TypeError(
            f"mask must be bool (True = may attend) or floating point (added to the scores), "
            f"but has dtype {mask.dtype}"
        )
    if mask.dtype.is_floating_point and mask.numel() and not torch.compiler.is_compiling():
        # A float mask is *added* to the scores. A Hugging Face-style keep-mask (1.0 = attend,
        # 0.0 = padding) would then shift some scores by 1 and mask nothing: a silent wrong
        # result. Reading the values waits for the GPU once; float masks are the rare case.
        ones = mask == 1
        if bool(ones.any()) and bool((ones | (mask == 0)).all()):
            raise ValueError(
                "mask holds only 0.0 and 1.0: a float mask is added to the scores, so this "
                "one masks nothing. For a keep-mask (1 = may attend) pass mask.bool(); for an "
                "additive mask use 0 and float('-inf')"
            )
    _check_2d_mask_is_unambiguous(q, mask)
    scores_shape = (*q.shape[:-1], k.shape[-2])
    try:
        broadcast = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        broadcast = None
    if broadcast != torch.Size(scores_shape):
        raise ValueError(
            f"mask has shape {tuple(mask.shape)}, which does not broadcast to the attention "
            f"scores' shape (..., T_q, T_k) = {tuple(scores_shape)}"
        )


def _check_2d_mask_is_unambiguous(q: Tensor, mask: Tensor) -> None:
    """A 2-D mask means ``(T_q, T_k)``, as in PyTorch. When the batch size equals the number
    of queries, a ``(B, T_k)`` padding mask has that shape too, and would silently be read as
    the other: refuse it, and say how to write either meaning unambiguously."""
    B, T_q = q.shape[0], q.shape[-2]
    if mask.ndim != 2 or q.ndim < 3 or not B == T_q == mask.shape[0] or B == 1:
        return
    lead, pad = ("mask[None]", "mask[:, None, :]")
    if q.ndim == 4:
        lead, pad = ("mask[None, None]", "mask[:, None, None, :]")
    raise ValueError(
        f"mask has shape {tuple(mask.shape)}, and the batch size equals the number of queries "
        f"({B}): it could be (T_q, T_k) or a (B, T_k) padding mask. Pass a (T_q, T_k) mask as "
        f"{lead} (a causal one as is_causal=True), a padding mask as {pad}"
    )


def _merge_causal(mask: Tensor | None, T_q: int, T_k: int, device: torch.device) -> Tensor:
    """AND a causal mask into ``mask``.

    With ``T_q < T_k`` (decoding with a cache of earlier keys) the queries are the *last*
    ``T_q`` positions, so query ``i`` may see keys ``0 .. T_k - T_q + i`` (the lower-right
    alignment that incremental decoding needs).
    """
    causal = torch.ones(T_q, T_k, dtype=torch.bool, device=device).tril(diagonal=T_k - T_q)
    if mask is None:
        return causal
    if mask.dtype == torch.bool:
        return mask & causal
    return mask.masked_fill(~causal, float("-inf"))


def _dead_rows(mask: Tensor) -> Tensor:
    """``(..., T_q, 1)`` bool: the query rows in which the mask removes every key."""
    if mask.dtype == torch.bool:
        return ~mask.any(dim=-1, keepdim=True)
    return torch.isneginf(mask).all(dim=-1, keepdim=True)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None = None,
    *,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
    return_weights: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    r"""Attention(Q, K, V) = softmax(Q K^T * scale + mask) V, with ``scale = 1/sqrt(d_k)``.

    Args:
        query: ``(..., T_q, d_k)``.
        key: ``(..., T_k, d_k)``.
        value: ``(..., T_k, d_v)``.
        mask: broadcastable to ``(..., T_q, T_k)``; bool (``True`` = may attend) or float
            (added to the scores). A 2-D mask is ``(T_q, T_k)``, as in PyTorch; when the batch
            size equals ``T_q`` it could also be a ``(B, T_k)`` padding mask, so it is refused
            there: give it its axes (``mask[None, None]`` or ``mask[:, None, None, :]``).
        is_causal: also forbid attending to later positions (combined with ``mask`` if both
            are given). When ``T_q < T_k`` the queries are the last ``T_q`` positions.
        dropout_p: probability of zeroing an attention weight. Applied whenever it is
            positive: pass ``0.0`` at evaluation time (modules do this for you).
        scale: multiplier of the scores; default ``1 / sqrt(d_k)``.
        return_weights: also return the ``(..., T_q, T_k)`` attention weights. This takes
            the explicit path, which materialises them.

    Returns:
        The output ``(..., T_q, d_v)``, or ``(output, weights)`` if ``return_weights``.
        A query whose every key is masked gets a zero output (and zero weights), never NaN.

    Raises:
        TypeError: an argument is not a tensor, ``query``/``key``/``value`` are not floating
            point or differ in dtype, or ``mask`` is neither bool nor floating point.
        ValueError: shapes that do not fit together, tensors on different devices,
            ``dropout_p`` outside [0, 1), or a ``scale`` that is not a number.
    """
    check_attention_inputs(query, key, value, mask, dropout_p)
    if scale is not None and (not is_number(scale)):
        raise ValueError(f"scale must be a number or None, but got {scale!r}")
    return unchecked_attention(query, key, value, mask, is_causal, dropout_p, scale, return_weights)


# From PyTorch 2.5 the fused kernel lets a group of query heads share one key/value head itself
# (``enable_gqa``), without the copies that ``repeat_interleave`` makes. Not on MPS, where some
# releases abort on it (pytorch/pytorch#149132).
_FUSED_GQA = torch.__version__ >= (2, 5)
_FUSED_GQA_DEVICES = ("cpu", "cuda")


def unchecked_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: Tensor | None,
    is_causal: bool,
    dropout_p: float,
    scale: float | None,
    return_weights: bool,
    kv_groups: int = 1,
) -> Tensor | tuple[Tensor, Tensor]:
    """:func:`scaled_dot_product_attention` on inputs that passed :func:`check_attention_inputs`.

    ``kv_groups > 1``: key and value have one head (dimension ``-3``) per ``kv_groups``
    consecutive query heads.
    """
    if kv_groups > 1 and (
        return_weights or not _FUSED_GQA or query.device.type not in _FUSED_GQA_DEVICES
    ):
        key = key.repeat_interleave(kv_groups, dim=-3)
        value = value.repeat_interleave(kv_groups, dim=-3)
        kv_groups = 1
    T_q, T_k = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    if mask is not None and mask.ndim < 2:  # a (T_k,) mask: the fused kernel wants (T_q, T_k)
        mask = mask.reshape((1,) * (2 - mask.ndim) + tuple(mask.shape))

    if is_causal and mask is None and T_q == 1 <= T_k:
        is_causal = False  # one query, the last position: lower-right causal hides nothing
    # Rows that a mask empties exist only with a caller's mask, or with more queries than keys.
    may_have_dead_rows = mask is not None or T_q > T_k

    # F.scaled_dot_product_attention aligns a causal mask to the top left when T_q != T_k;
    # we build the mask ourselves so both paths use the lower-right rule documented above.
    fused_causal = is_causal and mask is None and T_q == T_k
    if is_causal and not fused_causal:
        mask = _merge_causal(mask, T_q, T_k, query.device)

    dead = None
    if mask is not None and may_have_dead_rows:
        dead = _dead_rows(mask)
        # Give fully masked rows something harmless to attend to, then zero them afterwards:
        # a softmax over nothing but -inf is 0/0 = NaN in the forward and the backward pass.
        mask = mask | dead if mask.dtype == torch.bool else mask.masked_fill(dead, 0.0)

    if mask is not None and mask.dtype != torch.bool:
        mask = mask.to(query.dtype)  # a float64 mask must not promote float32 scores

    if not return_weights:
        gqa = {"enable_gqa": True} if kv_groups > 1 else {}  # the keyword is new in 2.5
        out = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, dropout_p=dropout_p, is_causal=fused_causal,
            scale=scale, **gqa,
        )  # fmt: skip
        return out if dead is None else out.masked_fill(dead, 0.0)

    if fused_causal:  # the explicit path has no built-in causal flag
        mask = causal_mask(T_q, device=query.device)
    scores = (query @ key.transpose(-2, -1)) * scale  # (..., T_q, T_k)
    if mask is not None:
        scores = (
            scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        )
    # Softmax in at least float32: summing many small half-precision weights loses precision.
    softmax_dtype = torch.promote_types(scores.dtype, torch.float32)
    weights = torch.softmax(scores, dim=-1, dtype=softmax_dtype).to(value.dtype)
    if dead is not None:
        weights = weights.masked_fill(dead, 0.0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ value, weights
