"""Byte-level byte-pair encoding (BPE): a tokenizer from scratch (chapter 6).

BPE (Sennrich et al. 2016) starts from a small alphabet and repeatedly *merges* the most
frequent pair of adjacent tokens into a new token, so frequent words end up as one token and
rare words as a few pieces. Working on bytes rather than characters (as GPT-2 does, Radford
et al. 2019) makes the alphabet exactly 256 tokens and lets any Unicode text be encoded with
no unknown token: every string is a sequence of UTF-8 bytes.

Ids: the special tokens come first (``<pad>=0, <bos>=1, <eos>=2`` by default, as in
``CharTokenizer``), then the 256 bytes (id ``len(special_tokens) + byte``), then one id per
merge in the order the merges were learned.

Pre-tokenisation splits text into words before BPE sees it, so merges never cross a word
boundary. ``WORD_PATTERN`` is deliberately simple: a word is a run of letters (anything that
is not ASCII whitespace or ASCII punctuation; the apostrophe counts as a letter so that
``condemn'd`` and ``o'er`` stay whole) or a run of ASCII punctuation, and either may take one
leading space, so ``" king"`` is one word; other whitespace forms words of its own. Because
the classes are plain ASCII ranges the pattern means the same in Python's ``re`` and in the
Oniguruma engine of ``tokenizers``, which the agreement test relies on.

Two implementations:

- ``BPETokenizer``: short, readable Python, for learning how BPE works (trains on 1 MB of text
  to 1,000 tokens in a second or two);
- ``HFBPETokenizer`` via ``train_bpe`` (in ``fast_bpe.py``): the Rust ``tokenizers``
  library configured the same way, for speed. It wraps a ``tokenizers.Tokenizer``
  (``.tokenizer``) behind the same ``encode``/``decode``/``save``/``load``/``vocab_size``
  interface, so either can be used in the notebooks. ``HFBPETokenizer.from_bpe`` converts
  ours into it; the tests check that both then give identical ids.
"""

from __future__ import annotations

import heapq
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

from ..utils._checks import is_int

__all__ = ["WORD_PATTERN", "DEFAULT_SPECIALS", "BPETokenizer"]

DEFAULT_SPECIALS = ("<pad>", "<bos>", "<eos>")

_SPACE = r"\x09-\x0d\x20"  # ASCII whitespace: \t \n \v \f \r and space
_PUNCT = r"\x21-\x26\x28-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e"  # ASCII punctuation except '
#: Pre-tokenisation regex: letters with an optional leading space, punctuation with an optional
#: leading space, then whitespace runs (a lone space just before a word is left for that word).
WORD_PATTERN = rf" ?[^{_SPACE}{_PUNCT}]+| ?[{_PUNCT}]+|[{_SPACE}]+?(?= [^{_SPACE}])|[{_SPACE}]+"
_WORD = re.compile(WORD_PATTERN)


def _pairs(ids: list[int]) -> Iterable[tuple[int, int]]:
    """The adjacent pairs of ``ids``: (ids[0], ids[1]), (ids[1], ids[2]), ..."""
    return zip(ids, ids[1:], strict=False)


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every non-overlapping occurrence of ``pair`` (left to right) -> ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _learn_merges(
    words: list[list[int]], counts: list[int], num_merges: int, first_id: int
) -> list[tuple[int, int]]:
    """Learn up to ``num_merges`` merges over unique ``words`` (id lists) seen ``counts`` times.

    Pair counts are kept up to date incrementally: a merge only changes the words that
    contain the merged pair (``where``), so only their pairs are recounted. A heap finds the
    most frequent pair; entries whose count has changed since they were pushed are skipped.
    Ties go to the smallest pair of ids (so byte pairs by byte value, older tokens first).
    """
    pair_count: Counter[tuple[int, int]] = Counter()
    where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)
    for w, (word, n) in enumerate(zip(words, counts, strict=True)):
        for pair in _pairs(word):
            pair_count[pair] += n
            where[pair].add(w)
    heap = [(-n, pair) for pair, n in pair_count.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while heap and len(merges) < num_merges:
        neg_count, pair = heapq.heappop(heap)
        if pair_count.get(pair) != -neg_count:
            continue  # stale: the pair's count changed after this entry was pushed
        new_id = first_id + len(merges)
        merges.append(pair)
        changed = set()
        for w in where.pop(pair):
            old, n = words[w], counts[w]
            new = _merge(old, pair, new_id)
            if len(new) == len(old):
                continue  # an outdated entry of `where`: an earlier merge used up this pair
            for p in _pairs(old):
                pair_count[p] -= n
                changed.add(p)
            for p in _pairs(new):
                pair_count[p] += n
                where[p].add(w)
                changed.add(p)
            words[w] = new
        for p in changed:
            if pair_count[p] > 0:
                heapq.heappush(heap, (-pair_count[p], p))
            else:
                del pair_count[p]
    return merges


def as_texts(text_or_texts: str | Iterable[str], name: str = "text_or_texts") -> list[str]:
    texts = [text_or_texts] if isinstance(text_or_texts, str) else text_or_texts
    if not isinstance(texts, Iterable):
        raise TypeError(f"{name} must be a str or an iterable of str, but got {texts!r}")
    texts = list(texts)
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f"{name} must contain str, but got {type(t).__name__}")
    return texts


