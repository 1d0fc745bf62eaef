"""Tests of the text data helpers: the character and word tokenizers, padding, length-bucketed
batches and the number-words translation task."""

import builtins

import pytest
import torch

from transformer_lib.data.batching import bucket_batches, pad_batch, random_blocks
from transformer_lib.data.tokenizers import CharTokenizer, WordTokenizer
from transformer_lib.datasets.numbers import number_pairs, train_test_numbers

# --------------------------------------------------------------------------------------------
# CharTokenizer
# --------------------------------------------------------------------------------------------


def test_tokenizer_round_trip_with_non_ascii():
    texts = ["fünf", "dreihundertfünfundvierzig", "Straße", "日本"]
    tok = CharTokenizer(texts)
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    assert tok.vocab_size == 4 + len(set("".join(texts)))
    for text in texts:
        ids = tok.encode(text, add_bos=True, add_eos=True)
        assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
        assert len(ids) == len(text) + 2  # one id per character, "ü" and "日" included
        assert all(4 <= i < tok.vocab_size for i in ids[1:-1])
        assert tok.decode(ids) == text
        assert tok.decode(torch.tensor(ids)) == text
    assert tok.encode("fünf") == tok.encode("fünf", add_bos=False, add_eos=False)


def test_tokenizer_is_deterministic_and_shows_specials_on_request():
    assert CharTokenizer(["ba", "c"]).chars == CharTokenizer(["cab"]).chars == ["a", "b", "c"]
    tok = CharTokenizer.from_texts(["ab"])
    assert tok.decode([1, 4, 5, 2, 0, 0], skip_special=False) == "<bos>ab<eos><pad><pad>"
    assert tok.decode([1, 4, 5, 2, 0, 0]) == "ab"


def test_unknown_characters_map_to_unk():
    tok = CharTokenizer(["abc"])
    ids = tok.encode("a€b")
    assert ids[1] == tok.unk_id
    assert tok.decode(ids) == "a\N{REPLACEMENT CHARACTER}b"


def test_tokenizer_save_and_load(tmp_path):
    tok = CharTokenizer(["fünf", "vier"])
    tok.save(tmp_path / "vocab.json")
    assert "ü" in (tmp_path / "vocab.json").read_text(encoding="utf-8")  # readable, not \u00fc
    loaded = CharTokenizer.load(tmp_path / "vocab.json")
    assert loaded.chars == tok.chars and loaded.vocab_size == tok.vocab_size
    assert loaded.encode("fünf vier") == tok.encode("fünf vier")
    (tmp_path / "bad.json").write_text('{"type": "Other"}')
    with pytest.raises(ValueError, match="bad.json"):
        CharTokenizer.load(tmp_path / "bad.json")


def test_tokenizer_rejects_bad_input():
    with pytest.raises(TypeError, match="texts"):
        CharTokenizer("abc")
    tok = CharTokenizer(["ab"])
    with pytest.raises(ValueError, match="id 99"):
        tok.decode([99])
    with pytest.raises(TypeError, match="text"):
        tok.encode(["a"])


# --------------------------------------------------------------------------------------------
# WordTokenizer
# --------------------------------------------------------------------------------------------


def test_word_tokenizer_splits_words_and_punctuation_and_round_trips():
    text = "And God said, Let there be light: and there was light."
    assert WordTokenizer.split(text)[:4] == ["And", "God", "said", ","]
    tok = WordTokenizer([text])
    ids = tok.encode(text, add_bos=True, add_eos=True)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert len(ids) == len(WordTokenizer.split(text)) + 2
    assert tok.decode(ids) == text  # spacing before punctuation is restored
    assert tok.decode(torch.tensor(ids)) == text
    assert tok.decode(ids, skip_special=False).startswith("<bos> And God")


def test_word_tokenizer_vocabulary_is_by_frequency_with_cut_offs():
    texts = ["b a a", "c a b", "d"]
    tok = WordTokenizer(texts)
    assert tok.words == ["a", "b", "c", "d"]  # a:3, b:2, then ties sorted
    assert WordTokenizer(reversed(texts)).words == tok.words
    assert WordTokenizer(texts, min_count=2).words == ["a", "b"]
    assert WordTokenizer(texts, max_size=1).words == ["a"]
    small = WordTokenizer(texts, min_count=2)
    assert small.encode("a c") == [4, small.unk_id]
    assert small.decode(small.encode("a c")) == "a <unk>"
    assert small.vocab_size == 6


def test_word_tokenizer_rejects_bad_input():
    with pytest.raises(TypeError, match="texts"):
        WordTokenizer("abc")
    with pytest.raises(TypeError, match="texts"):
        WordTokenizer([1, 2])
    with pytest.raises(ValueError, match="min_count"):
        WordTokenizer(["a"], min_count=0)
    with pytest.raises(ValueError, match="max_size"):
        WordTokenizer(["a"], max_size=-1)
    tok = WordTokenizer(["a"])
    with pytest.raises(ValueError, match="id 9"):
        tok.decode([9])
    with pytest.raises(TypeError, match="text"):
        tok.encode(["a"])
    with pytest.raises(ValueError, match="1-D"):
        tok.decode(torch.zeros(2, 2, dtype=torch.long))


