"""One seeding helper: a seeded run repeats on the same machine."""

from __future__ import annotations

import os
import random

import torch

from ..utils._checks import is_int

__all__ = ["set_seed"]


def set_seed(seed: int = 0, *, deterministic: bool = False) -> torch.Generator:
    """Seed Python's and PyTorch's random number generators (CPU and every GPU).

    Args:
        seed: the seed, an int. NumPy's global generator is seeded too when NumPy is
            installed (with ``seed % 2**32``, the range it accepts).
        deterministic: also make PyTorch use only deterministic kernels, so that a GPU run
            repeats bit for bit: ``torch.use_deterministic_algorithms(True)`` (an operation
            that has no deterministic kernel then raises a ``RuntimeError`` naming it,
            rather than silently varying), ``torch.backends.cudnn.benchmark = False`` and
            ``torch.backends.cudnn.deterministic = True`` (the same convolution algorithm
            every run), and the environment variable ``CUBLAS_WORKSPACE_CONFIG=:4096:8``
            when it is not set (older PyTorch releases require it for deterministic cuBLAS
            matrix products, newer ones dropped the check; it must be set before the first
            CUDA operation, so call ``set_seed`` first).
            Deterministic kernels can be slower. ``False`` leaves these settings as they
            are. On a CPU, a seeded run already repeats without it.

    Returns:
        A fresh ``torch.Generator`` seeded with ``seed`` for code that wants its own
        stream (e.g. a data generator that must not depend on how many weights were
        initialised).

    Raises:
        TypeError: ``seed`` is not an int, or ``deterministic`` not a bool.
    """
    if not is_int(seed):
        raise TypeError(f"seed must be an int, but got {type(seed).__name__}")
    if not 0 <= seed < 2**64:
        # torch takes any 64-bit value; NumPy only [0, 2**32), so it gets seed mod 2**32.
        raise ValueError(f"seed must be in [0, 2**64), but got {seed}")
    if not isinstance(deterministic, bool):
        raise TypeError(f"deterministic must be a bool, but got {type(deterministic).__name__}")
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    try:
        import numpy as np
    except ImportError:  # numpy is optional for the library
        pass
    else:
        np.random.seed(seed % 2**32)
    if deterministic:
        # warn_only=False: with a warning only, some kernels (e.g. the memory-efficient
        # attention backward) stay nondeterministic; an error says which op to replace.
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False  # benchmarking may pick another algorithm
        torch.backends.cudnn.deterministic = True
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return torch.Generator().manual_seed(seed)