def check_special_tokens(special_tokens: Iterable[str]) -> tuple[str, ...]:
    if isinstance(special_tokens, str):
        raise TypeError("special_tokens must be a sequence of strings, not one string")
    specials = tuple(special_tokens)
    for s in specials:
        if not isinstance(s, str) or not s:
            raise ValueError(f"special_tokens must be non-empty strings, but got {s!r}")
    if len(set(specials)) != len(specials):
        raise ValueError(f"special_tokens has duplicates: {specials}")
    return specials


def check_token_ids(ids: Iterable[int] | Any, size: int) -> list[int]:
    """``ids`` (a list, or a 1-D tensor/array) as a list of ints, each in ``0..size-1``."""
    if hasattr(ids, "ndim"):
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D, but has shape {tuple(ids.shape)}")
        ids = ids.tolist()
    out = []
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, Integral) or not 0 <= i < size:
            raise ValueError(f"id {i!r} is outside the vocabulary of size {size}")
        out.append(int(i))
    return out


def check_vocab_size(vocab_size: object, specials: tuple[str, ...]) -> int:
    minimum = 256 + len(specials)
    if not is_int(vocab_size) or vocab_size < minimum:
        raise ValueError(
            f"vocab_size must be an int >= {minimum} (256 bytes + {len(specials)} special "
            f"tokens), but got {vocab_size!r}"
        )
    return vocab_size