# --------------------------------------------------------------------------------------------
# Padding and batching
# --------------------------------------------------------------------------------------------


def test_pad_batch():
    batch = pad_batch([[5, 6, 7], [8], []], pad_id=0)
    assert batch.dtype == torch.long and batch.shape == (3, 3)
    assert batch.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert pad_batch([[1], [2, 3]], pad_id=-1).tolist() == [[1, -1], [2, 3]]
    with pytest.raises(ValueError, match="sequences"):
        pad_batch([], pad_id=0)


def test_bucket_batches_cover_every_index_once_with_similar_lengths():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 101, (2000,), generator=g).tolist()
    batches = bucket_batches(lengths, 16, generator=torch.Generator().manual_seed(1))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(2000))
    assert all(1 <= len(b) <= 16 for b in batches)

    def mean_spread(batches):
        spreads = [max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches]
        return sum(spreads) / len(spreads)

    random_batches = [list(range(i, i + 16)) for i in range(0, 2000, 16)]
    assert mean_spread(batches) < 5 < 50 < mean_spread(random_batches)
    # The batch order is shuffled: short and long batches are mixed, not sorted.
    firsts = [lengths[b[0]] for b in batches]
    assert firsts != sorted(firsts)


def test_bucket_batches_are_reproducible_and_handle_small_inputs():
    lengths = [3, 1, 2, 5, 4]
    a = bucket_batches(lengths, 2, generator=torch.Generator().manual_seed(3))
    b = bucket_batches(lengths, 2, generator=torch.Generator().manual_seed(3))
    assert a == b
    assert sorted(len(x) for x in a) == [1, 2, 2]
    assert bucket_batches([], 4) == []
    with pytest.raises(ValueError, match="batch_size"):
        bucket_batches(lengths, 0)


# --------------------------------------------------------------------------------------------
# Number-words translation
# --------------------------------------------------------------------------------------------


def test_number_pairs():
    pairs = number_pairs([345, 21, 0])
    assert pairs[0] == ("three hundred and forty-five", "dreihundertfünfundvierzig")
    assert pairs[1][1] == "einundzwanzig"  # "one-and-twenty": German reorders the digits
    assert number_pairs([7], src_lang="de", tgt_lang="fr") == [("sieben", "sept")]
    with pytest.raises(ValueError, match="tgt_lang"):
        number_pairs([1], tgt_lang="xx-nope")
    with pytest.raises(TypeError, match="numbers"):
        number_pairs([1.5])


def test_number_pairs_without_num2words(monkeypatch):
    real_import = builtins.__import__

    def no_num2words(name, *args, **kwargs):
        if name == "num2words":
            raise ImportError("No module named 'num2words'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_num2words)
    with pytest.raises(ImportError, match="pip install num2words"):
        number_pairs([1])


def test_train_test_numbers_are_disjoint_and_deterministic():
    train, test = train_test_numbers()
    assert len(test) == 1000 and len(train) == 9000
    assert set(train).isdisjoint(test)
    assert sorted(train + test) == list(range(10000))
    assert train == sorted(train) and test == sorted(test)
    assert train_test_numbers() == (train, test)
    other_train, other_test = train_test_numbers(seed=1)
    assert other_test != test
    small_train, small_test = train_test_numbers(99, test_fraction=0.2, seed=0)
    assert len(small_test) == 20 and set(small_train) | set(small_test) == set(range(100))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"max_number": 0}, "max_number"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"test_fraction": 0}, "test_fraction"),
    ],
)
def test_train_test_numbers_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        train_test_numbers(**kwargs)


def test_random_blocks_are_windows_of_the_stream_with_next_token_targets():
    tokens = torch.arange(100) * 3
    g = torch.Generator().manual_seed(0)
    x, y = random_blocks(tokens, 8, 16, generator=g)
    assert x.shape == y.shape == (16, 8)
    starts = x[:, 0] // 3
    for b in range(16):
        s = int(starts[b])
        assert torch.equal(x[b], tokens[s : s + 8]) and torch.equal(y[b], tokens[s + 1 : s + 9])
    assert len(starts.unique()) > 1
    # The same seed, the same batch: a resumed run draws what it would have.
    again = random_blocks(tokens, 8, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], x)
    # Every start is reachable, the last one included, and none runs past the end.
    many = random_blocks(tokens, 8, 5000, generator=g)[1]
    assert int(many[:, -1].max()) == int(tokens[-1])
    with pytest.raises(ValueError, match="too few for blocks of block_size=99"):
        random_blocks(tokens, 99, 2)
    with pytest.raises(ValueError, match="tokens must be a 1-D tensor"):
        random_blocks(tokens[None], 8, 2)
