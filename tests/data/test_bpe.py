"""Tests of the byte-level BPE tokenizers (transformer_lib/data/bpe.py)."""

import json
import sys
import time

import pytest
import torch

from transformer_lib.data.bpe import WORD_PATTERN, BPETokenizer
from transformer_lib.data.fast_bpe import HFBPETokenizer, byte_to_char, train_bpe
from transformer_lib.datasets.shakespeare import load_shakespeare

tokenizers = pytest.importorskip("tokenizers")

SAMPLES = [
    "",
    "Hello, world!",
    "To be, or not to be: that is the question.",
    "café, naïve, Ærøskøbing, São Paulo",  # composed accents (NFC)
    "cafe\u0301 nai\u0308ve",  # decomposed accents (NFD): combining marks
    "中文字符和日本語のテキスト",
    "emoji 😀👍🏽 and a family 👨‍👩‍👧",
    "   leading spaces",
    "trailing spaces   ",
    "tabs\tand\nnewlines\n\n\n  indented\r\n",
    " \t \n ",
    "mixed\x00control\x1fbytes\x7f",
    "o'er condemn'd 'Tis -- [Exeunt.]",
]


@pytest.fixture(scope="module")
def train_text() -> str:
    return load_shakespeare(["tempest", "john"])


@pytest.fixture(scope="module")
def held_out_text() -> str:
    return load_shakespeare("macbeth")[:40_000]


@pytest.fixture(scope="module")
def tok(train_text) -> BPETokenizer:
    return BPETokenizer.train(train_text, 600)


@pytest.fixture(scope="module")
def hf(tok) -> HFBPETokenizer:
    return HFBPETokenizer.from_bpe(tok)


