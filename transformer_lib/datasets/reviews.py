"""Generated one-sentence reviews whose sentiment depends on word order (chapter 8).

A review praises or criticises one or two aspects of a restaurant, with negation ("was not
bad") and contrast ("good, but ..."; "although ..., ..."). Its label is the sentiment of the
*main* clause, so two reviews made of exactly the same words can have opposite labels::

    The food was great, but the service was slow.        -> negative
    Although the food was great, the service was slow.   -> negative
    The food was great, although the service was slow.   -> positive

A bag-of-words classifier sees no difference between the last two; a Transformer, which
knows where each word stands, can. Negation is the other trap: "bad" is negative and "not
bad" positive, an XOR that no linear model of word counts can represent.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from ..utils._checks import is_int, is_number

__all__ = ["Review", "REVIEW_KINDS", "sentiment_reviews"]

_ASPECTS = (
    "food", "service", "soup", "coffee", "staff", "room", "music", "bread", "view",
    "dessert", "wine", "menu", "pasta", "waiter", "terrace", "price",
)  # fmt: skip
_POSITIVE = (
    "good", "great", "excellent", "lovely", "superb", "friendly", "fresh", "perfect",
    "delicious", "pleasant", "wonderful", "fine",
)  # fmt: skip
_NEGATIVE = (
    "bad", "awful", "poor", "dull", "terrible", "slow", "cold", "rude", "bland", "noisy",
    "disappointing", "stale",
)  # fmt: skip
_INTENSIFIERS = ("", "", "", "really ", "very ", "quite ", "truly ")
_NEGATIONS = ("not", "never", "hardly")

REVIEW_KINDS = ("plain", "negated", "but", "although first", "although second")
"""The constructions. A set holds plain reviews for ``plain_fraction`` of it and the other four
in equal shares."""


class Review(NamedTuple):
    """One generated review, with three fields:

    * ``text``: the sentence, e.g. ``"The soup was not bad."``;
    * ``label``: ``1`` positive, ``0`` negative: the sentiment of the main clause;
    * ``kind``: the construction, one of :data:`REVIEW_KINDS`.
    """

    text: str
    label: int
    kind: str


def _clause(rng: random.Random, negated: bool) -> tuple[str, int]:
    """``("the soup was not bad", 1)``: a clause and its sentiment (1 positive)."""
    aspect = rng.choice(_ASPECTS)
    positive_word = rng.random() < 0.5
    adjective = rng.choice(_POSITIVE if positive_word else _NEGATIVE)
    if negated:
        verb = f"was {rng.choice(_NEGATIONS)}"
        return f"the {aspect} {verb} {adjective}", int(not positive_word)
    return f"the {aspect} was {rng.choice(_INTENSIFIERS)}{adjective}", int(positive_word)


def _review(rng: random.Random, kind: str) -> Review:
    if kind in ("plain", "negated"):
        clause, label = _clause(rng, negated=kind == "negated")
        return Review(clause[0].upper() + clause[1:] + ".", label, kind)
    # Two clauses of opposite sentiment (otherwise word order would not matter), each
    # negated half of the time.
    first, first_label = _clause(rng, negated=rng.random() < 0.5)
    second, second_label = _clause(rng, negated=rng.random() < 0.5)
    while second_label == first_label:
        second, second_label = _clause(rng, negated=rng.random() < 0.5)
    if kind == "but":  # the clause after "but" carries the verdict
        text, label = f"{first}, but {second}.", second_label
    elif kind == "although first":  # "Although A, B": B is the main clause
        text, label = f"although {first}, {second}.", second_label
    else:  # "A, although B": A is the main clause
        text, label = f"{first}, although {second}.", first_label
    return Review(text[0].upper() + text[1:], label, kind)


def sentiment_reviews(n: int, *, seed: int = 0, plain_fraction: float = 0.4) -> list[Review]:
    """``n`` generated reviews, the same for the same ``seed``.

    Each review is plain with probability ``plain_fraction`` and otherwise one of the four
    other constructions of :data:`REVIEW_KINDS`, equally likely. The vocabulary is fixed
    (16 aspects, 12 positive and 12 negative adjectives), so train and test sets drawn with
    different seeds share their words and differ in how they combine them. Labels are
    balanced in expectation.

    Args:
        n: number of reviews (``>= 0``).
        seed: seeds a private ``random.Random``; the global random state is untouched.
        plain_fraction: the expected share of plain reviews, in ``[0, 1]``.

    Returns:
        A list of ``n`` :class:`Review` tuples ``(text, label, kind)``.

    Raises:
        TypeError: ``n`` or ``seed`` is not an int, or ``plain_fraction`` not a number.
        ValueError: ``n`` is negative or ``plain_fraction`` outside ``[0, 1]``.
    """
    if not is_int(n):
        raise TypeError(f"n must be an int, but got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must be >= 0, but got {n}")
    if not is_int(seed):
        raise TypeError(f"seed must be an int, but got {type(seed).__name__}")
    if not is_number(plain_fraction):
        raise TypeError(f"plain_fraction must be a number, but got {type(plain_fraction).__name__}")
    if not 0.0 <= plain_fraction <= 1.0:
        raise ValueError(f"plain_fraction must lie in [0, 1], but got {plain_fraction}")
    rng = random.Random(seed)
    reviews = []
    for _ in range(n):
        plain = rng.random() < plain_fraction
        kind = "plain" if plain else rng.choice(REVIEW_KINDS[1:])
        reviews.append(_review(rng, kind))
    return reviews
