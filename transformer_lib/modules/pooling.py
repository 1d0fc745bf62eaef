"""Pooling a sequence of vectors into one vector per sequence."""

from __future__ import annotations

from torch import Tensor

from ..utils._checks import check_device

__all__ = ["mean_pool"]


def mean_pool(hidden: Tensor, attention_mask: Tensor | None = None) -> Tensor:
    """The average of the real tokens' vectors: ``(B, T, d) -> (B, d)``.

    ``attention_mask`` is ``(B, T)``, 1 / ``True`` for real tokens. This is the sentence
    embedding of sentence-transformers models such as all-MiniLM-L6-v2 (which then
    L2-normalise it: ``F.normalize(mean_pool(h, m), dim=-1)``).

    Raises:
        TypeError: ``hidden`` not a floating-point tensor, ``attention_mask`` not a tensor.
        ValueError: ``hidden`` not 3-D, ``attention_mask`` not ``(B, T)`` or on another device.
    """
    if not isinstance(hidden, Tensor):
        raise TypeError(f"hidden must be a tensor, but got {type(hidden).__name__}")
    if hidden.ndim != 3:
        raise ValueError(f"hidden must have shape (B, T, d), but got {tuple(hidden.shape)}")
    if not hidden.dtype.is_floating_point:
        raise TypeError(f"hidden must be a floating-point tensor, but has dtype {hidden.dtype}")
    if attention_mask is None:
        return hidden.mean(dim=1)
    if not isinstance(attention_mask, Tensor):
        raise TypeError(
            f"attention_mask must be a tensor or None, but got {type(attention_mask).__name__}"
        )
    if attention_mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"attention_mask must have shape (B, T) = {tuple(hidden.shape[:2])}, "
            f"but got {tuple(attention_mask.shape)}"
        )
    check_device("attention_mask", attention_mask, hidden.device, "hidden is")
    weights = (attention_mask != 0).to(hidden.dtype)[..., None]  # (B, T, 1)
    # clamp: an all-padding row gives a zero vector instead of 0/0 = NaN.
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
