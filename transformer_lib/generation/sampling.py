"""Choosing the next token from a model's logits: greedy, temperature, top-k, top-p.

:func:`sample_token` is what :meth:`GPT.generate <transformer_lib.GPT.generate>` calls at
every step (through the overridable :meth:`GPT.sample_token`); it works on any ``(B, V)``
logits, so a reader's own model can use it too.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..utils._checks import check_positive_int, is_number

__all__ = ["sample_token"]


def check_sampling_args(temperature: Any, top_k: Any, top_p: Any) -> None:
    """Raise a ValueError naming the argument unless the three are valid."""
    if not is_number(temperature):
        raise ValueError(f"temperature must be a number >= 0, but got {temperature!r}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), but got {temperature}")
    if top_k is not None:
        check_positive_int("top_k", top_k)
    if top_p is not None and (not is_number(top_p) or not 0 < top_p <= 1):
        raise ValueError(f"top_p must be a number in (0, 1], but got {top_p!r}")


def sample_token(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Pick one token per row of ``(B, V)`` logits; returns ``(B,)`` ids.

    ``temperature`` divides the logits (``0`` means greedy: the most likely token);
    ``top_k`` keeps only the ``top_k`` most likely tokens; ``top_p`` (nucleus sampling,
    Holtzman et al. 2020) keeps the smallest set of most likely tokens whose probabilities
    add up to at least ``top_p``, never empty. ``generator`` makes the draw reproducible.
    """
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits.float() / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth_best = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth_best, float("-inf"))
    if top_p is not None and top_p < 1.0:
        probs, order = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True)
        # Keep a token while the more likely tokens before it sum to less than top_p: the
        # smallest set with probability >= top_p, and never empty (the best token has 0
        # before it).
        drop_sorted = probs.cumsum(dim=-1) - probs >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
