"""Tests of the generated instruction set (chapter 10's instruction tuning)."""

import re

import pytest

from transformer_lib.datasets.instructions import (
    INSTRUCTION_TASKS,
    INSTRUCTION_TEMPLATES,
    REFUSAL,
    Instruction,
    instruction_tasks,
)


def _phrasing(template: str) -> re.Pattern:
    # a template as a regex: every {field} matches anything
    return re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(template)), re.DOTALL)


@pytest.fixture(scope="module")
def train():
    return instruction_tasks(200, seed=0)


@pytest.fixture(scope="module")
def test():
    return instruction_tasks(200, split="test", seed=0)


def test_the_test_split_uses_only_held_out_phrasings(train, test):
    for x in test:
        assert x.template == len(INSTRUCTION_TEMPLATES[x.task]) - 1
        assert _phrasing(INSTRUCTION_TEMPLATES[x.task][-1]).fullmatch(x.prompt)
    for x in train:
        assert x.template < len(INSTRUCTION_TEMPLATES[x.task]) - 1
        assert _phrasing(INSTRUCTION_TEMPLATES[x.task][x.template]).fullmatch(x.prompt)
    # every training phrasing is used, and no test prompt occurs in training
    used = {(x.task, x.template) for x in train}
    assert used == {(t, i) for t in INSTRUCTION_TASKS for i in range(4)}
    assert not {x.prompt for x in train} & {x.prompt for x in test}


def test_responses_are_right(train, test):
    from num2words import num2words  # the reference, independent of the generator

    for x in train + test:
        assert isinstance(x, Instruction) and x.task in INSTRUCTION_TASKS
        if x.task != "ask":
            assert x.context == ""
        if x.task == "spell":
            number = int(re.search(r"\d+", x.prompt).group())
            assert 0 <= number < 100 and x.response == num2words(number)
        elif x.task == "digits":
            assert 0 <= int(x.response) < 100
            assert f" {num2words(int(x.response))}" in x.prompt
        elif x.task == "reverse":
            items = re.search(r"(\w+(?:, \w+)+)", x.prompt).group(1).split(", ")
            assert x.response.split(", ") == items[::-1] and 3 <= len(items) <= 4
        else:
            # an answer is a span of the text asked about; a refusal exactly when unanswerable
            assert (x.response == REFUSAL) == (not x.answerable)
            assert x.context and x.context in x.prompt
            if x.answerable:
                assert x.response in x.prompt


def test_tasks_take_turns_and_some_questions_are_unanswerable(train):
    assert [x.task for x in train[:8]] == list(INSTRUCTION_TASKS) * 2
    ask = [x for x in train if x.task == "ask"]
    refused = sum(not x.answerable for x in ask) / len(ask)
    assert 0.1 < refused < 0.5, refused


def test_deterministic_per_seed_and_split():
    assert instruction_tasks(12, seed=3) == instruction_tasks(12, seed=3)
    assert instruction_tasks(12, seed=3) != instruction_tasks(12, seed=4)
    assert instruction_tasks(0) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": -1}, ValueError, "n must be an int >= 0, but got -1"),
        ({"n": 2.0}, ValueError, "n must be an int >= 0, but got 2.0"),
        ({"n": 2, "split": "dev"}, ValueError, "split must be 'train' or 'test', but got 'dev'"),
        ({"n": 2, "seed": "a"}, TypeError, "seed must be an int, but got 'a'"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=re.escape(match)):
        instruction_tasks(**kwargs)
