"""Tests of the text metrics against sacrebleu itself, and of perplexity."""

import builtins
import math

import pytest
import sacrebleu

from transformer_lib.evaluation.metrics import bleu, chrf, exact_match, perplexity

HYPS = ["the cat sat on the mat", "a dog barked loudly at night", "three hundred and five"]
REFS = ["the cat sat on a mat", "the dog barked loudly at night", "three hundred and five"]


def test_bleu_of_identical_corpora_is_100():
    assert bleu(REFS, REFS) == pytest.approx(100.0)


def test_bleu_of_disjoint_corpora_is_zero():
    assert bleu(["alpha beta gamma delta"], ["one two three four"]) == pytest.approx(0.0, abs=1e-9)


def test_bleu_and_chrf_agree_with_sacrebleu():
    assert bleu(HYPS, REFS) == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score)
    assert chrf(HYPS, REFS) == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS]).score)
    assert 0 < bleu(HYPS, REFS) < 100
    assert isinstance(bleu(HYPS, REFS), float) and isinstance(chrf(HYPS, REFS), float)


def test_chrf_gives_partial_credit_inside_words():
    hyp, ref = ["dreihundertfünfundvierzig"], ["dreihundertsechsundvierzig"]
    assert bleu(hyp, ref) == pytest.approx(0.0, abs=1e-9)  # one word, and it is wrong
    assert chrf(hyp, ref) > 50
    assert chrf(ref, ref) == pytest.approx(100.0)


@pytest.mark.parametrize("metric", [bleu, chrf, exact_match])
def test_length_mismatch_names_both(metric):
    with pytest.raises(ValueError, match=r"hypotheses has 2 .* references has 3"):
        metric(["a", "b"], ["a", "b", "c"])


@pytest.mark.parametrize("metric", [bleu, chrf, exact_match])
def test_a_single_string_is_rejected(metric):
    with pytest.raises(TypeError, match="lists of strings"):
        metric("a b", "a b")


def test_missing_sacrebleu_gives_a_clear_import_error(monkeypatch):
    real_import = builtins.__import__

    def no_sacrebleu(name, *args, **kwargs):
        if name == "sacrebleu":
            raise ImportError("No module named 'sacrebleu'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sacrebleu)
    with pytest.raises(ImportError, match="pip install sacrebleu"):
        bleu(["a"], ["a"])


def test_exact_match():
    assert exact_match(["a b", "c ", "d"], ["a b", "c", "e"]) == pytest.approx(2 / 3)
    assert exact_match(REFS, REFS) == 1.0
    with pytest.raises(ValueError, match="empty"):
        exact_match([], [])


def test_perplexity_is_exp():
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(50)) == pytest.approx(50.0)
    assert perplexity(2.5) == pytest.approx(math.exp(2.5))
    assert perplexity(1e6) == math.inf
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="mean_cross_entropy"):
            perplexity(bad)