# --- our tokenizer ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", SAMPLES)
def test_round_trip(tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert all(0 <= i < tok.vocab_size for i in ids)


def test_round_trip_untrained_is_bytes():
    tok = BPETokenizer()
    text = "naïve 😀"
    assert tok.encode(text) == [3 + b for b in text.encode()]
    assert tok.decode(tok.encode(text)) == text


def test_merges_compress_training_text(tok, train_text, held_out_text):
    n_bytes = len(train_text.encode())
    assert len(tok.encode(train_text)) < 0.55 * n_bytes
    assert len(tok.encode(held_out_text)) < 0.6 * len(held_out_text.encode())


def test_vocab_size_and_ids(tok, train_text):
    assert tok.vocab_size == 600 == len(tok.vocab)
    assert len(tok.merges) == 600 - 256 - 3
    assert max(tok.encode(train_text)) < 600
    # Every token is the concatenation of its merge's parts, and the ids count up in order.
    for rank, (a, b) in enumerate(tok.merges):
        assert tok.vocab[3 + 256 + rank] == tok.vocab[a] + tok.vocab[b]
        assert a < 3 + 256 + rank and b < 3 + 256 + rank


def test_trains_on_the_whole_corpus_in_seconds():
    """About 1.3 MB of text to 1,000 tokens: seconds with incremental pair counts (a full
    recount per merge would take minutes)."""
    text = load_shakespeare()
    start = time.perf_counter()
    tok = BPETokenizer.train(text, 1000)
    assert time.perf_counter() - start < 30
    assert tok.vocab_size == 1000
    assert len(tok.encode(text)) < 0.45 * len(text.encode())


def test_training_is_deterministic(train_text):
    pieces = train_text.split("\n\n")
    a = BPETokenizer.train(pieces, 400)
    b = BPETokenizer.train(list(reversed(pieces)), 400)
    assert a.merges == b.merges
    assert a.merges == BPETokenizer.train(pieces, 400).merges


def test_ties_break_by_smallest_ids():
    # "ab" and "cd" are equally frequent; the pair with the smaller ids wins.
    tok = BPETokenizer.train(["cd", "ab", "cd", "ab"], 257, special_tokens=())
    assert tok.merges[0] == (ord("a"), ord("b"))


def test_merges_do_not_cross_words(tok):
    for token in tok.vocab.values():
        text = token.decode("utf-8", errors="replace")
        if not text.isspace():
            # A space may lead a word but never sit inside it.
            assert " " not in text[1:] and "\n" not in text, token


def test_word_split():
    tok = BPETokenizer()
    assert tok.words("  Hello,  world!\n\n  o'er\tsea...  \n") == [
        " ",
        " Hello",
        ",",
        " ",
        " world",
        "!",
        "\n\n ",
        " o'er",
        "\t",
        "sea",
        "...",
        "  \n",
    ]
    assert "".join(tok.words(SAMPLES[-1])) == SAMPLES[-1]
    assert BPETokenizer(pre_tokenize=False).words("a b") == ["a b"]


def test_without_pre_tokenize_merges_may_cross_spaces():
    tok = BPETokenizer.train("ab ab ab ab", 262, pre_tokenize=False)
    learned = list(tok.vocab.values())[3 + 256 :]
    assert any(b" " in t.strip() for t in learned)  # e.g. "ab ab": a space inside a token
    assert tok.decode(tok.encode("ab abc")) == "ab abc"
    assert HFBPETokenizer.from_bpe(tok).encode("ab ab abc") == tok.encode("ab ab abc")


def test_specials_have_fixed_ids_and_are_never_split(tok):
    assert tok.special_tokens == ("<pad>", "<bos>", "<eos>")
    assert (tok.pad_id, tok.bos_id, tok.eos_id) == (0, 1, 2)
    ids = tok.encode("<bos>To be<eos><pad><pad>")
    assert ids[0] == 1 and ids[-3:] == [2, 0, 0]
    assert tok.encode("be", add_bos=True, add_eos=True) == [1, *tok.encode("be"), 2]
    assert tok.decode(ids) == "To be"
    assert tok.decode(ids, skip_special=False) == "<bos>To be<eos><pad><pad>"


def test_specials_in_training_text_are_not_learned():
    text = "<eos>".join(["the cat", "the hat", "a bat"] * 30)
    tok = BPETokenizer.train(text, 300, special_tokens=("<pad>", "<eos>", "<e>"))
    assert (tok.special_ids["<eos>"], tok.special_ids["<e>"]) == (1, 2)
    # Only the special itself spells "<eos>"; no learned token holds any of it.
    learned = list(tok.vocab.values())[3 + 256 :]
    assert learned and all(b"<" not in t and b">" not in t for t in learned)
    assert tok.encode("<e><eos>") == [2, 1]  # the longer special wins where both match


def test_custom_specials_shift_byte_ids():
    tok = BPETokenizer.train("aaaa", 257, special_tokens=("<x>",))
    assert tok.encode("a") == [1 + ord("a")] and tok.bos_id is None
    with pytest.raises(ValueError, match="<bos>"):
        tok.encode("a", add_bos=True)


def test_save_load_identical(tok, tmp_path, held_out_text):
    path = tmp_path / "bpe.json"
    tok.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded.merges == tok.merges and loaded.vocab == tok.vocab
    assert loaded.special_tokens == tok.special_tokens and loaded.pre_tokenize
    assert loaded.encode(held_out_text) == tok.encode(held_out_text)


def test_decode_accepts_tensor_and_replaces_cut_characters(tok):
    ids = tok.encode("é")
    assert tok.decode(torch.tensor(ids)) == "é"
    assert tok.decode([3 + 0xC3]) == "\N{REPLACEMENT CHARACTER}"
    with pytest.raises(ValueError, match=r"ids must be 1-D, but has shape \(1, 1\)"):
        tok.decode(torch.tensor([ids[:1]]))


def test_bad_input():
    with pytest.raises(ValueError, match=r"vocab_size must be an int >= 259 .*but got 258"):
        BPETokenizer.train("text", 258)
    with pytest.raises(ValueError, match="vocab_size must be an int >= 256"):
        BPETokenizer.train("text", 255, special_tokens=())
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer.train("text", 300.0)
    with pytest.raises(TypeError, match="text_or_texts must contain str, but got bytes"):
        BPETokenizer.train([b"bytes"], 300)
    with pytest.raises(TypeError, match="text_or_texts"):
        BPETokenizer.train(42, 300)
    with pytest.raises(TypeError, match="special_tokens must be a sequence"):
        BPETokenizer.train("text", 300, special_tokens="<pad>")
    with pytest.raises(ValueError, match="duplicates"):
        BPETokenizer(special_tokens=("<pad>", "<pad>"))
    with pytest.raises(ValueError, match="non-empty"):
        BPETokenizer(special_tokens=("",))
    tok = BPETokenizer()
    with pytest.raises(TypeError, match="text must be a str, but got list"):
        tok.encode(["a"])
    with pytest.raises(ValueError, match="id 259 is outside the vocabulary of size 259"):
        tok.decode([259])
    with pytest.raises(ValueError, match="merge .* uses id 1"):
        BPETokenizer([(1, 4)])


def test_load_rejects_bad_files(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"type": "CharTokenizer"}))
    with pytest.raises(ValueError, match="bad.json is invalid"):
        BPETokenizer.load(path)
    path.write_text(json.dumps({"type": "BPETokenizer", "special_tokens": [], "merges": []}))
    with pytest.raises(ValueError, match="pre_tokenize"):
        BPETokenizer.load(path)


