"""Tests of greedy decoding and beam search (transformer_lib.generation.decoding).

Independent references: the full forward pass re-run on the whole prefix at every step (no
cache), and a hand-made toy model whose best sequence is known.
"""

import pytest
import torch
from seeded import randint
from seeded import small_transformer as small_model
from torch import nn

from transformer_lib.generation.decoding import beam_search, greedy_decode
from transformer_lib.modules.multi_head_attention import KVCache

POSITIONAL = pytest.mark.parametrize("positional", [None, "sinusoidal", "learned", "rope", "alibi"])
PAD, BOS, EOS = 0, 1, 2


# --------------------------------------------------------------------------------------------
# Greedy decoding and beam search
# --------------------------------------------------------------------------------------------


def naive_greedy(model, src, bos_id, eos_id, max_len):
    """Re-run the full forward pass on the whole prefix at every step: no cache."""
    out = torch.full((src.shape[0], 1), bos_id)
    finished = torch.zeros(src.shape[0], dtype=torch.bool)
    with torch.no_grad():
        for _ in range(max_len - 1):
            logits = model(src, out)[:, -1]
            logits[:, model.pad_id] = float("-inf")
            token = logits.argmax(-1).masked_fill(finished, model.pad_id)
            out = torch.cat([out, token[:, None]], 1)
            finished |= token == eos_id
            if finished.all():
                break
    return out


def sources(B=4, S=6, seed=3):
    src = randint(11, (B, S), seed=seed, low=3)
    for b in range(1, B):
        src[b, S - b :] = PAD  # a different amount of padding per row
    return src


@pytest.mark.parametrize("eos_id", [EOS, 5])
@POSITIONAL
def test_greedy_decode_equals_naive_loop(positional, eos_id):
    model = small_model(positional, dropout=0.1)
    model.train()
    src = sources()
    out = greedy_decode(model, src, bos_id=BOS, eos_id=eos_id, max_len=12)
    assert model.training  # the mode is restored
    model.eval()
    expected = naive_greedy(model, src, BOS, eos_id, 12)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    assert out.shape[1] <= 12 and (out[:, 0] == BOS).all()


def test_greedy_decode_pads_after_eos_and_never_emits_pad():
    model = small_model()
    with torch.no_grad():  # make EOS likely so that sequences end at different steps
        model.generator.bias[EOS] = 2.0
    out = greedy_decode(model, sources(8), bos_id=BOS, eos_id=EOS, max_len=15)
    for row in out.tolist():
        end = row.index(EOS) if EOS in row else len(row)
        assert PAD not in row[: end + 1]
        assert all(t == PAD for t in row[end + 1 :])


@pytest.mark.parametrize("positional", ["sinusoidal", "rope", "alibi"])
def test_beam_search_with_one_beam_equals_greedy(positional):
    model = small_model(positional, seed=1)
    src = sources(5)
    for eos_id in (EOS, 7):
        greedy = greedy_decode(model, src, bos_id=BOS, eos_id=eos_id, max_len=10)
        beam = beam_search(model, src, bos_id=BOS, eos_id=eos_id, max_len=10, beam_size=1)
        torch.testing.assert_close(beam, greedy, rtol=0, atol=0)


def sequence_log_prob(model, src, seq, eos_id):
    """log p(seq | src) under the model, counting tokens up to and including EOS."""
    with torch.no_grad():
        logp = torch.log_softmax(model(src, seq[:, :-1]), -1)
    total = 0.0
    for t in range(1, seq.shape[1]):
        token = int(seq[0, t])
        if token == PAD:
            break
        total += float(logp[0, t - 1, token])
        if token == eos_id:
            break
    return total


