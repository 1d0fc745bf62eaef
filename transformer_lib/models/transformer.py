"""The encoder-decoder Transformer of Vaswani et al. (2017) (chapter 5).

Token ids in, next-token logits out:

* ``src`` ``(B, S)`` ids -> source embeddings * sqrt(d_model) -> :class:`Encoder` -> memory
  ``(B, S, d_model)``;
* ``tgt`` ``(B, T)`` ids -> target embeddings * sqrt(d_model) -> :class:`Decoder` (reading the
  memory) -> generator ``Linear`` -> logits ``(B, T, tgt_vocab_size)``.

Padding tokens (``pad_id``) in the source are hidden from the encoder's self-attention and
from the decoder's cross-attention; padding in the target is hidden from the decoder's
self-attention, which is also causal.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import Tensor, nn

from ..modules.decoder import Decoder
from ..modules.encoder import Encoder
from ..modules.multi_head_attention import KVCache
from ..utils._checks import check_device, check_positive_int, is_int
from .pretrained import PretrainedMixin

__all__ = ["Transformer", "TransformerConfig"]


@dataclasses.dataclass
class TransformerConfig:
    """The shape of a :class:`Transformer`; the fields are its arguments (see there)."""

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 512
    num_heads: int = 8
    num_layers: int = 6
    d_ff: int = 2048
    dropout: float = 0.1
    max_len: int = 512
    pad_id: int = 0
    norm_first: bool = False
    positional: str | None = "sinusoidal"
    tie_embeddings: bool = False
    share_embeddings: bool = False


class Transformer(PretrainedMixin, nn.Module):
    """Encoder-decoder Transformer with the paper's defaults (the "base" model).

    Built either from keyword arguments, ``Transformer(src_vocab_size, tgt_vocab_size,
    d_model=...)``, or from a config, ``Transformer(TransformerConfig(...))``; ``self.config``
    holds the config either way, and ``save_pretrained`` / ``from_pretrained`` save and load
    the model with it.

    Args:
        src_vocab_size, tgt_vocab_size: number of source and target token ids.
        d_model, num_heads, num_layers, d_ff, dropout: as in the paper (512, 8, 6, 2048, 0.1);
            ``num_layers`` layers in the encoder and as many in the decoder.
        max_len: the longest source and the longest target the model accepts.
        pad_id: the padding id, the same in both vocabularies.
        norm_first: Pre-LN if ``True``; Post-LN (the paper) if ``False``.
        positional: ``"sinusoidal"`` (the paper), ``"learned"``, ``"rope"``, ``"alibi"`` or
            ``None``; the same kind in the encoder and the decoder.
        tie_embeddings: share one matrix between the target embedding and the generator
            (the pre-softmax projection; Press & Wolf, 2017). Works with any vocabularies.
        share_embeddings: share one matrix between the source and the target embedding. This
            needs one vocabulary for both sides, so ``src_vocab_size`` must equal
            ``tgt_vocab_size``. The paper (section 3.4) does both: with a shared source-target
            vocabulary, one matrix serves as the two embeddings and the generator
            (``share_embeddings=True, tie_embeddings=True``); the embeddings are multiplied by
            sqrt(d_model) in every case.

    Attributes: ``src_embed``, ``tgt_embed`` (``nn.Embedding``), ``encoder``, ``decoder``,
    ``generator`` (``nn.Linear(d_model, tgt_vocab_size)``), ``pad_id``, ``max_len``.
    """

    config_class = TransformerConfig

    def __init__(
        self,
        src_vocab_size: int | TransformerConfig,
        tgt_vocab_size: int | None = None,
        **options: Any,
    ) -> None:
        if isinstance(src_vocab_size, TransformerConfig):
            if tgt_vocab_size is not None or options:
                raise TypeError(
                    "pass either a TransformerConfig or the sizes and options, not both"
                )
            config = src_vocab_size
        else:
            if tgt_vocab_size is None:
                raise TypeError("tgt_vocab_size is required (or pass a TransformerConfig)")
            unknown = sorted(set(options) - {f.name for f in dataclasses.fields(TransformerConfig)})
            if unknown:
                raise TypeError(f"Transformer got unexpected keyword arguments {unknown}")
            config = TransformerConfig(src_vocab_size, tgt_vocab_size, **options)
        super().__init__()
        self.config = c = config
        for name in ("src_vocab_size", "tgt_vocab_size", "d_model", "max_len"):
            check_positive_int(name, getattr(c, name))
        smallest = min(c.src_vocab_size, c.tgt_vocab_size)
        if not is_int(c.pad_id) or not 0 <= c.pad_id < smallest:
            raise ValueError(
                f"pad_id must be an int in [0, {smallest}) (a valid id in both vocabularies), "
                f"but got {c.pad_id!r}"
            )
        for name in ("tie_embeddings", "share_embeddings"):
            if not isinstance(getattr(c, name), bool):
                raise TypeError(f"{name} must be a bool, but got {getattr(c, name)!r}")
        if c.share_embeddings and c.src_vocab_size != c.tgt_vocab_size:
            raise ValueError(
                "share_embeddings=True needs one vocabulary for source and target, but "
                f"src_vocab_size is {c.src_vocab_size} and tgt_vocab_size is {c.tgt_vocab_size}"
            )
        self.src_vocab_size, self.tgt_vocab_size = c.src_vocab_size, c.tgt_vocab_size
        self.d_model, self.max_len, self.pad_id = c.d_model, c.max_len, c.pad_id
        self.src_embed = nn.Embedding(c.src_vocab_size, c.d_model)
        self.tgt_embed = nn.Embedding(c.tgt_vocab_size, c.d_model)
        stack = dict(
            norm_first=c.norm_first, positional=c.positional, max_len=c.max_len, dropout=c.dropout
        )
        self.encoder = Encoder(c.num_layers, c.d_model, c.num_heads, c.d_ff, **stack)
        self.decoder = Decoder(c.num_layers, c.d_model, c.num_heads, c.d_ff, **stack)
        self.generator = nn.Linear(c.d_model, c.tgt_vocab_size)
        self._init_weights()
        if c.share_embeddings:
            self.tgt_embed.weight = self.src_embed.weight
        if c.tie_embeddings:
            self.generator.weight = self.tgt_embed.weight

    def _init_weights(self) -> None:
        # Embeddings ~ N(0, 1/d_model): after the sqrt(d_model) scale they have unit variance,
        # the same size as the sinusoids added to them, and as a tied generator they give
        # logits of order one. Matrices get Xavier-uniform, as in the Annotated Transformer.
        for embed in (self.src_embed, self.tgt_embed):
            nn.init.normal_(embed.weight, std=self.d_model**-0.5)
        for name, p in self.named_parameters():
            if p.dim() > 1 and "embed" not in name:
                nn.init.xavier_uniform_(p)

    def _check_ids(self, name: str, ids: Tensor, vocab_size: int, offset: int = 0) -> None:
        """Raise a named error for anything an embedding lookup would choke on."""
        if not isinstance(ids, Tensor):
            raise TypeError(f"{name} must be a tensor of token ids, but got {type(ids).__name__}")
        if ids.dtype == torch.bool or ids.dtype.is_floating_point or ids.dtype.is_complex:
            raise TypeError(f"{name} must hold integer token ids, but has dtype {ids.dtype}")
        if ids.ndim != 2:
            raise ValueError(f"{name} must have shape (B, T), but has shape {tuple(ids.shape)}")
        if ids.shape[1] < 1:
            raise ValueError(f"{name} must hold at least one position, but has shape (B, 0)")
        if offset + ids.shape[1] > self.max_len:
            raise ValueError(
                f"{name} reaches position {offset + ids.shape[1]}, but max_len is {self.max_len}"
            )
        check_device(name, ids, self.src_embed.weight.device)
        # Checked here with min/max: an out-of-range id would otherwise be an IndexError on the
        # CPU and a device-side assert (which kills the process's CUDA context) on a GPU.
        if ids.numel():
            low, high = int(ids.min()), int(ids.max())
            if low < 0 or high >= vocab_size:
                raise ValueError(
                    f"{name} has ids from {low} to {high}, but they must lie in [0, {vocab_size})"
                )

    def new_caches(self) -> list[KVCache]:
        """One empty :class:`KVCache` per decoder layer, for :meth:`decode`."""
        return self.decoder.new_caches()

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """Encode source ids ``(B, S)``.

        Returns:
            ``memory`` ``(B, S, d_model)`` and ``src_mask`` ``(B, 1, 1, S)`` (bool, ``True`` for
            real tokens), which :meth:`decode` needs for its cross-attention.
        """
        self._check_ids("src", src, self.src_vocab_size)
        src_mask = (src != self.pad_id)[:, None, None, :]  # (B, 1, 1, S)
        x = self.src_embed(src) * math.sqrt(self.d_model)
        return self.encoder(x, src_mask), src_mask

    def decode(
        self,
        tgt: Tensor,
        memory: Tensor,
        src_mask: Tensor,
        *,
        caches: list[KVCache] | None = None,
        return_cross_weights: bool = False,
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Next-token logits for target ids ``tgt`` ``(B, T)`` given the encoded source.

        Args:
            tgt: ``(B, T)`` ids; with ``caches``, only the ids not yet in the caches.
            memory, src_mask: from :meth:`encode`.
            caches: one :class:`KVCache` per decoder layer (:meth:`new_caches`), filled as
                you go. Without caches the target padding is masked; with caches it is not,
                because incremental decoding feeds tokens that the model itself generated.
            return_cross_weights: also return the per-layer ``(B, H, T, S)`` cross-attention
                weights (for alignment heatmaps).

        Returns:
            logits ``(B, T, tgt_vocab_size)``, or ``(logits, [cross_weights per layer])``.

        Raises:
            TypeError: ``tgt`` not integer ids, ``memory`` not a tensor, ``src_mask`` not bool.
            ValueError: ids out of range or beyond ``max_len``, shapes that differ from what
                :meth:`encode` returns, batch sizes that differ, inputs on another device.
        """
        offset = 0 if caches is None else len(caches[0]) if len(caches) else 0
        self._check_ids("tgt", tgt, self.tgt_vocab_size, offset)
        if not isinstance(memory, Tensor):
            raise TypeError(f"memory must be a tensor, but got {type(memory).__name__}")
        if memory.ndim != 3 or memory.shape[-1] != self.d_model:
            raise ValueError(
                f"memory must have shape (B, S, d_model={self.d_model}) as encode returns it, "
                f"but has {tuple(memory.shape)}"
            )
        if memory.shape[0] != tgt.shape[0]:
            raise ValueError(f"tgt has batch size {tgt.shape[0]}, but memory has {memory.shape[0]}")
        if not isinstance(src_mask, Tensor) or src_mask.dtype != torch.bool:
            what = src_mask.dtype if isinstance(src_mask, Tensor) else type(src_mask).__name__
            raise TypeError(f"src_mask must be a bool tensor as encode returns it, but got {what}")
        expected = (memory.shape[0], 1, 1, memory.shape[1])
        if tuple(src_mask.shape) != expected:
            raise ValueError(
                f"src_mask must have shape (B, 1, 1, S) = {expected} as encode returns it, "
                f"but has shape {tuple(src_mask.shape)}"
            )
        tgt_mask = None if caches is not None else (tgt != self.pad_id)[:, None, None, :]
        x = self.tgt_embed(tgt) * math.sqrt(self.d_model)
        result = self.decoder(
            x, memory, tgt_mask=tgt_mask, memory_mask=src_mask, caches=caches,
            return_cross_weights=return_cross_weights,
        )  # fmt: skip
        if return_cross_weights:
            out, weights = result
            return self.generator(out), weights
        return self.generator(result)

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        """Logits ``(B, T, tgt_vocab_size)`` for source ids ``(B, S)`` and target ids ``(B, T)``.

        With teacher forcing, ``tgt`` is the target shifted right (it starts with BOS) and
        position ``t`` of the output predicts target token ``t + 1``.
        """
        self._check_ids("src", src, self.src_vocab_size)
        self._check_ids("tgt", tgt, self.tgt_vocab_size)
        if src.shape[0] != tgt.shape[0]:
            raise ValueError(f"src has batch size {src.shape[0]}, but tgt has {tgt.shape[0]}")
        memory, src_mask = self.encode(src)
        return self.decode(tgt, memory, src_mask)
