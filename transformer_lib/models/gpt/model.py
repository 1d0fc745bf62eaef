"""GPT: a decoder-only Transformer language model, sampling with a KV cache, GPT-2 weights (ch. 6).

A GPT (Radford et al. 2018, 2019) is the decoder of the 2017 Transformer without the
cross-attention: token embeddings plus positions, a stack of pre-norm blocks with causal
self-attention, a final norm, and a linear head that scores every vocabulary entry as the next
token. Trained to predict token ``t + 1`` from tokens ``0..t``, it generates text one token at a
time.

Shapes: token ids ``idx`` are ``(B, T)`` integers; logits are ``(B, T, vocab_size)``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...data.masking import IGNORE_INDEX
from ...modules.feed_forward import FeedForward, SwiGLU
from ...modules.multi_head_attention import KVCache, MultiHeadAttention
from ...modules.norms import LayerNorm, RMSNorm, make_norm
from ...modules.positions import LearnedPositionalEmbedding
from ...modules.residual import residual
from ...utils._checks import check_device, check_labels
from ..pretrained import PretrainedMixin
from . import conversion
from .config import GPTConfig
from .generation import GPTGenerationMixin

__all__ = ["GPTBlock", "GPT"]


def _dropout(p: float) -> nn.Module:
    # Without dropout, an Identity: generating a token calls these modules dozens of times,
    # and a Dropout(p=0) still costs a function call into F.dropout each time.
    return nn.Dropout(p) if p > 0 else nn.Identity()


def _norm(config: GPTConfig) -> nn.Module:
    return make_norm(config.norm, config.d_model, eps=config.norm_eps, bias=config.bias)


class GPTBlock(nn.Module):
    """One pre-norm decoder block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``.

    Pre-norm (Xiong et al. 2020), as in GPT-2: the residual stream itself is never normalised,
    so gradients reach the early blocks undiminished. ``(B, T, d_model)`` in and out.
    ``ln_1`` and ``ln_2`` are :class:`RMSNorm` s when ``config.norm == "rmsnorm"``, and ``mlp``
    is a :class:`SwiGLU` when ``config.activation == "swiglu"``.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, but got {type(config).__name__}")
        c = config
        self.ln_1 = _norm(c)
        self.attn = MultiHeadAttention(
            c.d_model, c.num_heads, num_kv_heads=c.num_kv_heads, dropout=c.dropout,
            bias=c.bias, rope=c.positional == "rope", rope_base=float(c.rope_base),
            rope_interleaved=c.rope_interleaved,
        )  # fmt: skip
        self.ln_2 = _norm(c)
        # GPT-2 drops out after the second linear layer (the residual dropout below), not
        # between the two, so the feed-forward network itself gets no dropout.
        assert c.d_ff is not None
        self.mlp: nn.Module
        if c.activation == "swiglu":
            self.mlp = SwiGLU(c.d_model, c.d_ff, bias=c.bias)
        else:
            self.mlp = FeedForward(c.d_model, c.d_ff, 0.0, activation=c.activation, bias=c.bias)
        self.dropout = _dropout(c.dropout)

    def forward(self, x: Tensor, *, cache: KVCache | None = None) -> Tensor:
        """``x`` ``(B, T, d_model)``: with a ``cache``, only the new positions."""
        attend = partial(self.attn, is_causal=True, cache=cache)
        x = residual(x, attend, self.ln_1, self.dropout, norm_first=True)
        return residual(x, self.mlp, self.ln_2, self.dropout, norm_first=True)


