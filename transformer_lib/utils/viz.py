"""Pictures the chapters draw: attention heatmaps, masks and training curves (matplotlib).

matplotlib is imported lazily, so the library itself needs only PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ..utils._checks import is_int

__all__ = ["plot_attention", "plot_training_curve"]


def _as_2d(weights: Tensor) -> Tensor:
    w = torch.as_tensor(weights).detach().float().cpu()
    while w.ndim > 2 and w.shape[0] == 1:  # drop leading singleton batch/head dimensions
        w = w[0]
    if w.ndim != 2:
        raise ValueError(
            f"weights must be a (T_q, T_k) matrix (leading size-1 dimensions are dropped), "
            f"but has shape {tuple(weights.shape)}"
        )
    return w


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # optional: only the plots need it
        raise ImportError("the plots need matplotlib: pip install matplotlib") from e
    return plt


def plot_attention(
    weights: Tensor,
    *,
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    ax=None,
    title: str | None = None,
    cmap: str = "viridis",
    colorbar: bool = True,
    annotate: bool = False,
):
    """Draw a ``(T_q, T_k)`` attention matrix (or a boolean mask) as a heatmap.

    Rows are queries, columns are keys. Returns the matplotlib ``Axes``.
    """
    plt = _pyplot()

    w = _as_2d(weights)
    for name, labels, n in (("x_labels", x_labels, w.shape[1]), ("y_labels", y_labels, w.shape[0])):
        if labels is not None and len(labels) != n:  # before a figure is opened
            what = "keys" if name == "x_labels" else "queries"
            raise ValueError(f"{name} has {len(labels)} labels, but weights has {n} {what}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.35 * w.shape[1] + 2, 0.35 * w.shape[0] + 1.2))
    vmax = 1.0 if float(w.max()) <= 1.0 and float(w.min()) >= 0.0 else None
    image = ax.imshow(w.numpy(), cmap=cmap, vmin=0.0 if vmax else None, vmax=vmax)
    for labels, set_ticks, set_labels, n in (
        (x_labels, ax.set_xticks, ax.set_xticklabels, w.shape[1]),
        (y_labels, ax.set_yticks, ax.set_yticklabels, w.shape[0]),
    ):
        if labels is not None:
            set_ticks(range(n))
            set_labels(list(labels))
    if x_labels is not None and max((len(str(s)) for s in x_labels), default=0) > 2:
        plt.setp(ax.get_xticklabels(), rotation=90)
    if annotate:
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                value = float(w[i, j])
                color = "black" if value > 0.6 * float(w.max()) else "white"
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xlabel("key position")
    ax.set_ylabel("query position")
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_training_curve(
    losses: Sequence[float],
    *,
    ax=None,
    label: str | None = None,
    smooth: int = 20,
    ylabel: str = "training loss",
    log_scale: bool = True,
):
    """Plot a loss curve per step, with a running mean over ``smooth`` steps on top."""
    plt = _pyplot()

    if not is_int(smooth) or smooth < 1:
        raise ValueError(f"smooth must be a positive int (1 = no smoothing), but got {smooth!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    y = torch.as_tensor(list(losses), dtype=torch.float64)
    (line,) = ax.plot(y.numpy(), alpha=0.3, label=None)
    if smooth > 1 and len(y) >= smooth:
        kernel = torch.ones(1, 1, smooth, dtype=torch.float64) / smooth
        running = torch.nn.functional.conv1d(y[None, None], kernel)[0, 0]
        ax.plot(range(smooth - 1, len(y)), running.numpy(), color=line.get_color(), label=label)
    elif label:
        line.set_label(label)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if log_scale:
        ax.set_yscale("log")
    if label:
        ax.legend()
    return ax
