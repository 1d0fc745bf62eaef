"""Batching: right padding and length-bucketed batches for variable-length sequences, and
random blocks of a token stream for language modelling."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..utils._checks import is_int

__all__ = ["pad_batch", "bucket_batches", "random_blocks"]


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> Tensor:
    """Stack sequences of different lengths into a ``LongTensor (B, T_max)``, right-padded.

    Pair it with ``padding_mask(lengths, T_max)`` so attention ignores the padding.

    Raises:
        TypeError: ``sequences`` is a string or not sized, or holds non-integer ids.
        ValueError: ``sequences`` is empty, ``pad_id`` is not an int.
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise TypeError(
            f"sequences must be a sequence of id sequences, but got {type(sequences).__name__}"
        )
    if len(sequences) == 0:
        raise ValueError("sequences must hold at least one sequence, but is empty")
    if not is_int(pad_id):  # -100 pads labels
        raise ValueError(f"pad_id must be an int, but got {pad_id!r}")
    max_len = max(len(s) for s in sequences)
    out = torch.full((len(sequences), max_len), pad_id, dtype=torch.long)
    for i, seq in enumerate(sequences):
        if len(seq):
            # Converted without a dtype first: casting to long would truncate 1.5 to 1 silently.
            row = torch.as_tensor(seq)
            if row.dtype.is_floating_point or row.dtype.is_complex or row.dtype == torch.bool:
                raise TypeError(f"sequences must hold integer ids, but sequence {i} is {row.dtype}")
            out[i, : len(seq)] = row
    return out


def bucket_batches(
    lengths: Sequence[int],
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    pool_batches: int = 50,
) -> list[list[int]]:
    """Split indices ``0..N-1`` into batches of examples of similar length, in random order.

    Padding a batch to its longest sequence wastes compute on pad tokens; grouping similar
    lengths avoids that. Indices are shuffled, cut into pools of ``pool_batches`` batches,
    sorted by length within each pool and cut into batches; the batch order is shuffled so
    the model does not see short batches first. Sorting within pools rather than globally
    keeps some randomness in which examples share a batch.

    Returns a list of index lists; every index appears exactly once, the last batch of each
    pool may be smaller.
    """
    if isinstance(lengths, (str, bytes)) or not hasattr(lengths, "__len__"):
        raise TypeError(f"lengths must be a sequence of ints, but got {type(lengths).__name__}")
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, but got {batch_size!r}")
    if not is_int(pool_batches) or pool_batches < 1:
        raise ValueError(f"pool_batches must be a positive int, but got {pool_batches!r}")
    n = len(lengths)
    order = torch.randperm(n, generator=generator).tolist()
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, n, pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def random_blocks(
    tokens: Tensor,
    block_size: int,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """A language-modelling batch: ``batch_size`` windows of ``tokens`` at random starts.

    Args:
        tokens: ``(N,)`` ids, the whole training text as one stream (on any device).
        block_size: ``T``, the length of each input.
        batch_size: ``B``.
        generator: a CPU ``torch.Generator`` for the starts; seeding one per step (from the
            run's seed and the step) makes a resumed run draw the batches it would have.

    Returns:
        ``(inputs, targets)``, both ``(B, T)`` on ``tokens``' device, ``targets`` being
        ``inputs`` shifted by one: ``targets[b, t] == tokens[start_b + t + 1]``. They are
        what ``GPT(inputs, targets)`` takes.
    """
    if not isinstance(tokens, Tensor) or tokens.ndim != 1:
        what = tuple(tokens.shape) if isinstance(tokens, Tensor) else type(tokens).__name__
        raise ValueError(f"tokens must be a 1-D tensor of ids, but got {what}")
    for name, n in (("block_size", block_size), ("batch_size", batch_size)):
        if not is_int(n) or n < 1:
            raise ValueError(f"{name} must be a positive int, but got {n!r}")
    if len(tokens) <= block_size + 1:
        raise ValueError(
            f"tokens hold {len(tokens)} ids, too few for blocks of block_size={block_size} "
            "(and their next-token targets): use a shorter block_size or more text"
        )
    starts = torch.randint(len(tokens) - block_size, (batch_size,), generator=generator)
    offsets = starts.to(tokens.device)[:, None] + torch.arange(block_size + 1, device=tokens.device)
    window = tokens[offsets]  # (B, T + 1), gathered where the tokens live
    return window[:, :-1], window[:, 1:]