class GPT(GPTGenerationMixin, PretrainedMixin, nn.Module):
    """A decoder-only language model: ``GPT(GPTConfig(vocab_size=..., ...))``.

    Parts, named close to GPT-2 and nanoGPT: ``tok_embed`` (``nn.Embedding``), ``pos_embed``
    (:class:`LearnedPositionalEmbedding`, or ``None`` with RoPE), ``blocks`` (a list of
    :class:`GPTBlock`), ``ln_f`` (the final norm) and ``lm_head`` (``d_model -> vocab_size``,
    sharing its weight with ``tok_embed`` when ``tie_embeddings``).

    ``forward(idx)`` maps ``(B, T)`` ids to ``(B, T, vocab_size)`` next-token logits;
    :meth:`generate` samples continuations (:meth:`generate_stream` one token at a time);
    :meth:`from_huggingface` loads GPT-2 or Llama weights; ``save_pretrained`` /
    ``from_pretrained`` save and load the model with its config.
    """

    config_class = GPTConfig

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, but got {type(config).__name__}")
        self.config = c = config
        self.tok_embed = nn.Embedding(c.vocab_size, c.d_model)
        self.pos_embed = (
            LearnedPositionalEmbedding(c.d_model, c.max_len) if c.positional == "learned" else None
        )
        self.dropout = _dropout(c.dropout)
        self.blocks = nn.ModuleList(GPTBlock(c) for _ in range(c.num_layers))
        self.ln_f = _norm(c)
        self.lm_head = nn.Linear(c.d_model, c.vocab_size, bias=False)
        if c.tie_embeddings:
            # One matrix both reads tokens in and scores them out (Press & Wolf 2017): fewer
            # parameters, and a rare token's output row learns from its input uses too.
            self.lm_head.weight = self.tok_embed.weight
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation: every weight matrix ~ N(0, 0.02), biases 0, norms 1.

        The two projections that write into the residual stream (``attn.out_proj`` and
        ``mlp.linear2``) get a std shrunk by ``1 / sqrt(2 * num_layers)``: the stream is a sum
        of ``2 * num_layers`` such contributions, and if each kept std 0.02 its variance would
        grow with depth; scaled, a deep model starts with the stream at the size of a shallow
        one (Radford et al. 2019).
        """
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, (LayerNorm, RMSNorm)):
                nn.init.ones_(module.weight)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
        residual_std = 0.02 / math.sqrt(2 * self.config.num_layers)
        for block in self.blocks:
            nn.init.normal_(block.attn.out_proj.weight, mean=0.0, std=residual_std)
            mlp_out = block.mlp.down_proj if isinstance(block.mlp, SwiGLU) else block.mlp.linear2
            nn.init.normal_(mlp_out.weight, mean=0.0, std=residual_std)

    def new_caches(self, capacity: int | None = None) -> list[KVCache]:
        """One empty :class:`KVCache` per block, for incremental decoding; ``capacity``
        pre-allocates room for that many positions (see :class:`KVCache`)."""
        return [KVCache(capacity) for _ in self.blocks]

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Number of parameters, a tied matrix counted once.

        ``exclude_embeddings=True`` leaves out the token and position embeddings and the output
        head: the "non-embedding" count that Kaplan et al. (2020) relate to the loss.
        """
        skip: set[int] = set()
        if exclude_embeddings:
            parts = [self.tok_embed, self.lm_head] + ([self.pos_embed] if self.pos_embed else [])
            skip = {id(p) for part in parts for p in part.parameters()}
        return sum(p.numel() for p in self.parameters() if id(p) not in skip)

    def _cached_length(self, caches: list[KVCache] | None) -> int:
        if caches is None:
            return 0
        if not isinstance(caches, (list, tuple)) or len(caches) != len(self.blocks):
            n = len(caches) if isinstance(caches, (list, tuple)) else type(caches).__name__
            raise ValueError(
                f"caches must be a list of one KVCache per block ({len(self.blocks)}), "
                f"but got {n}; use model.new_caches()"
            )
        lengths = [len(c) for c in caches]
        if any(n != lengths[0] for n in lengths):
            raise ValueError(f"caches hold different numbers of positions: {lengths}")
        return lengths[0]

    def _check_idx(self, idx: Tensor, offset: int, *, check_length: bool = True) -> None:
        if not isinstance(idx, Tensor):
            raise TypeError(
                f"idx must be a (B, T) tensor of token ids, but got {type(idx).__name__}"
            )
        if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
            raise TypeError(f"idx must hold integer token ids, but has dtype {idx.dtype}")
        if idx.ndim != 2 or idx.shape[1] == 0:
            raise ValueError(
                f"idx must have shape (B, T) with T >= 1, but has shape {tuple(idx.shape)}"
            )
        # The device first: reading the ids' range from another device would fail (or sync).
        check_device("idx", idx, self.tok_embed.weight.device)
        V = self.config.vocab_size
        # Checked here because an out-of-range id is a device-side assert on CUDA. Reading the
        # range waits for the GPU once per call; under torch.compile the check is left out,
        # since it would split the compiled graph.
        if idx.numel() and not torch.compiler.is_compiling():
            low, high = (int(v) for v in torch.stack(torch.aminmax(idx)).tolist())
            if low < 0 or high >= V:
                raise ValueError(
                    f"idx must hold ids in [0, vocab_size={V}), but they range from {low} to {high}"
                )
        T, max_len = idx.shape[1], self.config.max_len
        if check_length and offset + T > max_len:
            cached = f" after {offset} cached positions" if offset else ""
            raise ValueError(
                f"idx has T={T} positions{cached}, but max_len is {max_len}; "
                f"crop the input to its last {max_len - offset} tokens"
            )

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
        *,
        caches: list[KVCache] | None = None,
        return_hidden: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Next-token logits for every position; with ``targets``, also the loss.

        Args:
            idx: ``(B, T)`` integer token ids in ``[0, vocab_size)``.
            targets: ``(B, T)`` the token each position should predict (usually ``idx``
                shifted by one), ``IGNORE_INDEX`` (-100) where no loss is wanted. Then the
                result is ``(logits, loss)``: the mean cross-entropy over the other positions,
                in float32 (nanoGPT's ``model(x, y)``).
            caches: one :class:`KVCache` per block (see :meth:`new_caches`). ``idx`` then
                holds only the new tokens, whose positions follow the cached ones.
            return_hidden: return the final hidden states ``(B, T, d_model)`` (after the final
                norm) instead of the logits, e.g. for a classification head.

        Returns:
            ``(B, T, vocab_size)`` logits: position ``t`` scores the token at ``t + 1``; with
            ``targets``, ``(logits, loss)``.

        Raises:
            TypeError: ``idx`` is not a tensor of integer ids.
            ValueError: ``idx`` not ``(B, T)``, on another device than the model, with ids
                outside ``[0, vocab_size)``, or longer than ``max_len`` (cache included);
                ``caches`` not one :class:`KVCache` per block.
        """
        offset = self._cached_length(caches)
        self._check_idx(idx, offset)
        out = self._forward(idx, caches, offset, return_hidden)
        if targets is None:
            return out
        if return_hidden:
            raise ValueError("targets need logits: pass return_hidden=False with targets")
        if isinstance(targets, Tensor):
            check_device("targets", targets, idx.device, "idx is")
        check_labels(targets, idx.shape, self.config.vocab_size, "(B, T)", IGNORE_INDEX)
        loss = F.cross_entropy(out.float().flatten(0, 1), targets.flatten().long())
        return out, loss

    def _forward(
        self, idx: Tensor, caches: list[KVCache] | None, offset: int, return_hidden: bool = False
    ) -> Tensor:
        """:meth:`forward` without the checks, for ids that are known to be valid."""
        x = self.tok_embed(idx)  # (B, T, d_model)
        if self.pos_embed is not None:
            x = self.pos_embed(x, offset)  # RoPE instead offsets itself by the cache length
        x = self.dropout(x)
        for i, block in enumerate(self.blocks):
            x = block(x, cache=None if caches is None else caches[i])
        x = self.ln_f(x)
        return x if return_hidden else self.lm_head(x)

    @classmethod
    def from_huggingface(cls, model_or_path: Any) -> GPT:
        """A :class:`GPT` with the weights of a Hugging Face GPT-2 or Llama-family model.

        Args:
            model_or_path: a ``transformers`` ``GPT2LMHeadModel``, ``GPT2Model``,
                ``LlamaForCausalLM`` or ``LlamaModel``, or the path of a local directory that
                ``save_pretrained`` wrote (nothing is downloaded).

        The model is returned in evaluation mode, on the device and in the dtype of the Hugging
        Face weights. A Llama becomes ``norm="rmsnorm"``, ``positional="rope"`` (the
        rotate-half pairing that Hugging Face stores), ``activation="swiglu"``, ``bias=False``.

        Raises ``ValueError`` for other architectures and for options this library does not
        implement, and ``ImportError`` if a path is given but ``transformers`` is missing.
        """
        return conversion.from_huggingface(cls, model_or_path)
