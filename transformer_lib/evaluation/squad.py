"""The SQuAD metrics of extractive question answering: exact match and token F1 on normalised
answers (Rajpurkar et al., 2016), as the official evaluation script defines them."""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Sequence

__all__ = ["normalize_answer", "qa_exact_match", "qa_f1", "squad_scores"]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles (a, an, the), single spaces: SQuAD's rule.

    So that "The Eiffel Tower." and "eiffel tower" count as the same answer.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, but got {type(text).__name__}")
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def qa_exact_match(prediction: str, truth: str) -> float:
    """1.0 if the normalized prediction equals the normalized truth, else 0.0.

    For an unanswerable question the truth is ``""``: only an empty prediction is right.
    """
    return float(normalize_answer(prediction) == normalize_answer(truth))


def qa_f1(prediction: str, truth: str) -> float:
    """Token F1 between prediction and truth (after :func:`normalize_answer`), in [0, 1].

    Precision is the share of predicted words that are in the truth, recall the share of
    the truth's words that were predicted (words counted with multiplicity), F1 their
    harmonic mean. If either is empty (no answer), F1 is 1 when both are and 0 otherwise,
    as in SQuAD 2.0's evaluation.
    """
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not pred or not gold:
        return float(pred == gold)
    common = sum((collections.Counter(pred) & collections.Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: Sequence[str], truths: Sequence[str]) -> dict[str, float]:
    """Mean exact match and mean F1 (both in [0, 1]) over a list of answers.

    Returns ``{"exact_match": ..., "f1": ...}``.
    """
    for name, seq in (("predictions", predictions), ("truths", truths)):
        if isinstance(seq, str):
            raise TypeError(f"{name} must be a list of strings, not one string")
    if len(predictions) != len(truths) or not truths:
        raise ValueError(
            f"predictions and truths must be non-empty and of equal length, but have "
            f"{len(predictions)} and {len(truths)}"
        )
    pairs = list(zip(predictions, truths, strict=True))
    return {
        "exact_match": sum(qa_exact_match(p, t) for p, t in pairs) / len(pairs),
        "f1": sum(qa_f1(p, t) for p, t in pairs) / len(pairs),
    }
