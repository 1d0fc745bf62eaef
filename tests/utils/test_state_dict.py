"""The one weight loader: every mismatch found before anything is copied, summarised short."""

import pytest
import torch
from torch import nn

from transformer_lib.utils._state_dict import load_weights, rename, unwrap


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(5, 4)
        self.head = nn.Linear(4, 5, bias=False)
        self.head.weight = self.embed.weight


def test_a_tied_weight_may_be_given_under_either_name():
    source, target = Tied(), Tied()
    load_weights(target, {"head.weight": source.embed.weight}, "test")
    assert torch.equal(target.embed.weight, source.embed.weight)


def test_nothing_is_copied_when_anything_mismatches():
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    before = model[0].weight.clone()
    state = {**model.state_dict(), "0.weight": torch.ones(3, 3), "1.bias": torch.ones(4)}
    with pytest.raises(ValueError, match=r"test does not fit Sequential: 1 of another shape"):
        load_weights(model, state, "test")
    assert torch.equal(model[0].weight, before)


def test_a_long_mismatch_names_a_few_keys_and_counts_the_rest():
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(50)])
    with pytest.raises(ValueError) as info:
        load_weights(model, {}, "test")
    assert "100 missing (0.bias, 0.weight, 1.bias and 97 more)" in str(info.value)
    assert len(str(info.value)) < 200


def test_rename_refuses_missing_and_unused_keys():
    state = {"a": torch.zeros(1), "b": torch.zeros(1), "buffer": torch.zeros(1)}
    assert rename(state, {"x": "a", "y": "b"}, "X", ignore=("buffer",)).keys() == {"x", "y"}
    with pytest.raises(ValueError, match=r"the X weights lack 1 keys \(c\)"):
        rename(state, {"x": "c"}, "X")
    with pytest.raises(ValueError, match=r"2 X weights this converter does not use \(b, buffer\)"):
        rename(state, {"x": "a"}, "X")


def test_unwrap_finds_the_model_inside_compile():
    model = nn.Linear(2, 2)
    assert unwrap(torch.compile(model)) is model
    assert unwrap(model) is model
