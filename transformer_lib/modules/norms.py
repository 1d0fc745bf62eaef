"""Layer normalization and RMS normalization, written out (chapter 4).

Both normalise each token's feature vector on its own, so they do not depend on the batch
size or on the padding in other sequences (unlike batch normalization).

The formulas are written out below. Where PyTorch has a fused kernel for exactly the same
formula (``F.layer_norm``, ``F.rms_norm``), the modules call it instead: one kernel instead of
about seven, equal up to floating-point rounding, and several times faster on small inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..utils._checks import check_features, is_int, is_number

__all__ = ["LayerNorm", "RMSNorm", "NORMS", "norm_name", "make_norm"]

_HALF = (torch.float16, torch.bfloat16)
_HAS_RMS_NORM = hasattr(F, "rms_norm")  # PyTorch 2.4 and later


def _fused_dtype(h: Tensor, *params: Tensor | None) -> bool:
    """Whether the fused kernel computes what the written-out formula does: the parameters'
    dtypes promote to ``h``'s, so the formula's result has ``h``'s dtype too."""
    for p in params:
        if p is not None and p.dtype != h.dtype:
            if torch.promote_types(h.dtype, p.dtype) != h.dtype:
                return False
    return True


def _check_eps(eps: object) -> None:
    if not is_number(eps) or not eps >= 0:
        raise ValueError(f"eps must be a number >= 0, but got {eps!r}")


def _as(p: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    return p if p is None or p.dtype == dtype else p.to(dtype)


class LayerNorm(nn.Module):
    r"""``y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias`` over the last dimension.

    Ba et al. (2016). ``var`` is the biased (population) variance, as in ``nn.LayerNorm``.
    Shapes: ``(..., d_model) -> (..., d_model)``.

    Raises:
        ValueError: ``d_model`` not a positive int, ``eps < 0``; in ``forward``, an ``x`` whose
            last dimension is not ``d_model`` or that lies on another device than the weight.
        TypeError: in ``forward``, an ``x`` that is not a floating-point tensor.
    """

    def __init__(self, d_model: int, eps: float = 1e-5, *, bias: bool = True) -> None:
        super().__init__()
        if not is_int(d_model) or d_model < 1:
            raise ValueError(f"d_model must be a positive int, but got {d_model!r}")
        _check_eps(eps)
        self.d_model, self.eps = d_model, eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model)) if bias else None

    def extra_repr(self) -> str:
        return f"{self.d_model}, eps={self.eps}, bias={self.bias is not None}"

    def forward(self, x: Tensor) -> Tensor:
        check_features(x, self.d_model, self.weight.device)
        # Compute the statistics in at least float32: half precision loses the small variances.
        h = x.float() if x.dtype in _HALF else x
        weight, bias = self.weight, self.bias
        if _fused_dtype(h, weight, bias):  # the same formula in one kernel
            y = F.layer_norm(h, (self.d_model,), _as(weight, h.dtype), _as(bias, h.dtype), self.eps)
            return y if y.dtype == x.dtype else y.to(x.dtype)
        mean = h.mean(dim=-1, keepdim=True)
        var = h.var(dim=-1, keepdim=True, unbiased=False)
        y = (h - mean) * torch.rsqrt(var + self.eps) * self.weight
        if self.bias is not None:
            y = y + self.bias
        # Cast last: a float32 weight times a bfloat16 tensor would otherwise promote to float32.
        return y.to(x.dtype)


class RMSNorm(nn.Module):
    r"""``y = x / sqrt(mean(x^2) + eps) * weight``: layer norm without centring or bias.

    Zhang & Sennrich (2019); used by Llama and most recent decoders.
    Shapes: ``(..., d_model) -> (..., d_model)``.

    Raises:
        ValueError, TypeError: as :class:`LayerNorm`.
    """

    def __init__(self, d_model: int, eps: float = 1e-6) -> None:
        super().__init__()
        if not is_int(d_model) or d_model < 1:
            raise ValueError(f"d_model must be a positive int, but got {d_model!r}")
        _check_eps(eps)
        self.d_model, self.eps = d_model, eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def extra_repr(self) -> str:
        return f"{self.d_model}, eps={self.eps}"

    def forward(self, x: Tensor) -> Tensor:
        check_features(x, self.d_model, self.weight.device)
        h = x.float() if x.dtype in _HALF else x
        if _HAS_RMS_NORM and _fused_dtype(h, self.weight):  # the same formula in one kernel
            y = F.rms_norm(h, (self.d_model,), _as(self.weight, h.dtype), self.eps)
            return y if y.dtype == x.dtype else y.to(x.dtype)
        y = h * torch.rsqrt(h.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight
        return y.to(x.dtype)  # the output follows the input's dtype, whatever the weight's


#: The norms the library builds by name.
NORMS = ("layernorm", "rmsnorm")
# The layers spelled them "layer" and "rms" before the library had subpackages; GPTConfig
# spelled them as NORMS. Both spellings stay accepted, so saved configs and notebooks load.
_NORM_ALIASES = {"layer": "layernorm", "rms": "rmsnorm"}


def norm_name(kind: object) -> str:
    """The library's name for a norm option: ``"layer"`` -> ``"layernorm"``, ``"rms"`` ->
    ``"rmsnorm"``; raise ``ValueError`` for anything else."""
    name = _NORM_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if name not in NORMS:
        raise ValueError(
            f"norm must be one of {NORMS} (or their short forms 'layer', 'rms'), but got {kind!r}"
        )
    return name


def make_norm(
    kind: str, d_model: int, *, eps: float | None = None, bias: bool = True
) -> LayerNorm | RMSNorm:
    """``"layernorm"`` -> :class:`LayerNorm`, ``"rmsnorm"`` -> :class:`RMSNorm` (the short
    forms ``"layer"`` and ``"rms"`` too). ``eps=None`` keeps the class's default; ``bias`` is
    LayerNorm's (RMSNorm has none)."""
    if norm_name(kind) == "rmsnorm":
        return RMSNorm(d_model) if eps is None else RMSNorm(d_model, eps)
    return LayerNorm(d_model, bias=bias) if eps is None else LayerNorm(d_model, eps, bias=bias)
