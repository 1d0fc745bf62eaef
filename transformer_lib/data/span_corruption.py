"""T5's pre-training objective: span corruption (Raffel et al., 2020, section 3.1.4).

Some spans of a sequence are dropped from the encoder's input, each replaced by one sentinel
id, and the decoder is asked to write them back, each after its sentinel::

    ids      Thank you for inviting me to your party last week .
    inputs   Thank you <X> me to your party <Y> week .
    targets  <X> for inviting <Y> last <Z>

BERT's masked LM (``tl.mask_tokens``) hides single tokens and predicts each in place; span
corruption hides whole spans, so the inputs are shorter than the text and the targets shorter
still, which makes pre-training cheaper for the same number of tokens read.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from ..utils._checks import is_int

__all__ = ["span_corruption"]


def _as_ids(ids: object) -> Tensor:
    """``ids`` as a 1-D integer tensor, or a named error."""
    if isinstance(ids, list | tuple):
        if not all(is_int(i) for i in ids):
            raise TypeError("ids must be a list of ints or a 1-D integer tensor, but got a list "
                            "holding something else")  # fmt: skip
        ids = torch.tensor(ids, dtype=torch.long)
    if not isinstance(ids, Tensor):
        raise TypeError(f"ids must be a 1-D integer tensor, but got {type(ids).__name__}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise TypeError(f"ids must be an integer tensor, but got dtype {ids.dtype}")
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D (one sequence), but got shape {tuple(ids.shape)}")
    if len(ids) < 2:
        raise ValueError(
            f"ids must hold at least 2 tokens (one noise, one kept), but got length {len(ids)}"
        )
    return ids


def _as_sentinels(sentinel_ids: object) -> list[int]:
    if isinstance(sentinel_ids, Tensor):
        if sentinel_ids.dim() != 1 or sentinel_ids.dtype.is_floating_point:
            raise TypeError(
                "sentinel_ids must be a sequence of ints or a 1-D integer tensor, but got a "
                f"tensor of shape {tuple(sentinel_ids.shape)} and dtype {sentinel_ids.dtype}"
            )
        sentinel_ids = sentinel_ids.tolist()
    if not isinstance(sentinel_ids, Sequence) or not all(is_int(i) for i in sentinel_ids):
        raise TypeError(f"sentinel_ids must be a sequence of ints, but got {sentinel_ids!r}")
    if len(set(sentinel_ids)) != len(sentinel_ids):
        raise ValueError(f"sentinel_ids must be distinct, but got {list(sentinel_ids)}")
    return list(sentinel_ids)


def _check_rates(noise_density: object, mean_span_length: object, generator: object) -> None:
    if not isinstance(noise_density, numbers.Real) or isinstance(noise_density, bool):
        raise TypeError(f"noise_density must be a float, but got {noise_density!r}")
    if not 0.0 < noise_density < 1.0:
        raise ValueError(f"noise_density must be in (0, 1), but got {noise_density!r}")
    if not isinstance(mean_span_length, numbers.Real) or isinstance(mean_span_length, bool):
        raise TypeError(f"mean_span_length must be a float, but got {mean_span_length!r}")
    if not mean_span_length >= 1.0:
        raise ValueError(f"mean_span_length must be >= 1, but got {mean_span_length!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, but got {type(generator).__name__}"
        )


def _span_counts(length: int, noise_density: float, mean_span_length: float) -> tuple[int, int]:
    """How many noise tokens and how many spans a sequence of ``length`` tokens gets."""
    num_noise = min(max(round(length * noise_density), 1), length - 1)
    num_kept = length - num_noise
    num_spans = max(1, round(num_noise / mean_span_length))
    # Every span holds a noise token, and a kept token separates each span from the next.
    num_spans = min(num_spans, num_noise, num_kept + 1)
    return num_noise, num_spans


def _composition(
    total: int, parts: int, minimum: int, generator: torch.Generator | None
) -> list[int]:
    """A random split of ``total`` into ``parts`` ordered parts, each at least ``minimum``.

    Stars and bars: with ``free = total - parts * minimum`` units left over, choose where the
    ``parts - 1`` bars go among ``free + parts - 1`` slots, uniformly over all splits.
    """
    free = total - parts * minimum
    slots = free + parts - 1
    bars = torch.randperm(slots, generator=generator)[: parts - 1].sort().values.tolist()
    edges = [-1, *bars, slots]
    return [edges[i + 1] - edges[i] - 1 + minimum for i in range(parts)]


def span_corruption(
    ids: Tensor | list[int],
    *,
    sentinel_ids: Sequence[int] | Tensor,
    noise_density: float = 0.15,
    mean_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """T5's span corruption of one sequence: drop random spans, ask for them back.

    Of the ``L = len(ids)`` tokens, ``round(L * noise_density)`` (at least 1, at most
    ``L - 1``) become noise, in ``round(noise / mean_span_length)`` spans (at least 1; fewer
    if they would not fit). Spans are separated by at least one kept token. The lengths of the
    spans, and of the kept runs between and around them, are a uniformly random split of the
    noise and kept counts; the sequence may begin or end with a span. (T5's own code always
    begins with a kept run; the paper's objective does not need that.)

    ``inputs`` is ``ids`` with the ``i``-th span replaced by the single id ``sentinel_ids[i]``.
    ``targets`` is each span in order, after its sentinel, and then **one closing sentinel**
    ``sentinel_ids[num_spans]``, as in Figure 2 of Raffel et al. (2020) and in Hugging Face's
    T5 pre-processing. So ``sentinel_ids`` needs ``num_spans + 1`` ids (about
    ``L * noise_density / mean_span_length + 1``), none of which may occur in ``ids``. Add
    EOS to ``targets`` yourself if your decoder needs one.

    Args:
        ids: ``(L,)`` token ids, an integer tensor or a list of ints, ``L >= 2``.
        sentinel_ids: the sentinel ids in order of use (T5's ``<extra_id_0>``, ``<extra_id_1>``...).
        noise_density: the fraction of tokens to corrupt, in ``(0, 1)``.
        mean_span_length: the mean length of a corrupted span, at least 1.
        generator: a ``torch.Generator`` for a reproducible corruption.

    Returns:
        ``(inputs, targets)``: 1-D tensors of the dtype and device of ``ids`` (``torch.long``
        for a list), of lengths ``L - noise + num_spans`` and ``noise + num_spans + 1``.

    >>> import torch, transformer_lib as tl
    >>> g = torch.Generator().manual_seed(0)
    >>> inputs, targets = tl.span_corruption(torch.arange(10), sentinel_ids=[100, 101],
    ...                                      noise_density=0.3, generator=g)
    >>> len(inputs), len(targets)
    (8, 5)
    """
    ids = _as_ids(ids)
    sentinels = _as_sentinels(sentinel_ids)
    _check_rates(noise_density, mean_span_length, generator)
    if generator is not None and generator.device.type != "cpu":
        raise ValueError(f"generator must be a CPU generator, but got one on {generator.device}")
    length = len(ids)
    num_noise, num_spans = _span_counts(length, float(noise_density), float(mean_span_length))
    if len(sentinels) < num_spans + 1:
        raise ValueError(
            f"sentinel_ids must hold at least {num_spans + 1} ids ({num_spans} spans and one "
            f"closing sentinel for a sequence of length {length}), but got {len(sentinels)}"
        )
    tokens = ids.tolist()
    clash = set(tokens) & set(sentinels[: num_spans + 1])
    if clash:
        raise ValueError(f"ids must not contain a sentinel id, but they contain {sorted(clash)}")

    spans = _composition(num_noise, num_spans, 1, generator)
    # num_spans + 1 kept runs: the inner ones at least 1 token long, the two outer ones >= 0.
    runs = _composition(length - num_noise - (num_spans - 1), num_spans + 1, 0, generator)
    runs = [runs[0], *(r + 1 for r in runs[1:-1]), runs[-1]]

    inputs: list[int] = []
    targets: list[int] = []
    at = 0
    for i in range(num_spans):
        inputs += tokens[at : at + runs[i]]
        at += runs[i]
        inputs.append(sentinels[i])
        targets += [sentinels[i], *tokens[at : at + spans[i]]]
        at += spans[i]
    inputs += tokens[at:]
    targets.append(sentinels[num_spans])
    as_tensor = dict(dtype=ids.dtype, device=ids.device)
    return torch.tensor(inputs, **as_tensor), torch.tensor(targets, **as_tensor)
