"""A minimal training loop with a progress bar; later chapters add schedules and checkpoints."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["train"]


def train(
    model: nn.Module,
    get_batch: Callable[[int], Any],
    loss_fn: Callable[[nn.Module, Any], Tensor],
    optimizer: torch.optim.Optimizer,
    *,
    steps: int,
    clip_grad_norm: float | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    progress: bool = True,
    desc: str = "training",
) -> list[float]:
    """Run ``steps`` optimisation steps and return the loss of each step.

    Args:
        model: put in training mode for the run (and left there).
        get_batch: ``get_batch(step)`` returns the batch for that step.
        loss_fn: ``loss_fn(model, batch)`` returns a scalar loss tensor.
        optimizer: steps once per batch.
        steps: number of optimisation steps.
        clip_grad_norm: clip the global gradient norm to this value, if given.
        scheduler: stepped once per optimisation step, if given.
        progress: show a ``tqdm`` progress bar with the running loss.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, but got {steps!r}")
    bar = None
    if progress:
        # The plain text bar works in terminals and notebooks alike, without ipywidgets.
        from tqdm import tqdm

        bar = tqdm(total=steps, desc=desc, mininterval=1.0)
    model.train()
    losses: list[float] = []
    try:
        for step in range(steps):
            loss = loss_fn(model, get_batch(step))
            if loss.ndim != 0:
                raise ValueError(f"loss_fn must return a scalar, but returned shape {loss.shape}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
            if not math.isfinite(losses[-1]):
                raise FloatingPointError(f"the loss became {losses[-1]} at step {step}")
            if bar is not None:
                bar.update(1)
                if step % 10 == 0 or step == steps - 1:
                    recent = losses[-10:]
                    # refresh=False: redraw only every `mininterval`, not at every postfix change
                    bar.set_postfix(loss=f"{sum(recent) / len(recent):.4f}", refresh=False)
    finally:
        if bar is not None:
            bar.close()
    return losses
