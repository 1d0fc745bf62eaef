"""Pick the best available device, so that no code in the book calls ``.cuda()`` itself."""

from __future__ import annotations

import torch

__all__ = ["get_device"]


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """Return ``prefer`` if given, else CUDA, then Apple's MPS, then the CPU.

    Raises:
        ValueError: ``prefer`` is not a device name PyTorch knows (e.g. ``"gpu"``).

    >>> get_device("cpu")
    device(type='cpu')
    """
    if prefer is not None:
        try:
            return torch.device(prefer)
        except (RuntimeError, TypeError) as e:
            raise ValueError(
                f"prefer must be a device name such as 'cpu', 'cuda', 'cuda:1' or 'mps', "
                f"but got {prefer!r}"
            ) from e
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
