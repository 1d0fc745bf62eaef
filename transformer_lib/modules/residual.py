"""The residual connection around a sublayer, with its normalization before or after (ch. 4).

Shapes: ``(..., d_model)`` in and out.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from ..utils._checks import check_dropout
from .norms import make_norm

__all__ = ["residual", "ResidualSublayer"]


def residual(
    x: Tensor,
    sublayer: Callable[[Tensor], Tensor],
    norm: nn.Module,
    dropout: nn.Module,
    *,
    norm_first: bool,
) -> Tensor:
    """The residual connection around ``sublayer``, with ``norm`` before it or after the sum.

    The one place the formula is written: :class:`ResidualSublayer` and GPT's blocks (which
    keep GPT-2's parameter names ``ln_1``/``ln_2``) both call it.
    """
    if norm_first:
        return x + dropout(sublayer(norm(x)))
    return norm(x + dropout(sublayer(x)))


class ResidualSublayer(nn.Module):
    """A sublayer with its residual connection and normalization, in either order.

    * Post-LN (``norm_first=False``, the 2017 paper): ``norm(x + dropout(f(x)))``.
    * Pre-LN (``norm_first=True``, GPT-2 and most models since): ``x + dropout(f(norm(x)))``.

    ``forward(x, f)`` takes the sublayer as a function, so one wrapper serves attention (which
    needs masks) and the feed-forward network alike.
    """

    def __init__(
        self,
        d_model: int,
        dropout: float = 0.0,
        *,
        norm_first: bool = False,
        norm: str = "layernorm",
        norm_eps: float | None = None,
    ) -> None:
        super().__init__()
        check_dropout(dropout)
        self.norm_first = norm_first
        self.norm = make_norm(norm, d_model, eps=norm_eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        """``x`` ``(..., d_model)``; ``sublayer`` maps such a tensor to one of the same shape."""
        if not callable(sublayer):
            raise TypeError(f"sublayer must be callable, but got {type(sublayer).__name__}")
        return residual(x, sublayer, self.norm, self.dropout, norm_first=self.norm_first)
