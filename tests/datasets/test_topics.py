"""Tests of the generated topic sentences (chapter 6's task where pre-training pays)."""

import pytest

from transformer_lib.datasets.topics import TOPIC_WORDS, TOPICS, TopicSentence, topic_sentences


def test_topic_words_are_distinct_across_topics():
    assert set(TOPIC_WORDS) == set(TOPICS)
    every = [w for words in TOPIC_WORDS.values() for w in words]
    assert len(every) == len(set(every)) == 40 * len(TOPICS)


def test_label_is_carried_by_topic_words_alone():
    owner = {w: t for t, words in TOPIC_WORDS.items() for w in words}
    sentences = topic_sentences(500, seed=3)
    frame_words = set()
    for s in sentences:
        assert isinstance(s, TopicSentence) and TOPICS[s.label] == s.topic
        topical = [w for w in s.text.split() if w in owner]
        assert 2 <= len(topical) <= 4 and len(set(topical)) == len(topical)
        assert {owner[w] for w in topical} == {s.topic}
        frame_words |= {w for w in s.text.split() if w not in owner}
    # the frames' own words say nothing about the topic
    assert not frame_words & set(owner)
    counts = [sum(s.label == k for s in sentences) for k in range(len(TOPICS))]
    assert min(counts) > 80  # roughly uniform over four topics


def test_topic_sentences_are_deterministic_per_seed():
    assert topic_sentences(50, seed=1) == topic_sentences(50, seed=1)
    assert topic_sentences(50, seed=1) != topic_sentences(50, seed=2)
    assert topic_sentences(0) == []


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        (dict(n=-1), ValueError, "n"),
        (dict(n=2.0), TypeError, "n"),
        (dict(n=True), TypeError, "n"),
        (dict(n=3, seed="0"), TypeError, "seed"),
    ],
)
def test_topic_sentences_rejects_bad_input(kwargs, error, name):
    with pytest.raises(error, match=name):
        topic_sentences(**kwargs)
