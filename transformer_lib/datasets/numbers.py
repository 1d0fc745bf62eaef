"""The number-words translation task (chapter 5).

Integers become words in two languages with ``num2words``
(``345`` -> "three hundred and forty-five" -> "dreihundertfünfundvierzig"): unlimited,
offline, exactly checkable data that still needs reordering and long-range agreement.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from ..utils._checks import is_int

__all__ = ["number_pairs", "train_test_numbers"]


def _num2words():
    try:
        from num2words import num2words
    except ImportError as e:  # optional: only the number-words task needs it
        raise ImportError(
            "the number-words task needs the num2words package: pip install num2words"
        ) from e
    return num2words


def number_pairs(
    numbers: Iterable[int], *, src_lang: str = "en", tgt_lang: str = "de"
) -> list[tuple[str, str]]:
    """``(source words, target words)`` for each integer, e.g. ``345`` with the defaults:
    ``("three hundred and forty-five", "dreihundertfünfundvierzig")``.

    Languages are num2words codes ("en", "de", "fr", "es", ...).
    """
    num2words = _num2words()
    pairs = []
    for n in numbers:
        if not is_int(n):
            raise TypeError(f"numbers must be ints, but got {n!r}")
        words = []
        for name, lang in (("src_lang", src_lang), ("tgt_lang", tgt_lang)):
            try:
                words.append(num2words(n, lang=lang))
            except NotImplementedError as e:
                raise ValueError(f"{name}={lang!r} is not a language num2words knows") from e
        pairs.append((words[0], words[1]))
    return pairs


def train_test_numbers(
    max_number: int = 9999, test_fraction: float = 0.1, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Split the integers ``0..max_number`` into disjoint, sorted train and test lists.

    The same arguments always give the same split, on any machine. Testing on numbers never
    seen in training measures whether the model learned the rules of number words rather
    than memorising them.
    """
    if not is_int(max_number) or max_number < 1:
        raise ValueError(f"max_number must be an int >= 1, but got {max_number!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, but got {test_fraction!r}")
    total = max_number + 1
    n_test = min(total - 1, max(1, round(test_fraction * total)))
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(order[n_test:]), sorted(order[:n_test])
