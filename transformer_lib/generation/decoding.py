"""Turning an encoder-decoder model into a translator: greedy decoding and beam search (ch. 5).

Both functions encode the source once, then feed the decoder one token per step while
:class:`KVCache` s keep the keys and values of the earlier steps, so a step costs one
position's work instead of re-running the whole prefix.

They work with any ``nn.Module`` that has the :class:`Transformer` interface:
``encode(src) -> (memory, src_mask)``, ``decode(tgt, memory, src_mask, *, caches) -> logits``,
``new_caches() -> list[KVCache]`` and a ``pad_id`` attribute.

Outputs start with ``bos_id`` and are at most ``max_len`` long (BOS included). After a
sequence's ``eos_id`` come ``pad_id`` s. Neither function ever emits ``pad_id`` as a token
(unless it equals ``eos_id``): the forward pass masks padding, so a generated pad would mean
something different to the model than it did while it was generated.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..modules.multi_head_attention import KVCache
from ..utils._checks import is_int
from ..utils.modes import eval_no_grad

__all__ = ["greedy_decode", "beam_search"]


_INTERFACE = ("encode", "decode", "new_caches", "pad_id")


def _check_args(model: nn.Module, src: Tensor, bos_id: int, eos_id: int, max_len: int) -> None:
    missing = [name for name in _INTERFACE if not hasattr(model, name)]
    if missing:
        raise TypeError(
            f"model must have the Transformer interface ({', '.join(_INTERFACE)}), but "
            f"{type(model).__name__} lacks {', '.join(missing)}"
        )
    for name, n in (("bos_id", bos_id), ("eos_id", eos_id)):
        if not is_int(n) or n < 0:
            raise ValueError(f"{name} must be a non-negative int, but got {n!r}")
        vocab = getattr(model, "tgt_vocab_size", None)
        if isinstance(vocab, int) and n >= vocab:
            raise ValueError(f"{name} must be a target id in [0, {vocab}), but got {n}")
    if not is_int(max_len) or max_len < 1:
        raise ValueError(f"max_len must be a positive int, but got {max_len!r}")
    if bos_id == model.pad_id:
        raise ValueError(
            f"bos_id={bos_id} equals the model's pad_id; the decoder would mask it as padding"
        )
    if not isinstance(src, Tensor) or src.ndim != 2:
        shape = tuple(src.shape) if isinstance(src, Tensor) else type(src).__name__
        raise ValueError(f"src must be a (B, S) tensor of token ids, but got {shape}")


def _next_log_probs(logits: Tensor, pad_id: int, eos_id: int) -> Tensor:
    """``(N, V)`` logits -> log-probabilities with ``pad_id`` ruled out (see module doc)."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    if pad_id != eos_id:
        log_probs[:, pad_id] = float("-inf")
    return log_probs


def greedy_decode(
    model: nn.Module, src: Tensor, *, bos_id: int, eos_id: int, max_len: int
) -> Tensor:
    """Pick the most likely next token at every step.

    Args:
        model: a :class:`Transformer` (or anything with its interface).
        src: ``(B, S)`` source ids.
        bos_id, eos_id: the target's begin- and end-of-sequence ids.
        max_len: the longest output, BOS included.

    Returns:
        ``(B, L)`` ids with ``L <= max_len``: BOS, the generated tokens, EOS, then padding.
        ``L < max_len`` when every sequence has ended earlier.

    Raises:
        TypeError: ``model`` lacks the interface above; ``src`` does not hold integer ids.
        ValueError: ids that are negative, equal to ``pad_id`` (BOS) or beyond the target
            vocabulary, ``max_len < 1``, ``src`` not ``(B, S)``.
    """
    _check_args(model, src, bos_id, eos_id, max_len)
    with eval_no_grad(model):
        memory, src_mask = model.encode(src)
        caches = model.new_caches()
        B = src.shape[0]
        out = torch.full((B, 1), bos_id, dtype=torch.long, device=src.device)
        finished = torch.zeros(B, dtype=torch.bool, device=src.device)
        for _ in range(max_len - 1):
            logits = model.decode(out[:, -1:], memory, src_mask, caches=caches)[:, -1]
            token = _next_log_probs(logits, model.pad_id, eos_id).argmax(dim=-1)
            token = token.masked_fill(finished, model.pad_id)
            out = torch.cat([out, token[:, None]], dim=1)
            finished |= token == eos_id
            if bool(finished.all()):
                break
    return out


def _reorder(caches: list[KVCache], index: Tensor) -> None:
    """Keep, in place, the cache rows of the beams that survived, in their new order."""
    for cache in caches:
        if cache.key is not None:
            cache.key = cache.key.index_select(0, index)
            cache.value = cache.value.index_select(0, index)