# --- tokenizers, and agreement between the two ------------------------------------------------


def test_byte_to_char_matches_tokenizers():
    chars = byte_to_char()
    assert len(set(chars)) == 256 and set(chars) == set(
        tokenizers.pre_tokenizers.ByteLevel.alphabet()
    )
    to_bytes = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    for text in SAMPLES[1:]:
        [(spelled, _)] = to_bytes.pre_tokenize_str(text)
        assert spelled == "".join(chars[b] for b in text.encode())


def test_word_pattern_means_the_same_in_both_regex_engines():
    split = tokenizers.pre_tokenizers.Split(tokenizers.Regex(WORD_PATTERN), behavior="isolated")
    for text in SAMPLES[1:]:
        assert [w for w, _ in split.pre_tokenize_str(text)] == BPETokenizer().words(text)


def test_same_ids_as_tokenizers_with_our_merges(tok, hf, held_out_text):
    """Our merges loaded into a `tokenizers` BPE model: identical ids on unseen text.

    This checks our encoder (apply the earliest-learned merge first, everywhere, until none
    applies) against the Rust implementation, and our pre-tokenisation and byte mapping
    against `Split` + `ByteLevel`, on a play the merges were not learned from.
    """
    assert hf.vocab_size == tok.vocab_size
    assert hf.special_ids == tok.special_ids
    texts = [held_out_text, *SAMPLES, "<bos>" + held_out_text[:500] + "<eos><pad>"]
    for text in texts:
        ids = tok.encode(text)
        assert hf.encode(text) == ids
        assert hf.decode(ids) == tok.decode(ids)
        assert hf.decode(ids, skip_special=False) == tok.decode(ids, skip_special=False)


def test_both_trainers_learn_the_same_merges_when_there_are_no_ties():
    """On a corpus where each step has a single most frequent pair, the two trainers must agree.

    Counts of the pairs in ``the x12, he x5, she x4, then x3, hen x2``: h-e 26 is merged first;
    then t-he 15, s-he 4, the-n 3, he-n 2; then nothing is left to merge (ties would be broken
    differently, since the two number the byte alphabet differently).
    """
    words = {"the": 12, "he": 5, "she": 4, "then": 3, "hen": 2}
    text = "\n".join(w for w, n in words.items() for _ in range(n))
    expected = [(b"h", b"e"), (b"t", b"he"), (b"s", b"he"), (b"the", b"n"), (b"he", b"n")]
    ours = BPETokenizer.train(text, 300)
    assert [(ours.vocab[a], ours.vocab[b]) for a, b in ours.merges] == expected
    theirs = train_bpe(text, 300)
    from_char = {c: b for b, c in enumerate(byte_to_char())}
    merges = json.loads(theirs.tokenizer.to_str())["model"]["merges"]
    merges = [m.split(" ") if isinstance(m, str) else m for m in merges]
    assert [tuple(bytes(from_char[c] for c in s) for s in m) for m in merges] == expected
    assert theirs.vocab_size == ours.vocab_size == 3 + 256 + 5  # stopped early, both


def test_train_bpe(train_text, held_out_text, tmp_path):
    fast = train_bpe(train_text.split("\n\n"), 600)
    assert fast.vocab_size == 600
    assert fast.special_ids == {"<pad>": 0, "<bos>": 1, "<eos>": 2}
    for text in SAMPLES:
        assert fast.decode(fast.encode(text)) == text
    ids = fast.encode(held_out_text)
    assert len(ids) < 0.6 * len(held_out_text.encode()) and max(ids) < 600
    assert fast.encode("x<eos>", add_bos=True) == [1, *fast.encode("x"), 2]
    fast.save(tmp_path / "fast.json")
    loaded = HFBPETokenizer.load(tmp_path / "fast.json")
    assert loaded.encode(held_out_text) == ids and loaded.vocab_size == 600
    with pytest.raises(ValueError, match="vocab_size must be an int >= 259"):
        train_bpe(train_text, 100)
    with pytest.raises(TypeError, match="text must be a str"):
        fast.encode(None)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        fast.decode([600])


def test_converted_tokenizer_saves_and_loads(hf, held_out_text, tmp_path):
    hf.save(tmp_path / "ours.json")
    loaded = HFBPETokenizer.load(tmp_path / "ours.json")
    assert loaded.encode(held_out_text) == hf.encode(held_out_text)


def test_clear_import_error_without_tokenizers(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(ImportError, match="pip install tokenizers"):
        train_bpe("text", 300)
