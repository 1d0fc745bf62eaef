"""Pick the best available device, so that no code in the book calls ``.cuda()`` itself."""

from __future__ import annotations

import torch

__all__ = ["get_device"]


def get_device(prefer: str | None = None) -> torch.device:
    """Return ``prefer`` if given, else CUDA, then Apple's MPS, then the CPU.

    >>> get_device("cpu")
    device(type='cpu')
    """
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
