"""AdamW set up the way GPT-style models are usually trained (chapter 7).

Weight decay pulls every parameter towards zero at each step. That regularises the weight
matrices, which map features to features; but a bias only shifts a feature, and a norm's gain
scales it, and pulling those towards zero does not simplify the model: it only fights the
norm (a gain of zero switches a feature off). So, as in GPT-2 and nanoGPT
(Karpathy 2022), the parameters split into two groups: matrices (every parameter with two or
more dimensions: linear and embedding weights) decay, vectors (biases, norm weights) do not.

>>> import transformer_lib as tl
>>> model = tl.GPT(tl.GPTConfig(vocab_size=64, d_model=32, num_heads=2, num_layers=2))
>>> optimizer = configure_optimizer(model, lr=1e-3)
>>> [g["weight_decay"] for g in optimizer.param_groups]
[0.1, 0.0]
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..utils._checks import is_number

__all__ = ["configure_optimizer", "parameter_groups"]


def _check_number(name: str, value: Any, *, low: float, low_ok: bool, high: float | None = None):
    """``value`` must be a real number (not a bool) in the interval given."""
    within = is_number(value) and (value >= low if low_ok else value > low)
    within = within and (high is None or value < high)
    if not within:
        interval = ("[" if low_ok else "(") + f"{low}, " + (f"{high})" if high else "inf)")
        raise ValueError(f"{name} must be a number in {interval}, but got {value!r}")


def parameter_groups(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """``(decay, no_decay)``: the trainable parameters of ``model``, split by their shape.

    ``decay`` holds every parameter with ``ndim >= 2`` (linear and embedding weights),
    ``no_decay`` the rest (biases, norm weights). Each parameter appears once, in
    ``model.named_parameters()`` order, even if it is shared (a tied embedding and output
    head is one parameter); frozen parameters (``requires_grad=False``) are left out.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, but got {type(model).__name__}")
    decay, no_decay = [], []
    # named_parameters() yields a shared parameter only the first time it meets it.
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    return decay, no_decay


def _fused_supported(params: list[nn.Parameter]) -> bool:
    """Whether this PyTorch has a fused AdamW kernel for every one of ``params``.

    Asked of PyTorch itself: constructing a fused AdamW checks the devices and dtypes, and
    the set of supported ones grows from release to release (CUDA first, later CPU and MPS).
    """
    probes = {(p.device, p.dtype) for p in params}
    try:
        for device, dtype in probes:
            torch.optim.AdamW([torch.zeros(1, device=device, dtype=dtype)], fused=True)
    except (RuntimeError, ValueError, TypeError):
        return False
    return True


def configure_optimizer(
    model: nn.Module,
    lr: float,
    *,
    weight_decay: float = 0.1,
    betas: tuple[float, float] = (0.9, 0.95),
    eps: float = 1e-8,
    fused: bool | None = None,
) -> torch.optim.AdamW:
    """AdamW with weight decay on ``model``'s matrices only, fused where PyTorch can.

    Args:
        model: its trainable parameters are optimised; see :func:`parameter_groups`.
        lr: the learning rate (a schedule multiplies it, e.g. ``tl.cosine_schedule``).
        weight_decay: decoupled weight decay (Loshchilov and Hutter 2019) of the matrices.
        betas: Adam's averaging factors of the gradient and its square. GPT-3 used
            ``(0.9, 0.95)``: the shorter memory of the second moment reacts faster to
            gradient spikes in large models.
        eps: added to the denominator, against division by zero.
        fused: use the fused AdamW kernel, which updates all parameters in a few kernel
            launches instead of several per parameter. ``None`` means: fused wherever
            this PyTorch supports it for the parameters' devices and dtypes (CUDA, and in
            recent PyTorch the CPU), else the default multi-tensor (``foreach``) version.
            Both compute the same update, up to floating-point rounding.

    Returns:
        ``torch.optim.AdamW`` with two parameter groups: ``param_groups[0]`` decays
        (``weight_decay``), ``param_groups[1]`` does not (``0.0``).
    """
    _check_number("lr", lr, low=0.0, low_ok=False)
    _check_number("weight_decay", weight_decay, low=0.0, low_ok=True)
    _check_number("eps", eps, low=0.0, low_ok=False)
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair of numbers in [0, 1), but got {betas!r}")
    for i, beta in enumerate(betas):
        _check_number(f"betas[{i}]", beta, low=0.0, low_ok=True, high=1.0)
    if fused is not None and not isinstance(fused, bool):
        raise ValueError(f"fused must be True, False or None, but got {fused!r}")

    decay, no_decay = parameter_groups(model)
    if not decay and not no_decay:
        raise ValueError("model has no trainable parameters (all have requires_grad=False)")
    if fused is None:
        fused = _fused_supported(decay + no_decay)
    groups = [
        {"params": decay, "weight_decay": float(weight_decay)},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # fused=None (not False) keeps PyTorch's default choice, the foreach implementation.
    return torch.optim.AdamW(
        groups, lr=lr, betas=tuple(betas), eps=eps, fused=True if fused else None
    )
