"""Synthetic tasks whose answers we know, so that a notebook can assert that a model learned.

Every generator takes a ``torch.Generator`` so that a task's data does not depend on how many
random numbers model initialisation happened to draw.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = ["LookupBatch", "key_value_lookup"]


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
                    ("num_queries", num_queries), ("num_values", num_values)):  # fmt: skip
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
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
