"""sft_batch (transformer_lib.data.instruction): the inputs and targets of instruction tuning,
checked by hand, against the loss they must give, and as a property over random pairs."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import transformer_lib as tl

IGNORE = tl.IGNORE_INDEX


def test_by_hand():
    ids, targets = tl.sft_batch([[1, 5], [1]], [[7, 8, 2], [9, 2]], pad_id=0)
    assert ids.tolist() == [[1, 5, 7, 8, 2], [1, 9, 2, 0, 0]]
    assert targets.tolist() == [[IGNORE, 7, 8, 2, IGNORE], [9, 2, IGNORE, IGNORE, IGNORE]]


def test_the_gpt_loss_on_the_batch_is_the_mean_over_response_tokens_only():
    torch.manual_seed(0)
    config = tl.GPTConfig(vocab_size=12, max_len=8, d_model=16, num_heads=2, num_layers=1)
    model = tl.GPT(config).eval()
    prompts, responses = [[1, 3, 4], [1, 6]], [[5, 2], [7, 8, 9, 2]]
    ids, targets = tl.sft_batch(prompts, responses, pad_id=0)
    logits, loss = model(ids, targets)
    by_hand = []  # -log p(response token | everything before it), token by token
    for b, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        for k, token in enumerate(r):
            by_hand.append(-F.log_softmax(logits[b, len(p) + k - 1], -1)[token])
    torch.testing.assert_close(loss, torch.stack(by_hand).mean())


token_lists = st.lists(st.integers(3, 20), min_size=1, max_size=6)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(st.lists(st.tuples(token_lists, token_lists), min_size=1, max_size=4))
def test_targets_are_the_next_token_exactly_where_it_belongs_to_the_response(pairs):
    prompts, responses = [p for p, _ in pairs], [r for _, r in pairs]
    ids, targets = tl.sft_batch(prompts, responses, pad_id=0)
    assert ids.shape == targets.shape == (len(pairs), max(len(p) + len(r) for p, r in pairs))
    for b, (p, r) in enumerate(pairs):
        assert ids[b, : len(p) + len(r)].tolist() == p + r
        assert (ids[b, len(p) + len(r) :] == 0).all()
        for t in range(ids.shape[1]):
            in_response = len(p) <= t + 1 < len(p) + len(r)
            expected = ids[b, t + 1].item() if in_response else IGNORE
            assert targets[b, t].item() == expected
    assert (targets != IGNORE).sum().item() == sum(len(r) for r in responses)


@pytest.mark.parametrize(
    "prompts, responses, kwargs, error, pattern",
    [
        ([[1]], [[2], [3]], {}, ValueError, "2 responses"),
        ([[1]], [[]], {}, ValueError, r"responses\[0\] must hold at least 1 token"),
        ([[]], [[2]], {}, ValueError, r"prompts\[0\] must hold at least 1 token"),
        ([[1.5]], [[2]], {}, TypeError, r"prompts\[0\] must hold int token ids"),
        ("abc", [[2]], {}, TypeError, "prompts must be a list of token-id lists"),
        ([], [], {}, ValueError, "at least one example"),
        ([[1]], [[2]], {"pad_id": None}, TypeError, "pad_id must be an int"),
    ],
)
def test_bad_input_is_named(prompts, responses, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        tl.sft_batch(prompts, responses, **{"pad_id": 0, **kwargs})
