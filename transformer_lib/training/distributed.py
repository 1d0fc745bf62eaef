"""Small helpers for data-parallel training with ``torch.distributed`` (chapter 7).

``torchrun --nproc_per_node=N script.py`` starts ``N`` copies of a script and tells each, in
environment variables, who it is: ``RANK`` (0 to ``WORLD_SIZE - 1`` across all machines),
``LOCAL_RANK`` (its index on this machine, which picks its GPU) and ``WORLD_SIZE``, plus
``MASTER_ADDR`` / ``MASTER_PORT`` where the processes meet. :func:`setup_distributed` reads
them and joins the process group; run without ``torchrun``, it sets up a single process, so
the same script runs both ways::

    info = setup_distributed()
    model = GPT(config).to(info.device)
    if info.world_size > 1:
        model = DistributedDataParallel(model, device_ids=info.device_ids)
    ...
    if is_main_process():
        save_checkpoint(...)
    cleanup()
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..utils.device import get_device

__all__ = [
    "DistributedInfo",
    "setup_distributed",
    "is_distributed",
    "is_main_process",
    "get_rank",
    "get_world_size",
    "all_reduce_mean",
    "cleanup",
]

BACKENDS = ("gloo", "nccl")


@dataclass(frozen=True)
class DistributedInfo:
    """Who this process is in the run, and the device it computes on.

    ``rank`` is its global index, ``local_rank`` its index on this machine, ``world_size`` the
    number of processes (1 without ``torchrun``); ``backend`` is ``None`` for one process.
    """

    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    backend: str | None

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one process that logs and writes files."""
        return self.rank == 0

    @property
    def device_ids(self) -> list[int] | None:
        """What ``DistributedDataParallel(device_ids=...)`` wants: ``[gpu]`` or ``None``."""
        return [self.device.index] if self.device.type == "cuda" else None


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(
            f"environment variable {name} must be an int >= 0, but is {value!r}"
        ) from None
    if number < 0:
        raise ValueError(f"environment variable {name} must be an int >= 0, but is {value!r}")
    return number


def setup_distributed(
    backend: str | None = None, device: str | torch.device | None = None
) -> DistributedInfo:
    """Join the process group that ``torchrun`` set up, or run as a single process.

    Args:
        backend: ``"nccl"`` (NVIDIA's collective library: GPU to GPU, over NVLink or
            InfiniBand where present) or ``"gloo"`` (CPU tensors, over TCP). ``None`` picks
            NCCL when the processes compute on CUDA GPUs and gloo otherwise.
        device: the device for a single process (default: the best available, see
            ``get_device``). With several processes on CUDA, each takes GPU ``LOCAL_RANK``;
            elsewhere they compute on the CPU.

    Returns:
        :class:`DistributedInfo`. Call :func:`cleanup` at the end of the run.

    Raises:
        ValueError: a bad ``backend``, inconsistent environment variables (e.g. ``RANK``
            not below ``WORLD_SIZE``), or more processes on this machine than GPUs.
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, but got {backend!r}")
    world_size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local_rank = _env_int("LOCAL_RANK", rank)
    if world_size < 1 or rank >= world_size:
        raise ValueError(
            f"RANK must lie in [0, WORLD_SIZE), but RANK={rank} and WORLD_SIZE={world_size}"
        )
    if device is not None and torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device is {str(device)!r}, but CUDA is not available here")
    if world_size == 1:
        return DistributedInfo(0, 0, 1, get_device(device), None)

    want_cuda = torch.cuda.is_available() and (
        device is None or torch.device(device).type == "cuda"
    )
    if want_cuda:
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK={local_rank}, but this machine has {torch.cuda.device_count()} "
                "CUDA GPUs: start at most one process per GPU (--nproc_per_node)"
            )
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)  # collectives and bare .cuda() calls use this GPU
    else:
        chosen = torch.device("cpu")
    if backend is None:
        backend = "nccl" if chosen.type == "cuda" else "gloo"
    if backend == "nccl" and chosen.type != "cuda":
        raise ValueError("backend='nccl' needs CUDA GPUs; use 'gloo' on the CPU")
    if not dist.is_initialized():
        # init_method "env://": MASTER_ADDR and MASTER_PORT, set by torchrun.
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
    return DistributedInfo(rank, local_rank, world_size, chosen, backend)


def is_distributed() -> bool:
    """Whether this process belongs to an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's rank; 0 outside a distributed run."""
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    """The number of processes in the run; 1 outside a distributed run."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """True on rank 0, and in a run of one process: the process that logs and saves."""
    return get_rank() == 0


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over all ranks (any shape; each rank passes the same shape).

    A new tensor; ``tensor`` itself is unchanged. Without a process group, a copy of it.
    Every rank must call this (a collective), or the others wait forever.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, but got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise TypeError(f"tensor must have a floating-point dtype, but has {tensor.dtype}")
    out = tensor.detach().clone()
    if is_distributed():
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        out /= dist.get_world_size()
    return out


def cleanup() -> None:
    """Leave the process group (if any), so the process exits cleanly."""
    if is_distributed():
        dist.destroy_process_group()
