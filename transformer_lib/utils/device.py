"""Pick the best available device, so that no code in the book calls ``.cuda()`` itself."""

from __future__ import annotations

import torch
from torch import nn

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


def _check_device(
    name: str, x: torch.Tensor, expected: torch.device, owner: str = "the module's parameters are"
) -> None:
    """Raise a named ``ValueError`` when ``x`` is not on the ``expected`` device.

    A comparison of two ``torch.device`` objects: no synchronisation with the GPU, so it is
    cheap enough for every forward pass. Without it a CPU input to a CUDA module fails deep
    inside a kernel with a message that names neither the argument nor the fix.
    """
    if x.device != expected:
        raise ValueError(
            f"{name} is on device {x.device}, but {owner} on {expected}; "
            f"move them to one device (e.g. {name}.to({str(expected)!r}))"
        )


def _device_of(linear: nn.Module) -> torch.device:
    """The device of a linear layer's parameters, also when LoRA has wrapped it."""
    if isinstance(linear, nn.Linear):  # the common case, without a generator
        return linear.weight.device
    return next(linear.parameters()).device
