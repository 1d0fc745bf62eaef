"""What the training loop needs to know about wrappers and ranks: the plain model inside
``torch.compile`` and ``DistributedDataParallel``, this process's rank, and each rank's random
number generator state in a checkpoint.

Private to ``training``: used by :func:`~transformer_lib.train`.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from ..utils._rng import capture_rng_state, rng_state_from_json, rng_state_to_json, set_rng_state


def find_ddp(model: nn.Module) -> nn.parallel.DistributedDataParallel | None:
    """The ``DistributedDataParallel`` wrapper in ``model``'s chain of wrappers, if any."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel):
            return model
        inner = getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return None
        model = inner


def rank_and_world_size() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` outside a distributed run."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def local_rng() -> dict[str, Any]:
    """This process's RNG states (its own CUDA device only), as JSON values."""
    return rng_state_to_json(capture_rng_state(cuda="current"))


def gather_rank_rngs(world_size: int) -> list[dict[str, Any]]:
    """Every rank's RNG states, gathered on every rank (a collective: all ranks must call)."""
    states: list[Any] = [None] * world_size
    torch.distributed.all_gather_object(states, local_rng())
    return states


def restore_rank_rng(states: Any, rank: int, world_size: int) -> None:
    """Give this rank back its own RNG stream (the checkpoint's main state is rank 0's)."""
    if not isinstance(states, list) or len(states) != world_size:
        saved = len(states) if isinstance(states, list) else 1
        warnings.warn(
            f"the checkpoint was written by a run of {saved} process(es), this run has "
            f"{world_size}: it continues, but will not repeat an uninterrupted run exactly",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    try:
        mine = rng_state_from_json(states[rank])
    except ValueError as e:
        warnings.warn(
            f"this rank's random number generator state in the checkpoint is unreadable "
            f"({e}): the run continues, but will not repeat an uninterrupted run exactly",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    set_rng_state(mine)
