"""GPT: a decoder-only Transformer language model, sampling with a KV cache, GPT-2 weights (ch. 6).

A GPT (Radford et al. 2018, 2019) is the decoder of the 2017 Transformer without the
cross-attention: token embeddings plus positions, a stack of pre-norm blocks with causal
self-attention, a final norm, and a linear head that scores every vocabulary entry as the next
token. Trained to predict token ``t + 1`` from tokens ``0..t``, it generates text one token at a
time.

Shapes: token ids ``idx`` are ``(B, T)`` integers; logits are ``(B, T, vocab_size)``.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...generation.decoding import _eval_no_grad
from ...modules.layers import _ACTIVATIONS, FeedForward, SwiGLU
from ...modules.multi_head_attention import KVCache, MultiHeadAttention
from ...modules.norms import LayerNorm, RMSNorm
from ...modules.positions import LearnedPositionalEmbedding
from ...utils.device import _check_device
from ..bert.model import BERTOutput, _check_labels, mean_pool
from ..pretrained import PretrainedMixin

__all__ = ["GPTConfig", "GPTBlock", "GPT", "GPTForSequenceClassification"]

GPT_POSITIONAL = ("learned", "rope")
GPT_NORMS = ("layernorm", "rmsnorm")
GPT_ACTIVATIONS = (*_ACTIVATIONS, "swiglu")


def _positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, but got {value!r}")


@dataclass
class GPTConfig:
    """The size and options of a :class:`GPT`; GPT-2 small is
    ``GPTConfig(vocab_size=50257, max_len=1024, d_model=768, num_heads=12, num_layers=12)``.

    The defaults give GPT-2's block. Five options turn it into a Llama-style decoder
    (Touvron et al. 2023): ``norm="rmsnorm"``, ``positional="rope"``, ``activation="swiglu"``,
    ``num_kv_heads`` below ``num_heads`` and ``bias=False``. SmolLM2-135M, for example, is
    ``GPTConfig(vocab_size=49152, max_len=8192, d_model=576, num_heads=9, num_kv_heads=3,
    num_layers=30, d_ff=1536, norm="rmsnorm", positional="rope", rope_base=100000.0,
    activation="swiglu", bias=False)``.

    Args:
        vocab_size: number of token ids.
        max_len: the context window: the most positions one forward pass (cache included) sees.
        d_model: width of the residual stream.
        num_heads: query heads per attention layer; must divide ``d_model``.
        num_layers: number of :class:`GPTBlock` s.
        d_ff: hidden size of the feed-forward networks; ``None`` means ``4 * d_model``.
        dropout: on the embeddings, the attention weights and each sublayer's output.
        positional: ``"learned"`` (a trained vector per position, GPT-2) or ``"rope"``
            (rotary embedding inside attention, Su et al. 2021).
        tie_embeddings: the output head reuses the token embedding matrix (GPT-2 does).
        bias: biases in the linear layers and the norms.
        norm_eps: the ``eps`` of the norms.
        activation: of the feed-forward networks: ``"gelu_tanh"`` (GPT-2), ``"gelu"``,
            ``"relu"``, or ``"swiglu"`` for the gated network :class:`SwiGLU` (Llama).
        num_kv_heads: key/value heads (grouped-query attention); ``None`` means ``num_heads``.
        norm: ``"layernorm"`` (GPT-2) or ``"rmsnorm"`` (Llama; it has no bias).
        rope_base: the RoPE frequency base; 10000 in Su et al., larger for long contexts.
        rope_interleaved: RoPE's pairing of features (see :class:`RotaryEmbedding`): ``False``
            as in Hugging Face checkpoints, ``True`` as in GGUF files.
    """

    vocab_size: int
    max_len: int = 256
    d_model: int = 128
    num_heads: int = 4
    num_layers: int = 4
    d_ff: int | None = None
    dropout: float = 0.0
    positional: str = "learned"
    tie_embeddings: bool = True
    bias: bool = True
    norm_eps: float = 1e-5
    activation: str = "gelu_tanh"
    num_kv_heads: int | None = None
    norm: str = "layernorm"
    rope_base: float = 10000.0
    rope_interleaved: bool = False

    def __post_init__(self) -> None:
        if self.d_ff is None:
            self.d_ff = 4 * self.d_model if isinstance(self.d_model, int) else None
        for name in ("vocab_size", "max_len", "d_model", "num_heads", "num_layers", "d_ff"):
            _positive_int(name, getattr(self, name))
        if self.num_kv_heads is not None:
            _positive_int("num_kv_heads", self.num_kv_heads)
        if self.d_model % self.num_heads:
            raise ValueError(
                f"num_heads={self.num_heads} must divide d_model={self.d_model} "
                "(each head gets d_model / num_heads features)"
            )
        kv = self.num_heads if self.num_kv_heads is None else self.num_kv_heads
        if self.num_heads % kv:
            raise ValueError(f"num_kv_heads={kv} must divide num_heads={self.num_heads}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)):
            raise ValueError(f"dropout must be a number in [0, 1), but got {self.dropout!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), but got {self.dropout}")
        if self.positional not in GPT_POSITIONAL:
            raise ValueError(
                f"positional must be one of {GPT_POSITIONAL}, but got {self.positional!r}"
            )
        if self.positional == "rope" and (self.d_model // self.num_heads) % 2:
            raise ValueError(
                f"positional='rope' needs an even head size, but d_model / num_heads = "
                f"{self.d_model} / {self.num_heads} = {self.d_model // self.num_heads}"
            )
        for name in ("tie_embeddings", "bias", "rope_interleaved"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, but got {getattr(self, name)!r}")
        if isinstance(self.norm_eps, bool) or not isinstance(self.norm_eps, (int, float)):
            raise ValueError(f"norm_eps must be a positive number, but got {self.norm_eps!r}")
        if not self.norm_eps > 0:
            raise ValueError(f"norm_eps must be a positive number, but got {self.norm_eps!r}")
        if self.activation not in GPT_ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {sorted(GPT_ACTIVATIONS)}, but got {self.activation!r}"
            )
        if self.norm not in GPT_NORMS:
            raise ValueError(f"norm must be one of {GPT_NORMS}, but got {self.norm!r}")
        if isinstance(self.rope_base, bool) or not isinstance(self.rope_base, (int, float)):
            raise ValueError(f"rope_base must be a number > 1, but got {self.rope_base!r}")
        if not self.rope_base > 1:
            raise ValueError(f"rope_base must be a number > 1, but got {self.rope_base!r}")


def _dropout(p: float) -> nn.Module:
    # Without dropout, an Identity: generating a token calls these modules dozens of times,
    # and a Dropout(p=0) still costs a function call into F.dropout each time.
    return nn.Dropout(p) if p > 0 else nn.Identity()


def _norm(config: GPTConfig) -> nn.Module:
    if config.norm == "rmsnorm":
        return RMSNorm(config.d_model, config.norm_eps)
    return LayerNorm(config.d_model, config.norm_eps, bias=config.bias)


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
        x = x + self.dropout(self.attn(self.ln_1(x), is_causal=True, cache=cache))
        return x + self.dropout(self.mlp(self.ln_2(x)))


class GPT(nn.Module, PretrainedMixin):
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
        _check_device("idx", idx, self.tok_embed.weight.device)
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
        *,
        caches: list[KVCache] | None = None,
        return_hidden: bool = False,
    ) -> Tensor:
        """Next-token logits for every position.

        Args:
            idx: ``(B, T)`` integer token ids in ``[0, vocab_size)``.
            caches: one :class:`KVCache` per block (see :meth:`new_caches`). ``idx`` then
                holds only the new tokens, whose positions follow the cached ones.
            return_hidden: return the final hidden states ``(B, T, d_model)`` (after the final
                norm) instead of the logits, e.g. for a classification head.

        Returns:
            ``(B, T, vocab_size)`` logits: position ``t`` scores the token at ``t + 1``.

        Raises:
            TypeError: ``idx`` is not a tensor of integer ids.
            ValueError: ``idx`` not ``(B, T)``, on another device than the model, with ids
                outside ``[0, vocab_size)``, or longer than ``max_len`` (cache included);
                ``caches`` not one :class:`KVCache` per block.
        """
        offset = self._cached_length(caches)
        self._check_idx(idx, offset)
        return self._forward(idx, caches, offset, return_hidden)

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

    @staticmethod
    def _sample(
        logits: Tensor,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
        generator: torch.Generator | None,
    ) -> Tensor:
        """Pick one token per row of ``(B, V)`` logits; returns ``(B,)`` ids."""
        if temperature == 0:
            return logits.argmax(dim=-1)
        logits = logits.float() / temperature
        if top_k is not None and top_k < logits.shape[-1]:
            kth_best = torch.topk(logits, top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth_best, float("-inf"))
        if top_p is not None and top_p < 1.0:
            probs, order = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True)
            # Keep a token while the more likely tokens before it sum to less than top_p: the
            # smallest set with probability >= top_p, and never empty (the best token has 0
            # before it).
            drop_sorted = probs.cumsum(dim=-1) - probs >= top_p
            drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
            logits = logits.masked_fill(drop, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(-1)

    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        eos_id: int | None = None,
    ) -> Tensor:
        """Continue the prompts ``idx`` by sampling one token at a time.

        Args:
            idx: ``(B, T)`` prompt ids (all prompts of one batch have the same length).
            max_new_tokens: how many tokens to append.
            temperature: divides the logits; below 1 sharpens, above 1 flattens the
                distribution. ``0`` means greedy: always the most likely token.
            top_k: sample only among the ``top_k`` most likely tokens.
            top_p: nucleus sampling (Holtzman et al. 2020): only among the most likely tokens
                whose probabilities add up to at least ``top_p`` (always at least one token).
            use_cache: feed only the newest token each step and keep earlier keys and values
                in :class:`KVCache` s. Without it, every step recomputes the whole sequence
                (its last ``max_len`` tokens). Once the sequence is longer than ``max_len``
                the cached keys would sit at the wrong positions, so generation then falls
                back to that recomputation: both settings give the same tokens.
            generator: a ``torch.Generator`` (on the model's device) for reproducible samples.
            eos_id: once a sequence produces this id, it is continued with ``eos_id`` only;
                generation stops early when every sequence has ended.

        Returns:
            ``(B, T + max_new_tokens)`` ids: the prompts followed by the new tokens.
        """
        self._check_generate_args(idx, max_new_tokens, temperature, top_k, top_p, eos_id)
        B, T = idx.shape
        new = list(
            self._stream(idx, max_new_tokens, temperature, top_k, top_p, use_cache, generator,
                         eos_id)
        )  # fmt: skip
        out = torch.cat([idx.long(), *(token[:, None] for token in new)], dim=1)
        if out.shape[1] < T + max_new_tokens:  # stopped early: every sequence has ended
            out = F.pad(out, (0, T + max_new_tokens - out.shape[1]), value=eos_id)
        return out

    def generate_stream(
        self,
        idx: Tensor,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        eos_id: int | None = None,
    ) -> Iterator[Tensor]:
        """:meth:`generate`, one step at a time: yields each new ``(B,)`` batch of token ids
        as soon as it is chosen, so a chat interface can print words as they come.

        Takes :meth:`generate`'s arguments and produces the same tokens. The iteration stops
        after ``max_new_tokens`` steps, or once every sequence has produced ``eos_id``.
        """
        self._check_generate_args(idx, max_new_tokens, temperature, top_k, top_p, eos_id)
        return self._stream(
            idx, max_new_tokens, temperature, top_k, top_p, use_cache, generator, eos_id
        )

    def _check_generate_args(
        self,
        idx: Tensor,
        max_new_tokens: Any,
        temperature: Any,
        top_k: Any,
        top_p: Any,
        eos_id: Any,
    ) -> None:
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
            raise ValueError(f"max_new_tokens must be an int >= 0, but got {max_new_tokens!r}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an int >= 0, but got {max_new_tokens}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise ValueError(f"temperature must be a number >= 0, but got {temperature!r}")
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), but got {temperature}")
        if top_k is not None:
            _positive_int("top_k", top_k)
        if top_p is not None and (
            isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1
        ):
            raise ValueError(f"top_p must be a number in (0, 1], but got {top_p!r}")
        V = self.config.vocab_size
        if eos_id is not None and (
            isinstance(eos_id, bool) or not isinstance(eos_id, int) or not 0 <= eos_id < V
        ):
            raise ValueError(f"eos_id must be an int in [0, vocab_size={V}), but got {eos_id!r}")
        self._check_idx(idx, 0, check_length=False)  # a longer prompt is cropped to max_len

    def _stream(
        self,
        idx: Tensor,
        max_new_tokens: int,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
        use_cache: bool,
        generator: torch.Generator | None,
        eos_id: int | None,
    ) -> Iterator[Tensor]:
        max_len = self.config.max_len
        out = idx.long()
        finished = torch.zeros(out.shape[0], dtype=torch.bool, device=out.device)
        # Room for the whole generation (the context window at most), allocated once.
        capacity = min(max_len, out.shape[1] + max_new_tokens)
        caches = self.new_caches(capacity) if use_cache else None
        for _ in range(max_new_tokens):
            # Evaluation mode and no autograd for each step only, not across the yield: the
            # caller's own code runs between steps, in its own mode.
            with _eval_no_grad(self):
                if caches is not None and len(caches[0]) >= max_len:
                    caches = None  # the window must slide: recompute from here on
                if caches is None:
                    logits = self(out[:, -max_len:])
                elif len(caches[0]) == 0:
                    logits = self(out[:, -max_len:], caches=caches)  # the prompt, in one pass
                else:  # a token we chose ourselves, at a position within max_len: no checks
                    logits = self._forward(out[:, -1:], caches, len(caches[0]))
                token = self._sample(logits[:, -1], temperature, top_k, top_p, generator)
            if eos_id is not None:
                token = token.masked_fill(finished, eos_id)
                finished |= token == eos_id
            out = torch.cat([out, token[:, None]], dim=1)
            yield token
            if eos_id is not None and bool(finished.all()):
                return

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
        hf = model_or_path
        if isinstance(hf, (str, os.PathLike)):
            try:
                import transformers
            except ImportError as e:
                raise ImportError(
                    "GPT.from_huggingface(path) needs the transformers package: "
                    "pip install transformers"
                ) from e
            if not os.path.isfile(os.path.join(os.fspath(hf), "config.json")):
                # Otherwise transformers reads the path as a Hub name and fails on that.
                raise FileNotFoundError(
                    f"model_or_path must be a directory that save_pretrained wrote, but "
                    f"{os.fspath(hf)!r} has no config.json"
                )
            hf = transformers.AutoModelForCausalLM.from_pretrained(
                os.fspath(model_or_path), local_files_only=True
            )
        hf_config = getattr(hf, "config", None)
        model_type = getattr(hf_config, "model_type", None)
        if not isinstance(hf, nn.Module) or model_type not in ("gpt2", "llama"):
            what = model_type or type(hf).__name__
            raise ValueError(
                f"model_or_path must be a Hugging Face GPT-2 or Llama model (model_type 'gpt2' "
                f"or 'llama'), but got {what!r}"
            )
        if model_type == "llama":
            return cls._from_llama(hf)
        config = _config_from_gpt2(hf_config)
        state = {k.removeprefix("transformer."): v for k, v in hf.state_dict().items()}
        if "lm_head.weight" not in state:  # a GPT2Model: its output head is the embedding
            config.tie_embeddings = True
        model = cls(config)
        _load_gpt2_weights(model, state)
        wte = state["wte.weight"]
        return model.to(device=wte.device, dtype=wte.dtype).eval()

    @classmethod
    def _from_llama(cls, hf: nn.Module) -> GPT:
        config = _config_from_llama(hf.config)
        state = {k.removeprefix("model."): v for k, v in hf.state_dict().items()}
        if "lm_head.weight" not in state:  # a LlamaModel: no head of its own
            config.tie_embeddings = True
        model = cls(config)
        _load_llama_weights(model, state)
        embed = state["embed_tokens.weight"]
        return model.to(device=embed.device, dtype=embed.dtype).eval()


GPT_POOLINGS = ("last", "mean")


class GPTForSequenceClassification(nn.Module):
    """A GPT with a linear classifier on one vector per sequence.

    ``pooling="last"`` reads the hidden state of each sequence's last real token, the only
    position that has seen the whole sequence under the causal mask (Radford et al. 2018;
    Hugging Face's ``GPT2ForSequenceClassification`` does the same). ``"mean"`` averages the
    real tokens' hidden states (:func:`mean_pool`). Padding must come after the real tokens
    (right padding), so that it never enters a real token's causal context.

    Attributes: ``gpt`` (a :class:`GPT`, whose ``lm_head`` is unused here) and ``classifier``
    (``nn.Linear(d_model, num_labels)``). :meth:`from_decoder` puts a pre-trained GPT under a
    new classifier.
    """

    def __init__(self, config: GPTConfig, num_labels: int, *, pooling: str = "last") -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, but got {type(config).__name__}")
        if not isinstance(num_labels, int) or isinstance(num_labels, bool) or num_labels < 2:
            raise ValueError(f"num_labels must be an int >= 2, but got {num_labels!r}")
        if pooling not in GPT_POOLINGS:
            raise ValueError(f"pooling must be one of {GPT_POOLINGS}, but got {pooling!r}")
        self.config, self.num_labels, self.pooling = config, num_labels, pooling
        self.gpt = GPT(config)
        self.classifier = nn.Linear(config.d_model, num_labels)
        nn.init.normal_(self.classifier.weight, mean=0.0, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    @classmethod
    def from_decoder(
        cls, gpt: GPT, num_labels: int, *, pooling: str = "last", copy_decoder: bool = True
    ) -> GPTForSequenceClassification:
        """A classifier whose body is ``gpt``'s weights and whose head is new (random).

        ``copy_decoder=True`` (default) deep-copies ``gpt``, so fine-tuning leaves the
        pre-trained model untouched and can start again from it.
        """
        if not isinstance(gpt, GPT):
            raise TypeError(f"gpt must be a GPT, but got {type(gpt).__name__}")
        model = cls(gpt.config, num_labels, pooling=pooling)
        model.gpt = copy.deepcopy(gpt) if copy_decoder else gpt
        p = next(gpt.parameters())
        return model.to(device=p.device, dtype=p.dtype)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
    ) -> BERTOutput:
        """Classify each sequence.

        Args:
            input_ids: ``(B, T)`` token ids, right-padded.
            attention_mask: ``(B, T)``, 1 / ``True`` for real tokens, 0 for padding; ``None``
                means no padding.
            labels: ``(B,)`` class ids in ``[0, num_labels)`` (``-100`` is ignored).

        Returns:
            a :class:`BERTOutput` with ``logits`` ``(B, num_labels)`` and ``loss``
            (cross-entropy; ``None`` without labels).

        Raises:
            ValueError: ``attention_mask`` not ``(B, T)``, a row without real tokens, or real
                tokens after padding (left padding); bad ``labels``.
        """
        hidden = self.gpt(input_ids, return_hidden=True)  # (B, T, d_model); checks input_ids
        B, T = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones(B, T, dtype=torch.long, device=input_ids.device)
        elif not isinstance(attention_mask, Tensor) or attention_mask.shape != (B, T):
            got = (
                tuple(attention_mask.shape)
                if isinstance(attention_mask, Tensor)
                else type(attention_mask).__name__
            )
            raise ValueError(f"attention_mask must have shape (B, T) = {(B, T)}, but got {got}")
        mask = attention_mask.to(torch.long)
        lengths = mask.sum(dim=1)  # (B,)
        if not torch.compiler.is_compiling():
            if int(lengths.min()) == 0:
                raise ValueError("attention_mask has a row without real tokens")
            # right padding: the mask is 1...1 0...0, i.e. it never rises
            if bool((mask[:, 1:] > mask[:, :-1]).any()):
                raise ValueError(
                    "attention_mask must be right-padded (1s then 0s): a causal model's real "
                    "tokens would otherwise attend to padding"
                )
        if self.pooling == "last":
            pooled = hidden[torch.arange(B, device=hidden.device), lengths - 1]  # (B, d_model)
        else:
            pooled = mean_pool(hidden, mask)
        logits = self.classifier(pooled)
        loss = None
        if labels is not None:
            _check_labels(labels, input_ids.shape[:1], self.num_labels, "(B,)")
            loss = F.cross_entropy(logits.float(), labels)
        return BERTOutput(logits, loss)


def _config_from_gpt2(hf: Any) -> GPTConfig:
    """Translate a ``transformers.GPT2Config``; refuse options that would change the maths."""
    activations = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}
    activations["relu"] = "relu"
    unsupported = []
    if hf.activation_function not in activations:
        unsupported.append(f"activation_function={hf.activation_function!r}")
    if not getattr(hf, "scale_attn_weights", True):
        unsupported.append("scale_attn_weights=False")
    if getattr(hf, "scale_attn_by_inverse_layer_idx", False):
        unsupported.append("scale_attn_by_inverse_layer_idx=True")
    if getattr(hf, "add_cross_attention", False):
        unsupported.append("add_cross_attention=True")
    if unsupported:
        raise ValueError(f"this GPT-2 config uses options GPT does not implement: {unsupported}")
    return GPTConfig(
        vocab_size=hf.vocab_size,
        max_len=hf.n_positions,
        d_model=hf.n_embd,
        num_heads=hf.n_head,
        num_layers=hf.n_layer,
        d_ff=hf.n_inner if hf.n_inner is not None else 4 * hf.n_embd,
        dropout=hf.resid_pdrop,  # GPT-2 has three dropout rates, all 0.1; we have one
        positional="learned",
        tie_embeddings=bool(getattr(hf, "tie_word_embeddings", True)),
        bias=True,
        norm_eps=hf.layer_norm_epsilon,
        activation=activations[hf.activation_function],
    )


@torch.no_grad()
def _load_gpt2_weights(model: GPT, state: dict[str, Tensor]) -> None:
    """Copy GPT-2's tensors (names without the ``transformer.`` prefix) into ``model``.

    GPT-2 stores its projections as ``Conv1D``: ``y = x @ W + b`` with ``W`` of shape
    ``(in, out)``, the transpose of ``nn.Linear``'s ``(out, in)``. Its ``c_attn`` projects to
    queries, keys and values at once, so its output columns split into three ``d_model`` parts.
    """
    used: set[str] = set()

    def take(name: str) -> Tensor:
        if name not in state:
            raise ValueError(f"the GPT-2 weights lack {name!r}")
        used.add(name)
        return state[name]

    def copy(param: Tensor, name: str, transpose: bool = False) -> None:
        value = take(name)
        value = value.T if transpose else value
        if value.shape != param.shape:
            raise ValueError(
                f"GPT-2 weight {name!r} has shape {tuple(value.shape)}, expected "
                f"{tuple(param.shape)}"
            )
        param.copy_(value)

    assert model.pos_embed is not None
    copy(model.tok_embed.weight, "wte.weight")
    copy(model.pos_embed.embedding.weight, "wpe.weight")
    for i, block in enumerate(model.blocks):
        p = f"h.{i}."
        for ours, theirs in ((block.ln_1, "ln_1"), (block.ln_2, "ln_2")):
            copy(ours.weight, p + theirs + ".weight")
            copy(ours.bias, p + theirs + ".bias")
        attn = block.attn
        q_w, k_w, v_w = take(p + "attn.c_attn.weight").T.chunk(3, dim=0)  # each (d, d)
        q_b, k_b, v_b = take(p + "attn.c_attn.bias").chunk(3, dim=0)
        for proj, w, b in ((attn.q_proj, q_w, q_b), (attn.k_proj, k_w, k_b),
                           (attn.v_proj, v_w, v_b)):  # fmt: skip
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        copy(attn.out_proj.weight, p + "attn.c_proj.weight", transpose=True)
        copy(attn.out_proj.bias, p + "attn.c_proj.bias")
        copy(block.mlp.linear1.weight, p + "mlp.c_fc.weight", transpose=True)
        copy(block.mlp.linear1.bias, p + "mlp.c_fc.bias")
        copy(block.mlp.linear2.weight, p + "mlp.c_proj.weight", transpose=True)
        copy(block.mlp.linear2.bias, p + "mlp.c_proj.bias")
    copy(model.ln_f.weight, "ln_f.weight")
    copy(model.ln_f.bias, "ln_f.bias")
    if not model.config.tie_embeddings:
        copy(model.lm_head.weight, "lm_head.weight")
    else:
        used.add("lm_head.weight")  # the same tensor as wte when tied
    # Buffers such as an old causal-mask "attn.bias" carry no weights; anything else left
    # over would mean a part this loader does not understand.
    left = sorted(k for k in set(state) - used if not k.endswith(("attn.bias", "attn.masked_bias")))
    if left:
        raise ValueError(f"GPT-2 weights this loader does not use: {left}")


def _config_from_llama(hf: Any) -> GPTConfig:
    """Translate a ``transformers.LlamaConfig``; refuse options that would change the maths."""
    rope = dict(getattr(hf, "rope_parameters", None) or getattr(hf, "rope_scaling", None) or {})
    rope_base = rope.get("rope_theta", getattr(hf, "rope_theta", 10000.0))
    d_head = hf.hidden_size // hf.num_attention_heads
    attention_bias = bool(getattr(hf, "attention_bias", False))
    unsupported = []
    if hf.hidden_act != "silu":
        unsupported.append(f"hidden_act={hf.hidden_act!r}")
    if rope.get("rope_type", rope.get("type", "default")) != "default":
        unsupported.append(f"rope scaling {rope!r}")
    if getattr(hf, "head_dim", None) not in (None, d_head):
        unsupported.append(f"head_dim={hf.head_dim} (not hidden_size / num_attention_heads)")
    if attention_bias != bool(getattr(hf, "mlp_bias", False)):
        unsupported.append("attention_bias != mlp_bias (GPT has one bias switch)")
    if unsupported:
        raise ValueError(f"this Llama config uses options GPT does not implement: {unsupported}")
    return GPTConfig(
        vocab_size=hf.vocab_size,
        max_len=hf.max_position_embeddings,
        d_model=hf.hidden_size,
        num_heads=hf.num_attention_heads,
        num_kv_heads=hf.num_key_value_heads,
        num_layers=hf.num_hidden_layers,
        d_ff=hf.intermediate_size,
        dropout=float(getattr(hf, "attention_dropout", 0.0)),
        positional="rope",
        rope_base=float(rope_base),
        rope_interleaved=False,  # Hugging Face stores Llama's q/k for the rotate-half pairing
        tie_embeddings=bool(getattr(hf, "tie_word_embeddings", False)),
        bias=attention_bias,
        norm="rmsnorm",
        norm_eps=hf.rms_norm_eps,
        activation="swiglu",
    )


# Our parameter names -> Hugging Face Llama's (without the "model." prefix), per block.
_LLAMA_BLOCK_NAMES = {
    "ln_1.weight": "input_layernorm.weight",
    "attn.q_proj": "self_attn.q_proj",
    "attn.k_proj": "self_attn.k_proj",
    "attn.v_proj": "self_attn.v_proj",
    "attn.out_proj": "self_attn.o_proj",
    "ln_2.weight": "post_attention_layernorm.weight",
    "mlp.gate_proj": "mlp.gate_proj",
    "mlp.up_proj": "mlp.up_proj",
    "mlp.down_proj": "mlp.down_proj",
}


@torch.no_grad()
def _load_llama_weights(model: GPT, state: dict[str, Tensor]) -> None:
    """Copy a Llama's tensors (names without the ``model.`` prefix) into ``model``.

    Llama's parts map one to one onto ours (both use ``nn.Linear``'s ``(out, in)`` layout);
    only the names differ.
    """
    mapping = {"tok_embed.weight": "embed_tokens.weight", "ln_f.weight": "norm.weight"}
    if not model.config.tie_embeddings:
        mapping["lm_head.weight"] = "lm_head.weight"
    for i in range(len(model.blocks)):
        for ours, theirs in _LLAMA_BLOCK_NAMES.items():
            for suffix in ("",) if ours.endswith(".weight") else (".weight", ".bias"):
                mapping[f"blocks.{i}.{ours}{suffix}"] = f"layers.{i}.{theirs}{suffix}"
    _copy_state(model, state, mapping, "Llama")


def _copy_state(model: nn.Module, state: dict[str, Tensor], mapping: dict[str, str], what: str):
    """``model.<ours>.copy_(state[<theirs>])`` for every pair in ``mapping`` that ``model`` has;
    every tensor of ``state`` must be used (tied output heads and rotary buffers aside)."""
    params = dict(model.named_parameters(remove_duplicate=False))
    used = set()
    for ours, theirs in mapping.items():
        if ours not in params:
            continue  # e.g. biases when bias=False
        if theirs not in state:
            raise ValueError(f"the {what} weights lack {theirs!r}")
        value = state[theirs]
        if value.shape != params[ours].shape:
            raise ValueError(
                f"{what} weight {theirs!r} has shape {tuple(value.shape)}, expected "
                f"{tuple(params[ours].shape)}"
            )
        params[ours].copy_(value)
        used.add(theirs)
    ignorable = ("rotary_emb.inv_freq",)
    if model.config.tie_embeddings:
        ignorable += ("lm_head.weight",)  # the same matrix as the embedding when tied
    left = sorted(k for k in set(state) - used if not k.endswith(ignorable))
    if left:
        raise ValueError(f"{what} weights this loader does not use: {left}")
