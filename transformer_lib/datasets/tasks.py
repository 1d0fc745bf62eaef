"""Synthetic tasks whose answers we know, so that a notebook can assert that a model learned.

Every generator takes a ``torch.Generator`` so that a task's data does not depend on how many
random numbers model initialisation happened to draw.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..data.masking import IGNORE_INDEX
from ..utils._checks import is_int

__all__ = ["LookupBatch", "key_value_lookup", "IGNORE_INDEX", "shifted_copy"]


class LookupBatch(NamedTuple):
    """A batch of the key-value lookup task. ``P`` pairs and ``Q`` queries per example."""

    keys: Tensor  # (B, P) distinct key ids per example
    values: Tensor  # (B, P) value ids, values[b, i] belongs to keys[b, i]
    queries: Tensor  # (B, Q) key ids, each one of that example's keys
    targets: Tensor  # (B, Q) the value stored under each query's key
    positions: Tensor  # (B, Q) the index i of the pair whose key matches the query


def key_value_lookup(
    batch_size: int,
    *,
    num_pairs: int = 8,
    num_queries: int = 4,
    num_keys: int = 32,
    num_values: int = 32,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> LookupBatch:
    """A dictionary of ``num_pairs`` (key, value) pairs and queries that look keys up.

    The answer to a query is the value stored under the matching key: the model must compare
    the query with every key (content-based addressing) and copy the matching value, which is
    exactly what one attention layer does. Keys within an example are distinct.
    """
    for name, n in (("batch_size", batch_size), ("num_pairs", num_pairs),
                    ("num_queries", num_queries), ("num_keys", num_keys),
                    ("num_values", num_values)):  # fmt: skip
        if not is_int(n) or n < 1:
            raise ValueError(f"{name} must be a positive int, but got {n!r}")
    if num_keys < num_pairs:
        raise ValueError(
            f"num_keys must be at least num_pairs={num_pairs} (keys are distinct), "
            f"but got {num_keys}"
        )
    g = generator
    keys = torch.rand(batch_size, num_keys, generator=g).argsort(dim=-1)[:, :num_pairs]
    values = torch.randint(num_values, (batch_size, num_pairs), generator=g)
    positions = torch.randint(num_pairs, (batch_size, num_queries), generator=g)
    queries = keys.gather(1, positions)
    targets = values.gather(1, positions)
    return LookupBatch(*(t.to(device) for t in (keys, values, queries, targets, positions)))


def shifted_copy(
    batch_size: int,
    seq_len: int,
    *,
    shift: int = 3,
    vocab_size: int = 16,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Random tokens ``(B, T)`` and targets ``(B, T)``: ``targets[:, i] = tokens[:, i - shift]``.

    "Copy the token ``shift`` places back": a task that needs to know *where* tokens are, not
    only what they are. The first ``shift`` targets have no answer and are ``IGNORE_INDEX``.
    """
    for name, n in (("batch_size", batch_size), ("seq_len", seq_len),
                    ("shift", shift), ("vocab_size", vocab_size)):  # fmt: skip
        if not is_int(n) or n < 1:
            raise ValueError(f"{name} must be a positive int, but got {n!r}")
    if shift >= seq_len:
        raise ValueError(f"shift must be smaller than seq_len={seq_len}, but got {shift}")
    tokens = torch.randint(vocab_size, (batch_size, seq_len), generator=generator)
    targets = torch.full_like(tokens, IGNORE_INDEX)
    targets[:, shift:] = tokens[:, :-shift]
    return tokens.to(device), targets.to(device)
