"""Instruction tuning's batches: prompt and response in one sequence, and a loss on the
response only (chapter 10).

Supervised fine-tuning (SFT) trains a language model on (prompt, response) pairs with the
next-token loss, but only on the response's tokens: the prompt is given, not to be imitated
(Ouyang et al. 2022 train on the demonstrations' completions). :func:`sft_batch` builds the
inputs and the targets so that ``GPT(ids, targets)`` computes exactly that loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..utils._checks import is_int
from .masking import IGNORE_INDEX

__all__ = ["sft_batch"]


def _check_examples(name: str, examples: object, minimum: int) -> list[list[int]]:
    if isinstance(examples, (str, bytes)) or not isinstance(examples, Sequence):
        raise TypeError(
            f"{name} must be a list of token-id lists, but got {type(examples).__name__}"
        )
    out = []
    for i, ids in enumerate(examples):
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
            raise TypeError(
                f"{name}[{i}] must be a list of token ids, but got {type(ids).__name__}"
            )
        if not all(is_int(t) for t in ids):
            raise TypeError(f"{name}[{i}] must hold int token ids, but holds {list(ids)[:5]!r}")
        if len(ids) < minimum:
            raise ValueError(f"{name}[{i}] must hold at least {minimum} token(s), but is empty")
        out.append(list(ids))
    return out


def sft_batch(
    prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], *, pad_id: int
) -> tuple[Tensor, Tensor]:
    """``(ids, targets)`` for supervised fine-tuning on (prompt, response) pairs.

    Args:
        prompts, responses: one token-id list each per example (a prompt of at least one
            token, such as the chat template's start, and a non-empty response).
        pad_id: the id that right-pads the shorter sequences.

    Returns:
        ``ids`` ``(B, T)``: each prompt followed by its response, right-padded with
        ``pad_id``; ``targets`` ``(B, T)``: ``targets[b, t] = ids[b, t + 1]`` where that
        token belongs to the response, :data:`~transformer_lib.IGNORE_INDEX` everywhere
        else (the prompt, the padding, the last position). So ``GPT(ids, targets)`` returns
        the loss on the responses alone.
    """
    prompts = _check_examples("prompts", prompts, 1)
    responses = _check_examples("responses", responses, 1)
    if len(prompts) != len(responses):
        raise ValueError(
            f"prompts and responses must pair up, but there are {len(prompts)} prompts and "
            f"{len(responses)} responses"
        )
    if not prompts:
        raise ValueError("prompts and responses must hold at least one example, but are empty")
    if not is_int(pad_id):
        raise TypeError(f"pad_id must be an int, but got {pad_id!r}")
    T = max(len(p) + len(r) for p, r in zip(prompts, responses, strict=True))
    ids = torch.full((len(prompts), T), pad_id, dtype=torch.long)
    targets = torch.full((len(prompts), T), IGNORE_INDEX, dtype=torch.long)
    for b, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        P, R = len(prompt), len(response)
        ids[b, : P + R] = torch.tensor(prompt + response)
        # Position t predicts token t + 1: the response's tokens are predicted from P - 1 on.
        targets[b, P - 1 : P - 1 + R] = torch.tensor(response)
    return ids, targets
