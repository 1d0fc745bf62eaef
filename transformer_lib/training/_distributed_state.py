"""What the training loop needs to know about wrappers and ranks: the plain model inside
``torch.compile`` and ``DistributedDataParallel``, this process's rank, and each rank's random
number generator state in a checkpoint.

Private to ``training``: used by :func:`~transformer_lib.train`.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any

import torch
from torch import Tensor, nn


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside ``torch.compile`` and ``DistributedDataParallel`` wrappers.

    Checkpoints hold the plain model's state dict, so that they load into any model of the
    same architecture, wrapped or not (a wrapper's keys carry a ``_orig_mod.`` or ``module.``
    prefix).
    """
    while True:
        if hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod  # torch.compile's OptimizedModule
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


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


def encode_rng_state(state: Tensor) -> str:
    """A byte tensor (an RNG state) as base64 text, to store it in a checkpoint's JSON."""
    return base64.b64encode(state.cpu().numpy().tobytes()).decode("ascii")


def decode_rng_state(text: str) -> Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()


def local_rng() -> dict[str, Any]:
    """This process's PyTorch RNG states (CPU, and its current CUDA device if in use)."""
    state: dict[str, Any] = {"torch": encode_rng_state(torch.get_rng_state()), "cuda": None}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = encode_rng_state(torch.cuda.get_rng_state())
    return state


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
    mine = states[rank]
    torch.set_rng_state(decode_rng_state(mine["torch"]))
    if mine.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(decode_rng_state(mine["cuda"]))
