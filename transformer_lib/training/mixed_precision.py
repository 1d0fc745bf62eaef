"""Choosing the autocast dtype for ``train(..., amp=...)``: bfloat16 or float16, and whether the
device supports it."""

from __future__ import annotations

import warnings
from typing import Any

import torch

__all__ = ["AMP_NAMES", "check_amp", "amp_dtype"]


AMP_NAMES = ("bfloat16", "bf16", "float16", "fp16", "half")


def check_amp(amp: Any) -> None:
    if not isinstance(amp, bool) and amp not in AMP_NAMES:
        raise ValueError(f"amp must be a bool, 'bfloat16' or 'float16', but got {amp!r}")


def amp_dtype(amp: bool | str, device_type: str) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device_type``, or None to run in full precision."""
    check_amp(amp)
    if amp is False:
        return None
    if amp is True:
        dtype = torch.float16 if device_type == "cuda" else torch.bfloat16
    else:
        dtype = torch.bfloat16 if amp in ("bfloat16", "bf16") else torch.float16
    try:
        available = torch.amp.is_autocast_available(device_type)
    except AttributeError:  # older PyTorch: autocast exists for these two
        available = device_type in ("cpu", "cuda")
    if not available or (device_type == "cpu" and dtype == torch.float16):
        warnings.warn(
            f"amp={amp!r} is not supported on {device_type}; training in full precision",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return dtype