def test_beam_search_scores_at_least_as_well_as_greedy_on_a_real_model():
    model = small_model(seed=2)
    with torch.no_grad():
        model.generator.bias[EOS] = 1.5
    src = sources(6)
    for b in range(6):
        one = src[b : b + 1]
        greedy = greedy_decode(model, one, bos_id=BOS, eos_id=EOS, max_len=8)
        beam = beam_search(
            model, one, bos_id=BOS, eos_id=EOS, max_len=8, beam_size=4, length_penalty=0.0
        )
        # Beam search is not guaranteed to beat greedy, but without a length penalty it
        # maximises log p over more candidates; on these seeds it never does worse.
        assert (
            sequence_log_prob(model, one, beam, EOS)
            >= sequence_log_prob(model, one, greedy, EOS) - 1e-5
        )


class ToyModel(nn.Module):
    """A stub with the Transformer's decoding interface and hand-set next-token probabilities.

    Vocabulary: 0 pad, 1 BOS, 2 EOS, 3 "a", 4 "b". ``table`` maps a prefix (without BOS, in
    terms of "a" and "b") to ``{token: probability}``; other prefixes get EOS 0.3, a 0.35,
    b 0.35. The caches hold the prefix itself (as a ``(B, 1, T, 1)`` "key"), so beam search
    only gets the right answer if it reorders them correctly. Sources starting with "b"
    (id 4) swap the roles of a and b, so the batch dimension is exercised too.
    """

    pad_id = PAD

    def __init__(self, table):
        super().__init__()
        self.table = table
        self.dummy = nn.Parameter(torch.zeros(()))

    def new_caches(self):
        return [KVCache()]

    def encode(self, src):
        return src[:, :, None].float(), (src != PAD)[:, None, None, :]

    def decode(self, tgt, memory, src_mask, *, caches):
        assert not self.training and not torch.is_grad_enabled()
        key = tgt[:, None, :, None].float()
        prefix, _ = caches[0].update(key, key)
        prefix = prefix[:, 0, :, 0].long()  # (N, T)
        probs = []
        for n in range(prefix.shape[0]):
            name = {3: "a", 4: "b"} if memory[n, 0, 0] != 4 else {3: "b", 4: "a"}
            seq = "".join(name.get(t, "?") for t in prefix[n, 1:].tolist())
            p = torch.full((5,), 1e-9)
            for token, prob in self.table.get(seq, {"a": 0.35, "b": 0.35, EOS: 0.3}).items():
                p[{v: k for k, v in name.items()}.get(token, token)] = prob
            probs.append(p)
        return torch.stack(probs).log()[:, None, :]  # (N, 1, V) logits


def test_beam_search_beats_greedy_on_a_toy_model():
    """Greedy takes "a" (0.6) then EOS: p = 0.24. Beam search finds "b" EOS: p = 0.36."""
    table = {
        "": {"a": 0.6, "b": 0.4},
        "a": {EOS: 0.4, "a": 0.3, "b": 0.3},
        "b": {EOS: 0.9, "a": 0.05, "b": 0.05},
    }
    model = ToyModel(table).train()
    src = torch.tensor([[3, 3], [4, 3]])  # row 1 swaps a and b
    greedy = greedy_decode(model, src, bos_id=BOS, eos_id=EOS, max_len=6)
    torch.testing.assert_close(greedy, torch.tensor([[BOS, 3, EOS], [BOS, 4, EOS]]))
    for k in (2, 3, 4):
        beam = beam_search(model, src, bos_id=BOS, eos_id=EOS, max_len=6, beam_size=k)
        torch.testing.assert_close(beam, torch.tensor([[BOS, 4, EOS], [BOS, 3, EOS]]))
    one = beam_search(model, src, bos_id=BOS, eos_id=EOS, max_len=6, beam_size=1)
    torch.testing.assert_close(one, greedy)
    assert model.training


