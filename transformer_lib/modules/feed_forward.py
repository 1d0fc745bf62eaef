"""The position-wise feed-forward network of a Transformer block, and its gated form SwiGLU.

Shapes: ``(..., d_model)`` in and out.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from ..utils._checks import check_dropout, check_features, check_positive_int, device_of

__all__ = ["ACTIVATIONS", "FeedForward", "SwiGLU"]


def _gelu_tanh(x: Tensor) -> Tensor:
    """GELU with the tanh approximation (Hendrycks & Gimpel, 2016), as GPT-2 was trained."""
    return F.gelu(x, approximate="tanh")


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "gelu_tanh": _gelu_tanh,
}


class FeedForward(nn.Module):
    """Position-wise feed-forward network: ``linear2(dropout(activation(linear1(x))))``.

    ``d_model -> d_ff -> d_model``, applied to every position on its own. Names follow
    ``torch.nn.TransformerEncoderLayer`` (``linear1``, ``linear2``). ``activation`` is
    ``"relu"`` (the 2017 paper), ``"gelu"`` (exact, BERT) or ``"gelu_tanh"`` (GPT-2).

    Raises:
        ValueError: ``d_model`` or ``d_ff`` not a positive int, ``dropout`` outside [0, 1),
            an unknown ``activation``; in ``forward``, an ``x`` whose last dimension is not
            ``d_model`` or that lies on another device than the weights.
        TypeError: in ``forward``, an ``x`` that is not a floating-point tensor.
    """

    def __init__(
        self,
        d_model: int,
        d_ff: int,
        dropout: float = 0.0,
        *,
        activation: str = "relu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("d_ff", d_ff)
        check_dropout(dropout)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)}, but got {activation!r}"
            )
        self.d_model = d_model
        self.activation = activation
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias)
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., d_model) -> (..., d_model)``."""
        check_features(x, self.d_model, device_of(self.linear1))
        return self.linear2(self.dropout(ACTIVATIONS[self.activation](self.linear1(x))))


class SwiGLU(nn.Module):
    """Gated feed-forward network: ``down_proj(silu(gate_proj(x)) * up_proj(x))``.

    Shazeer (2020): one projection, passed through SiLU (``x * sigmoid(x)``), gates another
    elementwise before the projection back. It has three matrices instead of two, so Llama
    shrinks ``d_ff`` to about ``(2/3) * 4 * d_model`` to keep the parameter count of the
    2017 network. ``d_model -> d_ff -> d_model``; names follow Hugging Face's Llama.

    Raises:
        ValueError, TypeError: as :class:`FeedForward`.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, *, bias: bool = False):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("d_ff", d_ff)
        check_dropout(dropout)
        self.d_model = d_model
        self.gate_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.up_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.down_proj = nn.Linear(d_ff, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., d_model) -> (..., d_model)``."""
        check_features(x, self.d_model, device_of(self.gate_proj))
        return self.down_proj(self.dropout(F.silu(self.gate_proj(x)) * self.up_proj(x)))
