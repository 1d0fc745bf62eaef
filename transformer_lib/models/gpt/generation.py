"""Sampling from a GPT: temperature, top-k, nucleus (top-p), a KV cache, streaming.

:class:`GPTGenerationMixin` gives :class:`~transformer_lib.GPT` its ``generate`` and
``generate_stream`` methods; it uses the model's ``config``, ``new_caches``, ``forward`` and
the unchecked ``_forward`` for tokens it chose itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ...generation.sampling import check_sampling_args, sample_token
from ...utils._checks import is_int
from ...utils.modes import eval_no_grad

__all__ = ["GPTGenerationMixin"]


class GPTGenerationMixin:
    """``generate`` and ``generate_stream`` for :class:`~transformer_lib.GPT`."""

    def sample_token(
        self,
        logits: Tensor,
        temperature: float,
        top_k: int | None,
        top_p: float | None,
        generator: torch.Generator | None,
    ) -> Tensor:
        """The next token of each row of ``(B, V)`` logits, by
        :func:`~transformer_lib.sample_token`. A subclass overrides it to sample another way
        (min-p, a grammar); :meth:`generate` calls it at every step."""
        return sample_token(logits, temperature, top_k, top_p, generator)

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
        if not is_int(max_new_tokens):
            raise ValueError(f"max_new_tokens must be an int >= 0, but got {max_new_tokens!r}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an int >= 0, but got {max_new_tokens}")
        check_sampling_args(temperature, top_k, top_p)
        V = self.config.vocab_size
        if eos_id is not None and (not is_int(eos_id) or not 0 <= eos_id < V):
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
            with eval_no_grad(self):
                if caches is not None and len(caches[0]) >= max_len:
                    caches = None  # the window must slide: recompute from here on
                if caches is None:
                    logits = self(out[:, -max_len:])
                elif len(caches[0]) == 0:
                    logits = self(out[:, -max_len:], caches=caches)  # the prompt, in one pass
                else:  # a token we chose ourselves, at a position within max_len: no checks
                    logits = self._forward(out[:, -1:], caches, len(caches[0]))
                token = self.sample_token(logits[:, -1], temperature, top_k, top_p, generator)
            if eos_id is not None:
                token = token.masked_fill(finished, eos_id)
                finished |= token == eos_id
            out = torch.cat([out, token[:, None]], dim=1)
            yield token
            if eos_id is not None and bool(finished.all()):
                return
