"""Running a model for inference inside code that may be training it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

__all__ = ["eval_no_grad"]


@contextlib.contextmanager
def eval_no_grad(model: nn.Module) -> Iterator[None]:
    """Evaluation mode (no dropout) without autograd, restoring the model's mode afterwards."""
    was_training = model.training
    if was_training:  # eval() and train() visit every submodule: skip them when not needed
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            model.train()
