"""The Vision Transformer (ViT): an image read as a sequence of patches.

Dosovitskiy et al. (2021) cut an image into non-overlapping ``P x P`` patches, project each
flattened patch to ``d_model`` features (a "token"), prepend a learned ``[CLS]`` vector, add
learned position embeddings and run a Pre-LN Transformer encoder; a linear head classifies
the final ``[CLS]`` vector. Nothing in the model knows that neighbouring patches are close:
that inductive bias, built into convolutions, has to be learned from the data.

Names and layout follow Hugging Face's ``ViTModel`` (here :class:`ViT`, without the pooler)
and ``ViTForImageClassification`` (here :class:`ViTForImageClassification`), so weights map
one to one (see ``tests/test_vit.py``).

Shapes: images ``(B, C, H, W)``; ``N = (H / P) * (W / P)`` patches; the encoder sees
``(B, N + 1, d_model)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..modules.encoder import Encoder
from ..utils._checks import check_device, is_int

__all__ = ["patchify", "PatchEmbedding", "ViTConfig", "ViT", "ViTForImageClassification"]


def _check_images(images: object, num_channels: int | None = None) -> None:
    """Raise a clear error unless ``images`` is a floating ``(B, C, H, W)`` tensor."""
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a tensor, but got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(
            f"images must have shape (B, C, H, W), but has {images.ndim} dimensions "
            f"{tuple(images.shape)}; for one image use images[None]"
        )
    if not images.is_floating_point():
        raise TypeError(
            f"images must be a floating-point tensor, but has dtype {images.dtype}; "
            "convert pixels with images.float() (and scale them, e.g. to [0, 1])"
        )
    if num_channels is not None and images.shape[1] != num_channels:
        raise ValueError(
            f"images must have num_channels={num_channels} channels (dimension 1), "
            f"but have {images.shape[1]} (shape {tuple(images.shape)})"
        )


def _check_divisible(H: int, W: int, patch_size: int) -> None:
    if H % patch_size or W % patch_size:
        raise ValueError(
            f"image height and width must be multiples of patch_size={patch_size}, "
            f"but the images are {H}x{W}"
        )


def patchify(images: Tensor, patch_size: int) -> Tensor:
    """Cut images into non-overlapping square patches, each flattened to one vector.

    Patches are numbered row by row (left to right, then top to bottom), and each patch
    vector lists its pixels channel by channel, row by row: the order of the weights of a
    ``Conv2d(C, d_model, kernel_size=P, stride=P)``, so that ``patchify`` followed by a linear
    layer is that convolution (see :class:`PatchEmbedding`).

    Args:
        images: ``(B, C, H, W)`` floating-point images; ``H`` and ``W`` multiples of ``P``.
        patch_size: ``P``, the side of a patch in pixels.

    Returns:
        ``(B, N, C * P * P)`` with ``N = (H / P) * (W / P)``.

    Raises:
        TypeError: ``images`` is not a floating-point tensor.
        ValueError: wrong rank, or ``H`` or ``W`` not a multiple of ``patch_size``.
    """
    if not is_int(patch_size) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive int, but got {patch_size!r}")
    _check_images(images)
    B, C, H, W = images.shape
    P = patch_size
    _check_divisible(H, W, P)
    x = images.reshape(B, C, H // P, P, W // P, P)  # (B, C, rows, P, cols, P)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, P, P)
    return x.reshape(B, (H // P) * (W // P), C * P * P)


class PatchEmbedding(nn.Module):
    """Project every ``P x P`` patch of an image to a ``d_model`` vector.

    A convolution whose kernel equals its stride sees each patch exactly once and applies the
    same linear map to all of them, so ``projection`` (a ``Conv2d`` with kernel and stride
    ``P``, as in Hugging Face's ``ViTPatchEmbeddings``) equals :func:`patchify` followed by a
    linear layer whose weight is the kernel flattened to ``(d_model, C * P * P)``. The
    convolution is the faster of the two on most devices; :meth:`as_linear` gives the other.

    Args:
        patch_size: ``P``.
        num_channels: ``C``, e.g. 1 for grey images, 3 for RGB.
        d_model: width of a patch token.

    ``forward(images)``: ``(B, C, H, W)`` -> ``(B, N, d_model)``, patches row by row.
    """

    def __init__(self, patch_size: int, num_channels: int, d_model: int) -> None:
        super().__init__()
        for name, value in (
            ("patch_size", patch_size), ("num_channels", num_channels), ("d_model", d_model)
        ):  # fmt: skip
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int, but got {value!r}")
        self.patch_size, self.num_channels, self.d_model = patch_size, num_channels, d_model
        self.projection = nn.Conv2d(num_channels, d_model, patch_size, stride=patch_size)

    def extra_repr(self) -> str:
        return f"patch_size={self.patch_size}, num_channels={self.num_channels}"

    def forward(self, images: Tensor) -> Tensor:
        _check_images(images, self.num_channels)
        _check_divisible(images.shape[2], images.shape[3], self.patch_size)
        check_device("images", images, self.projection.weight.device)
        x = self.projection(images)  # (B, d_model, rows, cols)
        return x.flatten(2).transpose(1, 2)  # (B, N, d_model), patches row by row

    def as_linear(self) -> nn.Linear:
        """The same map as an ``nn.Linear(C * P * P, d_model)`` acting on :func:`patchify`."""
        linear = nn.Linear(self.num_channels * self.patch_size**2, self.d_model)
        linear = linear.to(self.projection.weight.device, self.projection.weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(self.projection.weight.flatten(1))
            linear.bias.copy_(self.projection.bias)
        return linear


@dataclass
class ViTConfig:
    """The size of a :class:`ViT`. Names follow the library's one vocabulary.

    ``image_size`` is the side of the (square) images, a multiple of ``patch_size``;
    ``d_ff`` defaults to ``4 * d_model``; ``dropout`` applies after the embeddings, to the
    attention weights and to every sublayer output; ``norm_eps`` is the LayerNorm epsilon
    (1e-6 in the original ViT code; Hugging Face's default is 1e-12); ``num_labels`` is only
    read by :class:`ViTForImageClassification`.
    """

    image_size: int = 224
    patch_size: int = 16
    num_channels: int = 3
    d_model: int = 768
    num_heads: int = 12
    num_layers: int = 12
    d_ff: int | None = None
    dropout: float = 0.0
    norm_eps: float = 1e-6
    num_labels: int = 1000

    def __post_init__(self) -> None:
        if self.d_ff is None and is_int(self.d_model):
            self.d_ff = 4 * self.d_model
        for name in (
            "image_size", "patch_size", "num_channels", "d_model", "num_heads", "num_layers",
            "d_ff", "num_labels",
        ):  # fmt: skip
            value = getattr(self, name)
            if not is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive int, but got {value!r}")
        if self.image_size % self.patch_size:
            raise ValueError(
                f"image_size={self.image_size} must be a multiple of patch_size={self.patch_size}"
            )
        if self.d_model % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must divide d_model={self.d_model} "
                "(each head gets d_model / num_heads features)"
            )
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be a float in [0, 1), but got {self.dropout!r}")
        if not isinstance(self.norm_eps, (int, float)) or not self.norm_eps > 0:
            raise ValueError(f"norm_eps must be a positive float, but got {self.norm_eps!r}")

    @property
    def num_patches(self) -> int:
        """``N = (image_size / patch_size) ** 2``."""
        return (self.image_size // self.patch_size) ** 2


class ViT(nn.Module):
    """The ViT encoder: patch tokens, ``[CLS]``, learned positions, a Pre-LN encoder.

    The counterpart of Hugging Face's ``ViTModel`` (without its pooler): ``patch_embedding``
    (:class:`PatchEmbedding`), ``cls_token`` ``(1, 1, d_model)``, ``position_embeddings``
    ``(1, N + 1, d_model)`` (one per patch plus one for ``[CLS]``) and ``encoder`` (the
    library's :class:`~transformer_lib.Encoder` with ``norm_first=True``, GELU, and its
    final LayerNorm, which is ViT's last norm).

    ``forward(images, *, return_attentions=False)``: ``images`` ``(B, C, H, W)`` with
    ``H = W = image_size``; returns the ``(B, N + 1, d_model)`` hidden states (``[CLS]`` at
    position 0), or ``(hidden, attentions)`` where ``attentions`` is a list with one
    ``(B, num_heads, N + 1, N + 1)`` tensor of attention weights per layer.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        if not isinstance(config, ViTConfig):
            raise TypeError(f"config must be a ViTConfig, but got {type(config).__name__}")
        self.config = c = config
        self.patch_embedding = PatchEmbedding(c.patch_size, c.num_channels, c.d_model)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.d_model))
        self.position_embeddings = nn.Parameter(torch.zeros(1, c.num_patches + 1, c.d_model))
        # As in the ViT code: small random starts, so that the positions are distinct at first.
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.position_embeddings, std=0.02)
        self.encoder = Encoder(
            c.num_layers, c.d_model, c.num_heads, c.d_ff, c.dropout,
            norm_first=True, activation="gelu", positional=None, norm_eps=c.norm_eps,
        )  # fmt: skip

    def embed(self, images: Tensor) -> Tensor:
        """``(B, C, H, W)`` -> ``(B, N + 1, d_model)``: ``[CLS]`` and patches, plus positions."""
        c = self.config
        _check_images(images, c.num_channels)
        if tuple(images.shape[2:]) != (c.image_size, c.image_size):
            raise ValueError(
                f"images must be {c.image_size}x{c.image_size} (config.image_size; one "
                f"position embedding per patch), but are {images.shape[2]}x{images.shape[3]}"
            )
        patches = self.patch_embedding(images)  # (B, N, d_model)
        cls = self.cls_token.expand(images.shape[0], -1, -1).to(patches.dtype)
        return torch.cat([cls, patches], dim=1) + self.position_embeddings.to(patches.dtype)

    def forward(
        self, images: Tensor, *, return_attentions: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        x = self.embed(images)
        if not return_attentions:
            return self.encoder(x)
        return self.encoder(x, return_weights=True)


class ViTForImageClassification(nn.Module):
    """:class:`ViT` plus a linear ``classifier`` on the final ``[CLS]`` vector.

    Like Hugging Face's ``ViTForImageClassification``: no pooler, the head reads the
    normalised ``[CLS]`` state directly.

    ``forward(images, *, return_attentions=False)``: ``images`` ``(B, C, H, W)``; returns the
    ``(B, num_labels)`` logits, or ``(logits, attentions)`` with the per-layer
    ``(B, num_heads, N + 1, N + 1)`` attention weights.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__()
        self.vit = ViT(config)
        self.config = config
        self.classifier = nn.Linear(config.d_model, config.num_labels)

    def forward(
        self, images: Tensor, *, return_attentions: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        if return_attentions:
            hidden, attentions = self.vit(images, return_attentions=True)
            return self.classifier(hidden[:, 0]), attentions
        return self.classifier(self.vit(images)[:, 0])

    def num_parameters(self) -> int:
        """The number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
