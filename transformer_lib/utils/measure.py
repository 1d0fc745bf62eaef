"""Measure what a piece of code costs: wall-clock time and peak tensor memory.

Used by the chapters to show costs on the reader's own machine and by ``benchmarks/``.
Timings are for comparing two things measured in the same run, never absolute promises.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["time_call", "peak_memory"]


def _check_callable(fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"fn must be callable (with no arguments), but got {type(fn).__name__}")


def time_call(fn: Callable[[], object], *, min_run_time: float = 0.2) -> float:
    """Median seconds per call of ``fn()``, repeated for at least ``min_run_time`` seconds.

    Uses ``torch.utils.benchmark``, which warms up, synchronises CUDA and picks the number
    of repetitions itself.
    """
    _check_callable(fn)
    if (
        isinstance(min_run_time, bool)
        or not isinstance(min_run_time, (int, float))
        or not min_run_time > 0
    ):
        raise ValueError(f"min_run_time must be a number > 0 (seconds), but got {min_run_time!r}")
    from torch.utils import benchmark

    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn})
    return timer.blocked_autorange(min_run_time=min_run_time).median


class _TensorMemoryTracker(TorchDispatchMode):
    """Counts the bytes of every new tensor storage that an operator returns, and subtracts
    them again when the tensor is garbage-collected; ``peak`` is the high-water mark."""

    def __init__(self) -> None:
        super().__init__()
        self.current = 0
        self.peak = 0
        self._live: set[int] = set()

    def _release(self, ptr: int, nbytes: int) -> None:
        self.current -= nbytes
        self._live.discard(ptr)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        inputs = tree_flatten((args, kwargs))[0]
        known = {t.untyped_storage().data_ptr() for t in inputs if isinstance(t, torch.Tensor)}
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            ptr, nbytes = storage.data_ptr(), storage.nbytes()
            if nbytes == 0 or ptr in known or ptr in self._live:  # a view, or in place
                continue
            self._live.add(ptr)
            self.current += nbytes
            self.peak = max(self.peak, self.current)
            weakref.finalize(t, self._release, ptr, nbytes)
        return out


def peak_memory(fn: Callable[[], object], device: torch.device | str | None = None) -> int:
    """Peak bytes of tensor memory that ``fn()`` allocates beyond what already existed.

    On CUDA this is the caching allocator's own peak. Elsewhere every operator's new output
    tensors are tracked until they are freed; workspace that a fused kernel allocates
    internally and frees before it returns is not seen (it is small for attention kernels,
    which work block by block).
    """
    _check_callable(fn)
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    tracker = _TensorMemoryTracker()
    with tracker:
        fn()
    return tracker.peak
