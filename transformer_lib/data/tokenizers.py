"""Character and word tokenizers: text <-> ids with four special ids (pad, bos, eos, unk)."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from torch import Tensor

from ..utils._checks import is_int

__all__ = ["CharTokenizer", "WordTokenizer"]


def _pieces(
    ids: Iterable[int] | Tensor,
    specials: Sequence[str],
    tokens: Sequence[str],
    unk_id: int,
    unk_text: str,
    skip_special: bool,
) -> list[str]:
    """The text of each id for a vocabulary of ``specials`` then ``tokens``.

    Shared by the character and word tokenizers, which differ only in how they join pieces.
    """
    if isinstance(ids, Tensor):
        if ids.ndim != 1:
            raise ValueError(f"ids must be 1-D, but has shape {tuple(ids.shape)}")
        ids = ids.tolist()
    offset, size = len(specials), len(specials) + len(tokens)
    out = []
    for i in ids:
        i = int(i)
        if not 0 <= i < size:
            raise ValueError(f"id {i} is outside the vocabulary of size {size}")
        if i == unk_id:  # which token it was is lost
            out.append(unk_text)
        elif i < offset:
            if not skip_special:
                out.append(specials[i])
        else:
            out.append(tokens[i - offset])
    return out


class CharTokenizer:
    """One token per character, plus four special tokens with fixed ids.

    ``pad=0, bos=1, eos=2, unk=3``; characters follow in sorted order, so the same texts
    always give the same vocabulary. A character not seen when building maps to ``unk``.

    >>> tok = CharTokenizer(["fünf", "vier"])
    >>> tok.decode(tok.encode("fünf", add_bos=True, add_eos=True))
    'fünf'
    """

    SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3
    #: An unknown character decodes to this; which character it was is lost.
    UNK_CHAR = "\N{REPLACEMENT CHARACTER}"

    def __init__(self, texts: Iterable[str] = ()):
        if isinstance(texts, str):
            raise TypeError("texts must be an iterable of strings, not one string")
        chars: set[str] = set()
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must contain strings, but got {type(text).__name__}")
            chars.update(text)
        self._set_chars(sorted(chars))

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CharTokenizer:
        """Build the vocabulary from every character in ``texts``."""
        return cls(texts)

    def _set_chars(self, chars: Sequence[str]) -> None:
        self.chars = list(chars)
        offset = len(self.SPECIALS)
        self._id_of = {c: i + offset for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        """The number of ids, special tokens included, which sizes the embedding table."""
        return len(self.SPECIALS) + len(self.chars)

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Ids of ``text``'s characters, optionally between ``bos`` and ``eos``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, but got {type(text).__name__}")
        ids = [self._id_of.get(c, self.unk_id) for c in text]
        return [self.bos_id] * add_bos + ids + [self.eos_id] * add_eos

    def decode(self, ids: Iterable[int] | Tensor, *, skip_special: bool = True) -> str:
        """The text of ``ids`` (a list or a 1-D tensor).

        With ``skip_special`` pad, bos and eos are dropped; otherwise they appear as
        ``<pad>``, ``<bos>``, ``<eos>``. Unknown characters decode to U+FFFD.
        """
        return "".join(
            _pieces(ids, self.SPECIALS, self.chars, self.unk_id, self.UNK_CHAR, skip_special)
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON (UTF-8, human-readable)."""
        data = {"type": "CharTokenizer", "specials": list(self.SPECIALS), "chars": self.chars}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> CharTokenizer:
        """Read a vocabulary written by ``save``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("type") != "CharTokenizer" or data.get("specials") != list(cls.SPECIALS):
                raise ValueError("it is not a CharTokenizer vocabulary")
            chars = data["chars"]
            if not all(isinstance(c, str) and len(c) == 1 for c in chars):
                raise ValueError("'chars' must be single characters")
        except (ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"tokenizer file {path} is invalid: {e}") from e
        tok = cls()
        tok._set_chars(chars)
        return tok

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


class WordTokenizer:
    """One token per word or punctuation mark, with the same four special ids as ``CharTokenizer``.

    ``pad=0, bos=1, eos=2, unk=3``; then the words seen at least ``min_count`` times, most
    frequent first (ties in sorted order, so the same texts give the same vocabulary), at most
    ``max_size`` of them. Other words map to ``unk``. Text is split into runs of word characters
    and single punctuation marks: ``"Let there be light:"`` -> ``Let there be light :``.
    ``decode`` joins tokens with spaces and removes the space before closing punctuation, which
    is not an exact inverse (the split loses spacing) but is what BLEU's tokenizer re-splits.

    >>> tok = WordTokenizer(["And God said, Let there be light."])
    >>> tok.decode(tok.encode("God said, Let there be light."))
    'God said, Let there be light.'
    """

    SPECIALS = CharTokenizer.SPECIALS
    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3
    _SPLIT = re.compile(r"\w+|[^\w\s]")
    _NO_SPACE_BEFORE = re.compile(r" ([.,;:!?)\]}’”'])")

    def __init__(
        self, texts: Iterable[str] = (), *, min_count: int = 1, max_size: int | None = None
    ):
        if isinstance(texts, str):
            raise TypeError("texts must be an iterable of strings, not one string")
        if not is_int(min_count) or min_count < 1:
            raise ValueError(f"min_count must be an int >= 1, but got {min_count!r}")
        if max_size is not None and (not is_int(max_size) or max_size < 0):
            raise ValueError(f"max_size must be an int >= 0 or None, but got {max_size!r}")
        counts: Counter[str] = Counter()
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must contain strings, but got {type(text).__name__}")
            counts.update(self.split(text))
        kept = sorted(
            (w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w)
        )
        self._set_words(kept[:max_size])

    @classmethod
    def split(cls, text: str) -> list[str]:
        """The tokens of ``text``: runs of word characters and single punctuation marks."""
        return cls._SPLIT.findall(text)

    def _set_words(self, words: Sequence[str]) -> None:
        self.words = list(words)
        offset = len(self.SPECIALS)
        self._id_of = {w: i + offset for i, w in enumerate(self.words)}

    @property
    def vocab_size(self) -> int:
        """The number of ids, special tokens included, which sizes the embedding table."""
        return len(self.SPECIALS) + len(self.words)

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Ids of ``text``'s words, optionally between ``bos`` and ``eos``."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, but got {type(text).__name__}")
        ids = [self._id_of.get(w, self.unk_id) for w in self.split(text)]
        return [self.bos_id] * add_bos + ids + [self.eos_id] * add_eos

    def decode(self, ids: Iterable[int] | Tensor, *, skip_special: bool = True) -> str:
        """The text of ``ids`` (a list or a 1-D tensor); unknown words decode to ``<unk>``.

        With ``skip_special`` pad, bos and eos are dropped; otherwise they appear by name.
        """
        out = _pieces(
            ids, self.SPECIALS, self.words, self.unk_id, self.SPECIALS[self.unk_id], skip_special
        )
        return self._NO_SPACE_BEFORE.sub(r"\1", " ".join(out))

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON (UTF-8, human-readable), words in id order."""
        data = {"type": "WordTokenizer", "specials": list(self.SPECIALS), "words": self.words}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> WordTokenizer:
        """Read a vocabulary written by ``save``: the same words get the same ids."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("type") != "WordTokenizer" or data.get("specials") != list(cls.SPECIALS):
                raise ValueError("it is not a WordTokenizer vocabulary")
            words = data["words"]
            if not all(isinstance(w, str) and w for w in words) or len(set(words)) != len(words):
                raise ValueError("'words' must be distinct non-empty strings")
        except (ValueError, KeyError, AttributeError) as e:
            raise ValueError(f"tokenizer file {path} is invalid: {e}") from e
        tok = cls()
        tok._set_words(words)
        return tok

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size})"
