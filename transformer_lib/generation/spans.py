"""Question answering's outputs: from start and end logits to the best answer span, or to "no
answer" when the ``[CLS]`` position scores higher (SQuAD 2.0; chapter 8).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import torch
from torch import Tensor

from ..utils._checks import check_device

__all__ = ["QASpans", "best_spans"]


class QASpans(NamedTuple):
    """What :func:`best_spans` returns, each ``(B,)``.

    ``start``, ``end``: the chosen tokens (both 0 for "no answer"); ``span_score``: the best
    span's ``start + end`` logit (``-inf`` if the pair has no context token); ``null_score``:
    ``start[0] + end[0]``, the score of "no answer".
    """

    start: Tensor
    end: Tensor
    span_score: Tensor
    null_score: Tensor


def best_spans(
    start_logits: Tensor,
    end_logits: Tensor,
    context_mask: Tensor,
    *,
    max_answer_len: int = 30,
    null_threshold: float = 0.0,
) -> QASpans:
    """The best answer span of each pair, or "no answer".

    A span ``i..j`` is allowed if both ends are context tokens, ``i <= j`` and it has at most
    ``max_answer_len`` tokens; its score is ``start_logits[i] + end_logits[j]`` (the log of
    the product of the two softmax probabilities, up to a constant per pair). The model
    answers when ``span_score - null_score > null_threshold``, where ``null_score`` is the
    score of pointing at ``[CLS]``. ``null_threshold = 0`` trusts the model's own scores; a
    larger value answers less often (fewer wrong answers to unanswerable questions, more
    missed answers), and is usually tuned on held-out data to maximise F1.

    Args:
        start_logits, end_logits: ``(B, T)``.
        context_mask: ``(B, T)`` bool, ``True`` at context tokens.
        max_answer_len: the longest allowed span, in tokens.
        null_threshold: the margin a span must beat "no answer" by.

    Returns:
        :class:`QASpans`.

    Raises:
        ValueError: on mismatched shapes or devices, an empty sequence or a bad
            ``max_answer_len``.
        TypeError: on integer logits, a ``context_mask`` that is not bool, or a
            ``null_threshold`` that is not a number.
    """
    if not isinstance(start_logits, Tensor) or start_logits.ndim != 2:
        got = tuple(start_logits.shape) if isinstance(start_logits, Tensor) else start_logits
        raise ValueError(f"start_logits must have shape (B, T), but got {got!r}")
    if start_logits.shape[1] == 0:
        raise ValueError("start_logits must have at least one position (T >= 1), but T is 0")
    for name, t in (("end_logits", end_logits), ("context_mask", context_mask)):
        if not isinstance(t, Tensor) or t.shape != start_logits.shape:
            got = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(
                f"{name} must have the shape of start_logits {tuple(start_logits.shape)}, "
                f"but got {got}"
            )
        check_device(name, t, start_logits.device, "start_logits is")
    for name, t in (("start_logits", start_logits), ("end_logits", end_logits)):
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, but has dtype {t.dtype}")
    # An integer 0/1 mask is the classic mix-up with additive masks: the library's masks are
    # boolean everywhere, so say so rather than guess.
    if context_mask.dtype != torch.bool:
        raise TypeError(
            f"context_mask must be a bool tensor (True at context tokens), but has dtype "
            f"{context_mask.dtype}"
        )
    if isinstance(null_threshold, bool) or not isinstance(null_threshold, numbers.Real):
        raise TypeError(f"null_threshold must be a number, but got {type(null_threshold).__name__}")
    if (
        not isinstance(max_answer_len, int)
        or isinstance(max_answer_len, bool)
        or max_answer_len < 1
    ):
        raise ValueError(f"max_answer_len must be a positive int, but got {max_answer_len!r}")
    T = start_logits.shape[1]
    s, e = start_logits.float(), end_logits.float()
    scores = s[:, :, None] + e[:, None, :]  # (B, T_start, T_end)
    i = torch.arange(T, device=s.device)
    # j >= i and j - i < max_answer_len, both ends in the context
    length_ok = (i[None, :] >= i[:, None]) & (i[None, :] - i[:, None] < max_answer_len)
    allowed = length_ok & context_mask[:, :, None] & context_mask[:, None, :]
    scores = scores.masked_fill(~allowed, float("-inf"))
    span_score, flat = scores.flatten(1).max(dim=1)
    start, end = flat // T, flat % T
    null_score = s[:, 0] + e[:, 0]
    answer = span_score - null_score > null_threshold
    zero = torch.zeros_like(start)
    return QASpans(
        torch.where(answer, start, zero), torch.where(answer, end, zero), span_score, null_score
    )