class BPETokenizer:
    """Byte-level BPE written out in plain Python. Build it with ``BPETokenizer.train``.

    ``merges`` is the ordered list of learned pairs ``(left id, right id)``; merge ``r``
    creates id ``len(special_tokens) + 256 + r``. ``vocab`` maps every id to its bytes
    (a special token to its UTF-8 text). ``encode``/``decode`` round-trip any string that
    does not contain a special token's text.

    >>> tok = BPETokenizer.train("the cat sat on the mat " * 20, vocab_size=270)
    >>> tok.decode(tok.encode("the rat"))
    'the rat'
    """

    def __init__(
        self,
        merges: Sequence[tuple[int, int]] = (),
        *,
        special_tokens: Sequence[str] = DEFAULT_SPECIALS,
        pre_tokenize: bool = True,
    ):
        self.special_tokens = check_special_tokens(special_tokens)
        self.pre_tokenize = bool(pre_tokenize)
        self.special_ids = {s: i for i, s in enumerate(self.special_tokens)}
        self._offset = len(self.special_tokens)
        self.vocab: dict[int, bytes] = {i: s.encode() for i, s in enumerate(self.special_tokens)}
        self.vocab.update({self._offset + b: bytes([b]) for b in range(256)})
        self.merges: list[tuple[int, int]] = []
        self._rank: dict[tuple[int, int], int] = {}
        for pair in merges:
            self._add_merge(pair)
        # Longest first, so that a special token that contains another is matched whole.
        ordered = sorted(self.special_tokens, key=len, reverse=True)
        self._special_re = re.compile("(" + "|".join(map(re.escape, ordered)) + ")")
        self._cache: dict[str, list[int]] = {}

    def _add_merge(self, pair: Sequence[int]) -> None:
        a, b = pair
        for i in (a, b):
            # A merge may only use ids that exist before it: specials are never merged.
            if not is_int(i) or not self._offset <= i < len(self):
                raise ValueError(f"merge {tuple(pair)} uses id {i!r}, not a byte or earlier token")
        new_id = len(self.vocab)
        self._rank[(a, b)] = len(self.merges)
        self.merges.append((a, b))
        self.vocab[new_id] = self.vocab[a] + self.vocab[b]

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def vocab_size(self) -> int:
        """The number of ids (specials, 256 bytes and the merges), which sizes the embedding."""
        return len(self.vocab)

    @property
    def pad_id(self) -> int | None:
        return self.special_ids.get("<pad>")

    @property
    def bos_id(self) -> int | None:
        return self.special_ids.get("<bos>")

    @property
    def eos_id(self) -> int | None:
        return self.special_ids.get("<eos>")

    def _pieces(self, text: str) -> list[tuple[str, bool]]:
        """``(piece, is_special)``: ``text`` cut around the special tokens it contains."""
        if not self.special_tokens:
            return [(text, False)] if text else []
        parts = self._special_re.split(text)  # odd positions are the specials themselves
        return [(p, i % 2 == 1) for i, p in enumerate(parts) if p]

    def words(self, text: str) -> list[str]:
        """The pre-tokenised words of ``text`` (the whole text if ``pre_tokenize`` is off)."""
        if not self.pre_tokenize:
            return [text] if text else []
        return _WORD.findall(text)

    @classmethod
    def train(
        cls,
        text_or_texts: str | Iterable[str],
        vocab_size: int,
        *,
        special_tokens: Sequence[str] = DEFAULT_SPECIALS,
        pre_tokenize: bool = True,
    ) -> BPETokenizer:
        """Learn merges on the text(s) until the vocabulary has ``vocab_size`` ids.

        Words are counted once each with their frequency, so the work depends on the number
        of distinct words, not on the length of the text. Special tokens in the text are cut
        out first and never take part in merges. Training stops early (a smaller vocabulary)
        if no adjacent pair is left to merge.
        """
        tok = cls(special_tokens=special_tokens, pre_tokenize=pre_tokenize)
        vocab_size = check_vocab_size(vocab_size, tok.special_tokens)
        word_counts: Counter[str] = Counter()
        for text in as_texts(text_or_texts):
            for piece, is_special in tok._pieces(text):
                if not is_special:
                    word_counts.update(tok.words(piece))
        # Sorted so that the learned merges do not depend on the order words were first seen.
        unique = sorted(word_counts)
        words = [[tok._offset + b for b in w.encode()] for w in unique]
        counts = [word_counts[w] for w in unique]
        merges = _learn_merges(words, counts, vocab_size - len(tok), len(tok))
        for pair in merges:
            tok._add_merge(pair)
        return tok

    def _encode_word(self, word: str) -> list[int]:
        ids = self._cache.get(word)
        if ids is not None:
            return ids
        ids = [self._offset + b for b in word.encode()]
        # Apply merges in the order they were learned: always the earliest-learned pair first.
        while len(ids) > 1:
            pair = min(_pairs(ids), key=lambda p: self._rank.get(p, len(self._rank)))
            if pair not in self._rank:
                break
            ids = _merge(ids, pair, self._offset + 256 + self._rank[pair])
        if len(self._cache) < 100_000:  # words repeat a lot; the bound keeps memory in check
            self._cache[word] = ids
        return ids

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Ids of ``text``; special tokens written in the text map to their own id."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, but got {type(text).__name__}")
        ids = []
        for piece, is_special in self._pieces(text):
            if is_special:
                ids.append(self.special_ids[piece])
            else:
                for word in self.words(piece):
                    ids += self._encode_word(word)
        return self._wrap(ids, add_bos, add_eos)

    def _wrap(self, ids: list[int], add_bos: bool, add_eos: bool) -> list[int]:
        for flag, name in ((add_bos, "<bos>"), (add_eos, "<eos>")):
            if flag and name not in self.special_ids:
                raise ValueError(f"add_{name[1:4]}=True needs {name} in special_tokens")
        return (
            [self.special_ids.get("<bos>")] * add_bos
            + ids
            + [self.special_ids.get("<eos>")] * add_eos
        )

    def decode(self, ids: Iterable[int] | Any, *, skip_special: bool = True) -> str:
        """The text of ``ids`` (a list or a 1-D tensor/array).

        With ``skip_special`` the special tokens are dropped, otherwise they appear as their
        text. Ids that cut a multi-byte character in half decode to U+FFFD.
        """
        out = []
        for i in check_token_ids(ids, len(self.vocab)):
            if not (skip_special and i < self._offset):
                out.append(self.vocab[i])
        return b"".join(out).decode("utf-8", errors="replace")

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as JSON: its special tokens, pre-tokenise flag and merges."""
        data = {
            "type": "BPETokenizer",
            "special_tokens": list(self.special_tokens),
            "pre_tokenize": self.pre_tokenize,
            "merges": [list(pair) for pair in self.merges],
        }
        Path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        """Read a tokenizer written by ``save``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("type") != "BPETokenizer":
                raise ValueError("it is not a BPETokenizer file")
            if not isinstance(data["pre_tokenize"], bool):
                raise ValueError("'pre_tokenize' must be true or false")
            merges = data["merges"]
            if not all(isinstance(m, list) and len(m) == 2 for m in merges):
                raise ValueError("'merges' must be a list of [left, right] id pairs")
            return cls(
                [tuple(m) for m in merges],
                special_tokens=data["special_tokens"],
                pre_tokenize=data["pre_tokenize"],
            )
        except (ValueError, TypeError, KeyError) as e:
            raise ValueError(f"tokenizer file {path} is invalid: {e}") from e

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)})"
