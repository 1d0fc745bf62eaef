"""Learning-rate schedules, as ``torch.optim.lr_scheduler.LambdaLR`` (chapters 4 and 5).

Each multiplies the optimizer's base learning rate by a factor that depends on the step.
Step the scheduler once per optimisation step (``tl.train`` does).
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR

from ..utils._checks import is_int

__all__ = ["warmup_schedule", "noam_schedule", "cosine_schedule"]


def _check_steps(name: str, n: int, minimum: int = 0) -> None:
    if not is_int(n) or n < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, but got {n!r}")


def _check_optimizer(optimizer: object) -> None:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer, but got {type(optimizer).__name__}"
        )


def warmup_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int) -> LambdaLR:
    """Linear warm-up from ``1/warmup_steps`` of the base rate to all of it, then constant."""
    _check_optimizer(optimizer)
    _check_steps("warmup_steps", warmup_steps)
    return LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / max(1, warmup_steps)))


def noam_schedule(optimizer: torch.optim.Optimizer, d_model: int, warmup_steps: int) -> LambdaLR:
    """The schedule of Vaswani et al. (2017): ``d_model^-0.5 * min(s^-0.5, s * warmup^-1.5)``.

    Rises linearly for ``warmup_steps``, then decays like the inverse square root of the step.
    Use a base learning rate of 1 (or a small multiple) with it: the factor *is* the rate.
    """
    _check_optimizer(optimizer)
    _check_steps("warmup_steps", warmup_steps, 1)
    _check_steps("d_model", d_model, 1)

    def factor(step: int) -> float:
        s = step + 1
        return d_model**-0.5 * min(s**-0.5, s * warmup_steps**-1.5)

    return LambdaLR(optimizer, factor)


def cosine_schedule(
    optimizer: torch.optim.Optimizer,
    warmup_steps: int,
    total_steps: int,
    min_factor: float = 0.0,
) -> LambdaLR:
    """Linear warm-up, then a cosine decay to ``min_factor`` of the base rate at ``total_steps``."""
    _check_optimizer(optimizer)
    _check_steps("warmup_steps", warmup_steps)
    _check_steps("total_steps", total_steps, 1)
    if (
        isinstance(min_factor, bool)
        or not isinstance(min_factor, (int, float))
        or not 0.0 <= min_factor <= 1.0
    ):
        raise ValueError(f"min_factor must be a number in [0, 1], but got {min_factor!r}")
    if warmup_steps > total_steps:
        raise ValueError(
            f"warmup_steps ({warmup_steps}) must not exceed total_steps ({total_steps})"
        )

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)