def _length_penalty(length: Tensor, alpha: float) -> Tensor:
    """GNMT's ``((5 + length) / 6) ** alpha`` (Wu et al., 2016)."""
    return ((5.0 + length) / 6.0) ** alpha


def beam_search(
    model: nn.Module,
    src: Tensor,
    *,
    bos_id: int,
    eos_id: int,
    max_len: int,
    beam_size: int = 4,
    length_penalty: float = 0.6,
) -> Tensor:
    """Keep the ``beam_size`` best partial translations of every source at every step.

    A hypothesis scores ``log p(y) / lp(|y|)`` with GNMT's length penalty
    ``lp(n) = ((5 + n) / 6) ** length_penalty`` (Wu et al., 2016), where ``n`` counts the
    generated tokens (EOS included, BOS not). Without it (``length_penalty=0``) beam search
    prefers short outputs, because every extra token lowers ``log p``.

    A finished hypothesis stays in its beam with its final score and competes with the live
    ones; the search stops early once every beam of every source has finished.

    Args:
        model, src, bos_id, eos_id, max_len: as in :func:`greedy_decode`.
        beam_size: hypotheses kept per source; ``1`` is greedy decoding.
        length_penalty: the exponent ``alpha`` (0.6 in GNMT).

    Returns:
        ``(B, L)`` ids, the best hypothesis per source, ``L <= max_len``, padded with
        ``model.pad_id`` after EOS.
    """
    _check_args(model, src, bos_id, eos_id, max_len)
    if not is_int(beam_size) or beam_size < 1:
        raise ValueError(f"beam_size must be a positive int, but got {beam_size!r}")
    if (
        isinstance(length_penalty, bool)
        or not isinstance(length_penalty, (int, float))
        or not length_penalty >= 0.0
    ):
        raise ValueError(f"length_penalty must be a number >= 0, but got {length_penalty!r}")
    B, K, pad, device = src.shape[0], beam_size, model.pad_id, src.device
    with eval_no_grad(model):
        memory, src_mask = model.encode(src)
        # Each source is decoded K times side by side: row b * K + k is beam k of source b.
        memory = memory.repeat_interleave(K, dim=0)
        src_mask = src_mask.repeat_interleave(K, dim=0)
        caches = model.new_caches()
        seqs = torch.full((B, K, 1), bos_id, dtype=torch.long, device=device)
        # Only beam 0 is alive at first; otherwise K copies of one hypothesis fill the beam.
        log_p = torch.full((B, K), float("-inf"), device=device)
        log_p[:, 0] = 0.0
        lengths = torch.zeros(B, K, device=device)
        finished = torch.zeros(B, K, dtype=torch.bool, device=device)
        for _ in range(max_len - 1):
            logits = model.decode(seqs[:, :, -1].reshape(B * K, 1), memory, src_mask, caches=caches)
            step = _next_log_probs(logits[:, -1], pad, eos_id).view(B, K, -1)  # (B, K, V)
            V = step.shape[-1]
            # A finished hypothesis has one continuation, padding, which costs nothing.
            frozen = torch.full_like(step, float("-inf"))
            frozen[..., pad] = 0.0
            step = torch.where(finished[..., None], frozen, step)
            candidates = log_p[..., None] + step  # (B, K, V) total log-probabilities
            new_len = lengths + (~finished).float()  # (B, K)
            ranked = candidates / _length_penalty(new_len, length_penalty)[..., None]
            _, flat = ranked.view(B, K * V).topk(K, dim=-1)  # (B, K)
            beam, token = flat // V, flat % V
            log_p = candidates.view(B, K * V).gather(1, flat)
            lengths = new_len.gather(1, beam)
            was_finished = finished.gather(1, beam)
            # A hypothesis with probability 0 (fewer candidates than beams) counts as done.
            finished = was_finished | (token == eos_id) | torch.isneginf(log_p)
            seqs = torch.cat([seqs.gather(1, beam[..., None].expand_as(seqs)), token[..., None]], 2)
            rows = (beam + torch.arange(B, device=device)[:, None] * K).view(-1)
            _reorder(caches, rows)
            if bool(finished.all()):
                break
        score = log_p / _length_penalty(lengths, length_penalty)
        best = score.argmax(dim=-1)  # (B,)
        out = seqs[torch.arange(B, device=device), best]  # (B, L)
    if pad == eos_id:  # padding and EOS look alike: nothing can be trimmed safely
        return out
    # Trim columns that are padding in every output: the search ran on while other beams
    # were still alive, after every chosen hypothesis had already ended.
    real = (out != pad).any(dim=0).nonzero()  # column 0 (BOS) is always real
    return out[:, : int(real.max()) + 1]
