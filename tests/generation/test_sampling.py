"""Tests of choosing the next token (transformer_lib.generation.sampling.sample_token) and of
the hook through which GPT.generate uses it."""

import pytest
import torch

import transformer_lib as tl


def test_sampling_filters_by_hand():
    logits = torch.log(torch.tensor([[0.05, 0.5, 0.3, 0.15]]))
    g = torch.Generator().manual_seed(0)
    sample = tl.sample_token
    assert sample(logits, 0, None, None, g).item() == 1
    # Sorted, the probabilities are 0.5, 0.3, 0.15, 0.05: top_k=2 keeps tokens 1 and 2, and so
    # does any top_p in (0.5, 0.8].
    for top_k, top_p in ((2, None), (None, 0.55), (None, 0.79), (3, 0.79)):
        draws = {sample(logits, 1.0, top_k, top_p, g).item() for _ in range(200)}
        assert draws == {1, 2}, (top_k, top_p)
    draws = {sample(logits, 1.0, None, 0.81, g).item() for _ in range(300)}
    assert draws == {1, 2, 3}  # 0.81 needs the third most likely token too
    assert {sample(logits, 1.0, None, 0.45, g).item() for _ in range(50)} == {1}
    assert {sample(logits, 1.0, None, None, g).item() for _ in range(500)} == {0, 1, 2, 3}


def test_sampling_matches_the_softmax_frequencies():
    probs = torch.tensor([0.1, 0.6, 0.3])
    logits = probs.log().expand(20000, 3)
    drawn = tl.sample_token(logits, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(drawn, minlength=3) / drawn.numel()
    torch.testing.assert_close(freq, probs, atol=0.015, rtol=0)


def test_a_subclass_changes_how_generate_samples():
    """GPT.sample_token is the hook: overriding it changes every token generate draws."""

    class LastToken(tl.GPT):
        def sample_token(self, logits, temperature, top_k, top_p, generator):
            chosen = super().sample_token(logits, temperature, top_k, top_p, generator)
            return torch.full_like(chosen, logits.shape[-1] - 1)

    config = tl.GPTConfig(vocab_size=7, max_len=8, d_model=16, num_heads=2, num_layers=1)
    out = LastToken(config).generate(torch.zeros(2, 1, dtype=torch.long), 4)
    assert (out[:, 1:] == 6).all()


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(temperature=-1.0), "temperature must be >= 0"),
        (dict(top_k=0), "top_k must be a positive int"),
        (dict(top_p=1.5), r"top_p must be a number in \(0, 1\]"),
    ],
)
def test_generate_names_a_bad_sampling_argument(kwargs, pattern):
    model = tl.GPT(tl.GPTConfig(vocab_size=7, max_len=8, d_model=16, num_heads=2, num_layers=1))
    with pytest.raises(ValueError, match=pattern):
        model.generate(torch.zeros(1, 1, dtype=torch.long), 2, **kwargs)
