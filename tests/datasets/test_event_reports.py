"""The generated data sets of chapter 8: event reports with headlines, and sentiment reviews."""

import random
import re

import pytest

from transformer_lib.data.tokenizers import WordTokenizer
from transformer_lib.datasets.news_reports import EVENT_KINDS, EventReport, event_reports
from transformer_lib.datasets.reviews import REVIEW_KINDS, Review, sentiment_reviews

# ---------------------------------------------------------------- event reports


@pytest.fixture(scope="module")
def reports():
    return event_reports(300, seed=0)


def test_reports_are_deterministic_and_seed_dependent(reports):
    assert event_reports(300, seed=0) == reports
    other = event_reports(300, seed=1)
    assert sum(a.report == b.report for a, b in zip(reports, other, strict=True)) < 5


def test_reports_leave_the_global_random_state_alone():
    random.seed(7)
    expected = random.random()
    random.seed(7)
    event_reports(20, seed=3)
    assert random.random() == expected


def test_kinds_cycle_and_reports_have_three_to_six_sentences(reports):
    assert all(isinstance(r, EventReport) for r in reports)
    assert [r.kind for r in reports[:6]] == list(EVENT_KINDS) * 2
    # Sentences end with "." followed by a space or the end; names never contain ". ".
    counts = [len(re.findall(r"\.(?: |$)", r.report)) for r in reports]
    assert min(counts) == 3 and max(counts) == 6


def test_headline_facts_appear_in_the_report(reports):
    for r in reports:
        for fact in r.facts:
            assert re.search(rf"\b{re.escape(fact)}\b", r.report), (fact, r.report)


def test_headline_entities_are_the_facts(reports):
    for r in reports:
        # Entities (capitalised facts) are copied into the headline verbatim.
        for fact in r.facts:
            if fact[0].isupper():
                assert fact in r.headline, (fact, r.headline)


def test_amounts_are_written_in_words_in_the_report_and_digits_in_the_headline(reports):
    from num2words import num2words

    for r in reports:
        if r.kind == "acquisition":
            amount = int(re.search(r"\$(\d+) million$", r.headline).group(1))
            assert f"{num2words(amount)} million dollars" in r.report
        # The only digits in a report are a founding year.
        assert all(len(digits) == 4 for digits in re.findall(r"\d+", r.report)), r.report
        if r.kind == "match":
            goals, conceded = map(int, re.search(r"(\d+)-(\d+)$", r.headline).groups())
            assert goals > conceded
            words = [num2words(goals), "nil" if conceded == 0 else num2words(conceded)]
            assert all(w in r.facts for w in words)


def test_every_report_has_distractors_the_headline_does_not_use(reports):
    for r in reports:
        assert r.distractors, r.report
        for d in r.distractors:
            assert re.search(rf"\b{re.escape(d)}\b", r.report), (d, r.report)
            assert d not in r.facts
            if d[0].isupper():  # an entity: never in the headline
                assert d not in r.headline, (d, r.headline)
    # A competing company, team or person is among them in every report.
    assert all(any(d[0].isupper() for d in r.distractors) for r in reports)


def test_the_event_sentence_is_not_always_first(reports):
    firsts = [r.report.split(". ")[0] for r in reports]
    lead_with_a_fact = sum(
        all(f in first for f in r.facts[:2]) for r, first in zip(reports, firsts, strict=True)
    )
    assert 0.2 * len(reports) < lead_with_a_fact < 0.8 * len(reports)


def test_test_and_train_sets_share_a_vocabulary():
    train, test = event_reports(600, seed=0), event_reports(100, seed=1)
    tok = WordTokenizer([r.report for r in train] + [r.headline for r in train])
    ids = [i for r in test for i in tok.encode(r.headline)]
    assert ids.count(tok.unk_id) / len(ids) < 0.02


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": -1}, ValueError, "n must be >= 0, but got -1"),
        ({"n": 2.5}, TypeError, "n must be an int, but got float"),
        ({"n": True}, TypeError, "n must be an int, but got bool"),
        ({"n": 3, "seed": "0"}, TypeError, "seed must be an int, but got str"),
    ],
)
def test_event_reports_bad_input(kwargs, error, match):
    n = kwargs.pop("n")
    with pytest.raises(error, match=match):
        event_reports(n, **kwargs)


def test_zero_reports_is_an_empty_list():
    assert event_reports(0) == []


# ---------------------------------------------------------------- sentiment reviews


@pytest.fixture(scope="module")
def reviews():
    return sentiment_reviews(2000, seed=0)


def test_reviews_are_deterministic(reviews):
    assert sentiment_reviews(2000, seed=0) == reviews
    assert sentiment_reviews(2000, seed=1) != reviews
    assert all(isinstance(r, Review) for r in reviews)


def test_review_kinds_and_labels_are_balanced(reviews):
    share = {k: sum(r.kind == k for r in reviews) / len(reviews) for k in REVIEW_KINDS}
    assert share["plain"] == pytest.approx(0.4, abs=0.05)
    for k in REVIEW_KINDS[1:]:
        assert share[k] == pytest.approx(0.15, abs=0.04)
    for k in REVIEW_KINDS:
        labels = [r.label for r in reviews if r.kind == k]
        assert 0.4 < sum(labels) / len(labels) < 0.6, k
    assert all(r.label in (0, 1) for r in reviews)


POSITIVE = {"good", "great", "excellent", "lovely", "superb", "friendly", "fresh", "perfect",
            "delicious", "pleasant", "wonderful", "fine"}  # fmt: skip


def clause_sentiment(clause):
    """An independent reading of one clause: the adjective's polarity, flipped by a negation."""
    words = re.findall(r"\w+", clause.lower())
    positive = words[-1] in POSITIVE
    negated = any(w in ("not", "never", "hardly") for w in words)
    return int(positive != negated)


def test_labels_follow_the_main_clause(reviews):
    for r in reviews:
        text = r.text.rstrip(".")
        if r.kind in ("plain", "negated"):
            main = text
        elif r.kind == "but":
            first, main = text.split(", but ")
            assert clause_sentiment(first) != clause_sentiment(main)
        elif r.kind == "although first":
            first, main = text.split(", ")
            assert first.startswith("Although ")
        else:
            main, second = text.split(", although ")
            assert clause_sentiment(main) != clause_sentiment(second)
        assert r.label == clause_sentiment(main), r


def test_word_order_alone_decides_some_labels():
    # Swapping "although" to the other clause keeps the words and flips the label.
    reviews = [r for r in sentiment_reviews(500, seed=2) if r.kind == "although first"]
    for r in reviews[:20]:
        first, second = r.text[len("Although ") :].rstrip(".").split(", ")
        swapped = f"{first[0].upper()}{first[1:]}, although {second}."
        assert sorted(swapped.lower().split()) == sorted(r.text.lower().split())
        assert clause_sentiment(first) != r.label


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": -3}, ValueError, "n must be >= 0, but got -3"),
        ({"n": "10"}, TypeError, "n must be an int, but got str"),
        ({"n": 3, "seed": 1.0}, TypeError, "seed must be an int, but got float"),
        ({"n": 3, "plain_fraction": 1.5}, ValueError, r"plain_fraction must lie in \[0, 1\]"),
        ({"n": 3, "plain_fraction": "half"}, TypeError, "plain_fraction must be a number"),
    ],
)
def test_sentiment_reviews_bad_input(kwargs, error, match):
    n = kwargs.pop("n")
    with pytest.raises(error, match=match):
        sentiment_reviews(n, **kwargs)
