"""Argument guards shared by every module: one definition of "an int", "a number", "a positive
int" and "on the right device", so that every error names the argument the same way.

Private: the names here are not part of ``tl``; library modules import them from here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


def is_int(value: object) -> bool:
    """An ``int`` that is not a ``bool`` (``True`` is an ``int`` to Python, never to us)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_positive_int(name: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an int >= 1."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive int, but got {value!r}")


def check_device(
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


def device_of(linear: nn.Module) -> torch.device:
    """The device of a linear layer's parameters, also when LoRA has wrapped it."""
    if isinstance(linear, nn.Linear):  # the common case, without a generator
        return linear.weight.device
    return next(linear.parameters()).device


def check_ids(name: str, ids: object, high: int) -> None:
    """``ids`` must be a 2-D integer tensor with values in ``[0, high)``."""
    if not isinstance(ids, Tensor):
        raise TypeError(f"{name} must be a tensor of shape (B, T), but got {type(ids).__name__}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer ids, but has dtype {ids.dtype}")
    if ids.ndim != 2:
        raise ValueError(f"{name} must have shape (B, T), but has shape {tuple(ids.shape)}")
    # Checked here so that a bad id is a clear error, not a CUDA device-side assert.
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= high):
        raise ValueError(
            f"{name} must lie in [0, {high}), but range from {int(ids.min())} to {int(ids.max())}"
        )


def check_same_shape(name: str, t: object, input_ids: Tensor) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a tensor, but got {type(t).__name__}")
    check_device(name, t, input_ids.device, "input_ids is")
    if t.shape != input_ids.shape:
        raise ValueError(
            f"{name} must have the shape of input_ids {tuple(input_ids.shape)}, "
            f"but has shape {tuple(t.shape)}"
        )


def check_labels(
    labels: object, shape: torch.Size, high: int | None, shape_name: str, ignore_index: int
) -> None:
    """Labels of ``shape``, each ``ignore_index`` (skipped by the loss) or a class in
    ``[0, high)``."""
    if not isinstance(labels, Tensor):
        raise TypeError(f"labels must be a tensor, but got {type(labels).__name__}")
    if labels.shape != shape:
        raise ValueError(
            f"labels must have shape {shape_name} = {tuple(shape)}, "
            f"but has shape {tuple(labels.shape)}"
        )
    if high is None:
        return
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise TypeError(f"labels must hold integer class ids, but has dtype {labels.dtype}")
    kept = labels[labels != ignore_index]
    if kept.numel() and (int(kept.min()) < 0 or int(kept.max()) >= high):
        raise ValueError(
            f"labels must be {ignore_index} or lie in [0, {high}), but range from "
            f"{int(kept.min())} to {int(kept.max())}"
        )


def check_dropout(p: object) -> None:
    # nn.Dropout accepts p=1 (drop everything) and names no argument for p outside [0, 1].
    if not is_number(p):
        raise ValueError(f"dropout must be a number in [0, 1), but got {p!r}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), but got {p}")


def check_features(x: Tensor, d_model: int, device: torch.device) -> None:
    """``x`` must be a floating-point ``(..., d_model)`` tensor on ``device``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a tensor, but got {type(x).__name__}")
    if x.ndim == 0 or x.shape[-1] != d_model:
        last = x.shape[-1] if x.ndim else "none (a scalar)"
        raise ValueError(f"x has last dimension {last}, but d_model is {d_model}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"x must be a floating-point tensor, but has dtype {x.dtype}")
    check_device("x", x, device)


def check_sequence(name: str, x: Tensor, d_model: int, device: torch.device) -> None:
    """``x`` must be a floating-point ``(B, T, d_model)`` tensor on ``device``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a tensor, but got {type(x).__name__}")
    if x.ndim != 3 or x.shape[-1] != d_model:
        raise ValueError(
            f"{name} must have shape (B, T, d_model={d_model}), but has {tuple(x.shape)}"
        )
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point tensor, but has dtype {x.dtype}")
    check_device(name, x, device)


def check_memory(memory: Tensor, x: Tensor, d_model: int, device: torch.device) -> None:
    """The encoder output ``memory`` ``(B, S, d_model)`` must match the target ``x``'s batch."""
    if not isinstance(memory, Tensor):
        raise TypeError(f"memory must be a tensor, but got {type(memory).__name__}")
    if memory.ndim != 3 or memory.shape[-1] != d_model:
        raise ValueError(
            f"memory must have shape (B, S, d_model={d_model}), but has {tuple(memory.shape)}"
        )
    if memory.shape[0] != x.shape[0]:
        raise ValueError(f"memory has batch size {memory.shape[0]}, but x has {x.shape[0]}")
    check_device("memory", memory, device)
