"""Scores for generated text: BLEU, chrF, exact match, and perplexity (chapters 5 and 6).

BLEU and chrF come from ``sacrebleu``, the reference implementation whose numbers papers
report; computing them by hand would give numbers that cannot be compared with anyone's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["bleu", "chrf", "exact_match", "perplexity"]


def _check_corpora(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("hypotheses and references must be lists of strings, not one string")
    if len(hypotheses) != len(references):
        raise ValueError(
            f"hypotheses has {len(hypotheses)} sentences but references has {len(references)}"
        )
    for name, corpus in (("hypotheses", hypotheses), ("references", references)):
        for sentence in corpus:
            if not isinstance(sentence, str):
                raise TypeError(f"{name} must hold strings, but holds {type(sentence).__name__}")


def _sacrebleu():
    try:
        import sacrebleu
    except ImportError as e:  # an optional dependency: only the text metrics need it
        raise ImportError("bleu and chrf need the sacrebleu package: pip install sacrebleu") from e
    return sacrebleu


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus-level BLEU (0 to 100) of ``hypotheses`` against one reference each.

    Corpus level, as in the papers: n-gram counts are summed over all sentences before the
    precisions are taken, so short sentences do not dominate. sacrebleu's default ``13a``
    tokenisation is used.
    """
    _check_corpora(hypotheses, references)
    return float(_sacrebleu().corpus_bleu(list(hypotheses), [list(references)]).score)


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus-level chrF (0 to 100): character n-gram F-score, kinder to morphology than BLEU.

    For a task like number words ("dreihundertfünfundvierzig" is one word) BLEU only sees
    whole-word matches, while chrF gives credit for every correct piece.
    """
    _check_corpora(hypotheses, references)
    return float(_sacrebleu().corpus_chrf(list(hypotheses), [list(references)]).score)


def exact_match(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """The fraction (0 to 1) of hypotheses equal to their reference, ignoring outer spaces."""
    _check_corpora(hypotheses, references)
    if not hypotheses:
        raise ValueError("hypotheses and references are empty")
    hits = sum(h.strip() == r.strip() for h, r in zip(hypotheses, references, strict=True))
    return hits / len(hypotheses)


def perplexity(mean_cross_entropy: float) -> float:
    """``exp(mean cross-entropy in nats)``: the effective number of equally likely next tokens.

    A uniform guess over ``V`` tokens has perplexity ``V``; a perfect model has 1.
    """
    try:
        value = float(mean_cross_entropy)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"mean_cross_entropy must be a number >= 0, but got {mean_cross_entropy!r}"
        ) from e
    if math.isnan(value) or value < 0:
        raise ValueError(f"mean_cross_entropy must be a number >= 0, but got {mean_cross_entropy}")
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf
