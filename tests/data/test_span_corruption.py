"""tl.span_corruption: T5's objective (Raffel et al., 2020) against its definition.

The reference is the definition itself, decoded independently of the implementation: walk
``inputs``; every sentinel marks where a span was cut out, and ``targets`` says, after the same
sentinel, which tokens it held. Rebuilding the sequence from the two, and counting what the
definition fixes (noise tokens, spans, sentinel order, kept tokens between spans), checks the
function without re-running its algorithm.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import transformer_lib as tl

SENTINELS = list(range(1000, 1100))
TEN, HUNDRED = torch.arange(10), torch.arange(100)


def corrupt(ids, seed=0, **kw):
    kw.setdefault("sentinel_ids", SENTINELS)
    return tl.span_corruption(ids, generator=torch.Generator().manual_seed(seed), **kw)


def decode(inputs: list[int], targets: list[int], sentinels: list[int]):
    """Split targets into spans by sentinel and splice them back into inputs.

    Returns (rebuilt sequence, spans, the sentinels used in inputs, the closing sentinel).
    """
    used = [t for t in inputs if t in sentinels]
    assert targets[-1] in sentinels, "targets end with a closing sentinel"
    spans: dict[int, list[int]] = {}
    current = None
    for t in targets[:-1]:
        if t in sentinels:
            current = t
            spans[current] = []
        else:
            assert current is not None, "targets begin with a sentinel"
            spans[current].append(t)
    rebuilt = []
    for t in inputs:
        rebuilt += spans[t] if t in sentinels else [t]
    return rebuilt, [spans[s] for s in used], used, targets[-1]


def expected_counts(length, density=0.15, mean=3.0):
    noise = min(max(round(length * density), 1), length - 1)
    spans = min(max(1, round(noise / mean)), noise, length - noise + 1)
    return noise, spans


@settings(max_examples=200, deadline=None)
@given(
    length=st.integers(2, 200),
    density=st.floats(0.01, 0.99),
    mean=st.floats(1.0, 10.0),
    seed=st.integers(0, 2**31),
)
def test_definition_and_reconstruction(length, density, mean, seed):
    ids = torch.randint(0, 1000, (length,))
    inputs, targets = corrupt(ids, seed, noise_density=density, mean_span_length=mean)
    inputs, targets = inputs.tolist(), targets.tolist()
    rebuilt, spans, used, closing = decode(inputs, targets, SENTINELS)
    noise, num_spans = expected_counts(length, density, mean)

    assert rebuilt == ids.tolist()  # inputs plus targets give the sequence back
    assert used == SENTINELS[:num_spans]  # the i-th span gets the i-th sentinel
    assert closing == SENTINELS[num_spans]
    assert targets[:-1].count(SENTINELS[0]) == 1 and len(set(used)) == len(used)
    assert sum(len(s) for s in spans) == noise  # round(L * density) noise tokens
    assert all(len(s) >= 1 for s in spans)
    assert len(inputs) == length - noise + num_spans
    assert len(targets) == noise + num_spans + 1
    # Spans are separated: never two sentinels side by side in the inputs.
    assert all(
        not (a in SENTINELS and b in SENTINELS) for a, b in zip(inputs, inputs[1:], strict=False)
    )


@pytest.mark.parametrize(
    ("length", "density", "mean", "noise", "spans"),
    [
        (100, 0.15, 3.0, 15, 5),  # T5's defaults
        (10, 0.3, 1.0, 3, 3),
        (2, 0.15, 3.0, 1, 1),  # at least one noise token and one kept token
        (2, 0.99, 3.0, 1, 1),
        (7, 0.9, 1.0, 6, 2),  # 6 single-token spans would not fit between 1 kept token
        (512, 0.15, 3.0, 77, 26),
    ],
)
def test_counts(length, density, mean, noise, spans):
    inputs, targets = corrupt(torch.arange(length), noise_density=density, mean_span_length=mean)
    assert len(targets) == noise + spans + 1
    assert len(inputs) == length - noise + spans


def test_paper_example_shape():
    """Figure 2: 'Thank you <X> me to your party <Y> week .' -> '<X> for inviting <Y> last <Z>'."""
    words = "Thank you for inviting me to your party last week .".split()
    inputs, targets = corrupt(torch.arange(len(words)), noise_density=0.3, mean_span_length=1.5)
    assert (inputs >= 1000).sum() == 2 and (targets >= 1000).sum() == 3


def test_span_lengths_average_near_mean():
    total, count = 0, 0
    for seed in range(200):
        _, targets = corrupt(torch.arange(300), seed, mean_span_length=3.0)
        spans = (targets >= 1000).sum().item() - 1
        total += (len(targets) - spans - 1) / spans
        count += 1
    assert abs(total / count - 3.0) < 0.1  # 45 noise tokens in 15 spans, exactly 3 on average


def test_spans_land_everywhere():
    """Across seeds every position is sometimes noise, the first and last included."""
    hit = torch.zeros(20, dtype=torch.bool)
    for seed in range(300):
        inputs, targets = corrupt(torch.arange(20), seed, noise_density=0.2)
        hit[[t for t in targets.tolist() if t < 1000]] = True
    assert hit.all()


def test_deterministic_with_seeded_generator_and_varies_across_seeds():
    ids = torch.randint(0, 1000, (64,), generator=torch.Generator().manual_seed(1))
    a, b = corrupt(ids, 5), corrupt(ids, 5)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    outcomes = {tuple(corrupt(ids, s)[1].tolist()) for s in range(20)}
    assert len(outcomes) > 10


def test_list_input_dtype_and_device_follow_ids():
    inputs, targets = corrupt([5, 6, 7, 8, 9, 10])
    assert inputs.dtype == targets.dtype == torch.long
    inputs, targets = corrupt(torch.arange(6, dtype=torch.int32))
    assert inputs.dtype == targets.dtype == torch.int32
    inputs, _ = corrupt(torch.arange(6), sentinel_ids=torch.arange(1000, 1010))
    assert (inputs >= 1000).sum() == 1


def test_ids_not_modified():
    ids = torch.arange(30)
    corrupt(ids)
    assert torch.equal(ids, torch.arange(30))


@pytest.mark.parametrize(
    ("ids", "kw", "error", "match"),
    [
        (torch.arange(10.0), {}, TypeError, r"ids must be an integer tensor.*float32"),
        (torch.ones(10, dtype=torch.bool), {}, TypeError, r"ids must be an integer tensor.*bool"),
        (torch.zeros(2, 5, dtype=torch.long), {}, ValueError, r"ids must be 1-D.*\(2, 5\)"),
        (torch.zeros(0, dtype=torch.long), {}, ValueError, r"ids must hold at least 2.*length 0"),
        (torch.zeros(1, dtype=torch.long), {}, ValueError, r"ids must hold at least 2.*length 1"),
        ("abc", {}, TypeError, r"ids must be a 1-D integer tensor.*str"),
        ([1, 2.5], {}, TypeError, r"ids must be a list of ints"),
        (TEN, {"noise_density": 0.0}, ValueError, r"noise_density .* \(0, 1\).*0\.0"),
        (TEN, {"noise_density": 1.0}, ValueError, r"noise_density .* \(0, 1\).*1\.0"),
        (TEN, {"noise_density": "a"}, TypeError, r"noise_density must be a float"),
        (TEN, {"mean_span_length": 0.5}, ValueError, r"mean_span_length must be >= 1.*0\.5"),
        (TEN, {"generator": 3}, TypeError, r"generator must be a torch.Generator.*int"),
        (HUNDRED, {"sentinel_ids": [1000, 1001]}, ValueError,
         r"sentinel_ids must hold at least 6 ids.*got 2"),
        (TEN, {"sentinel_ids": [1000, 1000]}, ValueError, r"sentinel_ids must be distinct"),
        (TEN, {"sentinel_ids": [1.0, 2.0]}, TypeError, r"sentinel_ids must be a sequence"),
        (TEN, {"sentinel_ids": [5, 1000]}, ValueError,
         r"ids must not contain a sentinel id.*\[5\]"),
    ],
)  # fmt: skip
def test_bad_input(ids, kw, error, match):
    kw.setdefault("sentinel_ids", SENTINELS)
    with pytest.raises(error, match=match):
        tl.span_corruption(ids, **kw)
