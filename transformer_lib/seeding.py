"""One seeding helper: a seeded run repeats on the same machine."""

from __future__ import annotations

import random

import torch

__all__ = ["set_seed"]


def set_seed(seed: int = 0) -> torch.Generator:
    """Seed Python's and PyTorch's random number generators (CPU and every GPU).

    Returns a fresh ``torch.Generator`` seeded with ``seed`` for code that wants its own
    stream (e.g. a data generator that must not depend on how many weights were initialised).
    NumPy is seeded too when it is installed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, but got {type(seed).__name__}")
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    try:
        import numpy as np
    except ImportError:  # numpy is optional for the library
        pass
    else:
        np.random.seed(seed % 2**32)
    return torch.Generator().manual_seed(seed)