def test_beam_search_reorders_the_caches():
    """At step 2 both surviving beams descend from beam 1 ("b"), so beam 0's cache must be
    replaced by beam 1's; a stale cache would make "ba" look like "aa" (EOS 0.3, not 0.95).

    Greedy: "a" EOS, p = 0.52 * 0.4 = 0.208. Beam search (2 beams): after "b" (0.48) come
    "ba" and "bb" (0.24 each) ahead of "a" EOS (0.208); then "ba" EOS, p = 0.228.
    """
    table = {
        "": {"a": 0.52, "b": 0.48},
        "a": {EOS: 0.4, "a": 0.3, "b": 0.3},
        "b": {"a": 0.5, "b": 0.5},
        "ba": {EOS: 0.95, "a": 0.025, "b": 0.025},
        "bb": {EOS: 0.2, "a": 0.4, "b": 0.4},
    }
    model = ToyModel(table)
    src = torch.tensor([[3], [4]])
    greedy = greedy_decode(model, src, bos_id=BOS, eos_id=EOS, max_len=8)
    torch.testing.assert_close(greedy, torch.tensor([[BOS, 3, EOS], [BOS, 4, EOS]]))
    beam = beam_search(
        model, src, bos_id=BOS, eos_id=EOS, max_len=8, beam_size=2, length_penalty=0.0
    )
    expected = torch.tensor([[BOS, 4, 3, EOS], [BOS, 3, 4, EOS]])
    torch.testing.assert_close(beam, expected)


def test_beam_search_length_penalty_prefers_longer_outputs():
    """After BOS: EOS 0.5, "a" 0.5; after "a": EOS 0.9. Raw log p prefers stopping at once
    (0.5 > 0.45); GNMT's penalty with a large alpha prefers the two-token answer."""

    class Short(ToyModel):
        def __init__(self):
            super().__init__({})

        def decode(self, tgt, memory, src_mask, *, caches):
            key = tgt[:, None, :, None].float()
            prefix, _ = caches[0].update(key, key)
            p = torch.full((tgt.shape[0], 5), 1e-9)
            if prefix.shape[2] == 1:
                p[:, EOS], p[:, 3] = 0.5, 0.5
            else:
                p[:, EOS], p[:, 3] = 0.9, 0.1
            return p.log()[:, None, :]

    src = torch.tensor([[3]])
    no_penalty = beam_search(Short(), src, bos_id=BOS, eos_id=EOS, max_len=5, length_penalty=0.0)
    torch.testing.assert_close(no_penalty, torch.tensor([[BOS, EOS]]))
    strong = beam_search(Short(), src, bos_id=BOS, eos_id=EOS, max_len=5, length_penalty=2.0)
    torch.testing.assert_close(strong, torch.tensor([[BOS, 3, EOS]]))


def test_beam_search_output_shape_and_padding():
    model = small_model(seed=4)
    with torch.no_grad():
        model.generator.bias[EOS] = 2.0
    out = beam_search(model, sources(6), bos_id=BOS, eos_id=EOS, max_len=9, beam_size=3)
    assert out.shape[0] == 6 and out.shape[1] <= 9 and (out[:, 0] == BOS).all()
    for row in out.tolist():
        end = row.index(EOS) if EOS in row else len(row)
        assert PAD not in row[: end + 1] and all(t == PAD for t in row[end + 1 :])


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(bos_id=PAD), ValueError, "bos_id=0 equals the model's pad_id"),
        (dict(max_len=0), ValueError, "max_len must be a positive int"),
        (dict(eos_id=-2), ValueError, "eos_id"),
        (dict(beam_size=0), ValueError, "beam_size"),
        (dict(length_penalty=-1.0), ValueError, "length_penalty"),
        (dict(src=torch.tensor([3, 4])), ValueError, r"src must be a \(B, S\)"),
        (dict(src=torch.tensor([[3, 99]])), ValueError, r"src has ids from 3 to 99"),
    ],
)
def test_decoding_bad_arguments_raise(kwargs, error, pattern):
    args = dict(src=torch.tensor([[3, 4]]), bos_id=BOS, eos_id=EOS, max_len=5, beam_size=2)
    args.update(kwargs)
    model = small_model()
    with pytest.raises(error, match=pattern):
        beam_search(model, args.pop("src"), **args)
    if "beam_size" not in kwargs and "length_penalty" not in kwargs:
        args.pop("beam_size")
        args.pop("length_penalty", None)
        with pytest.raises(error, match=pattern):
            greedy_decode(model, kwargs.get("src", torch.tensor([[3, 4]])), **args)
