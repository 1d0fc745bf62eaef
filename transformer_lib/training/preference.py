"""Preference tuning with Direct Preference Optimization (Rafailov et al. 2023; chapter 10).

RLHF fits a reward model to human choices between two answers (Bradley and Terry's model:
``P(chosen > rejected) = sigmoid(r_c - r_r)``) and then maximises the reward minus
``beta`` times the KL divergence from a reference model. That objective's optimal policy is
``pi*(y|x) = pi_ref(y|x) exp(r(x, y) / beta) / Z(x)``, so the reward is
``beta * log(pi*(y|x) / pi_ref(y|x))`` up to a term that cancels between two answers to the
same prompt. Put into Bradley-Terry, the reward model disappears: DPO fits the policy to the
preferences directly. :func:`sequence_logprob` gives the log-probabilities the loss needs.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.masking import IGNORE_INDEX
from ..utils._checks import check_device, is_number

__all__ = ["sequence_logprob", "dpo_loss", "DPOLoss"]


def sequence_logprob(logits: Tensor, targets: Tensor) -> Tensor:
    """``(B,)``: the summed log-probability of each row's targets, ``IGNORE_INDEX`` skipped.

    ``logits`` ``(B, T, V)`` from a language model and ``targets`` ``(B, T)`` as
    :func:`~transformer_lib.sft_batch` makes them: ``log p(response | prompt)`` per example.
    Computed in float32 at least, whatever the logits' dtype.
    """
    if not isinstance(logits, Tensor) or not logits.dtype.is_floating_point or logits.ndim != 3:
        what = (
            f"shape {tuple(logits.shape)}, dtype {logits.dtype}"
            if isinstance(logits, Tensor)
            else type(logits).__name__
        )
        raise ValueError(f"logits must be a floating-point (B, T, V) tensor, but got {what}")
    if not isinstance(targets, Tensor) or targets.dtype != torch.long:
        what = targets.dtype if isinstance(targets, Tensor) else type(targets).__name__
        raise TypeError(f"targets must be a long tensor of token ids, but got {what}")
    if targets.shape != logits.shape[:2]:
        raise ValueError(
            f"targets must have shape (B, T) = {tuple(logits.shape[:2])} like the logits, "
            f"but has {tuple(targets.shape)}"
        )
    check_device("targets", targets, logits.device, "logits are")
    keep = targets != IGNORE_INDEX
    log_probs = logits.float().log_softmax(dim=-1)
    picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * keep).sum(dim=-1)


class DPOLoss(NamedTuple):
    """:func:`dpo_loss`'s result: the loss, and each example's implicit rewards (detached)."""

    loss: Tensor
    chosen_rewards: Tensor
    rejected_rewards: Tensor


def dpo_loss(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    reference_chosen: Tensor,
    reference_rejected: Tensor,
    *,
    beta: float = 0.1,
) -> DPOLoss:
    """The DPO loss (Rafailov et al. 2023, eq. 7) from ``(B,)`` sequence log-probabilities.

    ``loss = mean(-log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))))``, where ``pi`` are
    the policy's log-probabilities of the chosen and rejected responses and ``ref`` the frozen
    reference model's. The implicit rewards are ``beta * (pi - ref)``, detached. No gradient
    reaches the reference log-probabilities, even if they require one.

    ``beta`` sets how far the policy may move from the reference: the KL penalty's weight.
    """
    given = {
        "policy_chosen": policy_chosen,
        "policy_rejected": policy_rejected,
        "reference_chosen": reference_chosen,
        "reference_rejected": reference_rejected,
    }
    for name, t in given.items():
        if not isinstance(t, Tensor) or not t.dtype.is_floating_point:
            what = t.dtype if isinstance(t, Tensor) else type(t).__name__
            raise TypeError(f"{name} must be a floating-point tensor, but got {what}")
        if t.ndim != 1 or t.shape != policy_chosen.shape:
            raise ValueError(
                f"{name} must have shape (B,) = {tuple(policy_chosen.shape)} like "
                f"policy_chosen (one log-probability per example), but has {tuple(t.shape)}"
            )
        check_device(name, t, policy_chosen.device, "policy_chosen is")
    if not is_number(beta) or not beta > 0:
        raise ValueError(f"beta must be a number > 0, but got {beta!r}")
    chosen = policy_chosen - reference_chosen.detach()
    rejected = policy_rejected - reference_rejected.detach()
    loss = -F.logsigmoid(beta * (chosen - rejected)).mean()
    return DPOLoss(loss, beta * chosen.detach(), beta * rejected.detach())
