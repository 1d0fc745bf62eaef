"""Text data helpers: character and word tokenizers, padding and length-bucketed batching, and the
number-words translation task (chapter 5).

The translation task turns integers into words in two languages with ``num2words``
(``345`` -> "three hundred and forty-five" -> "dreihundertfünfundvierzig"): unlimited,
offline, exactly checkable data that still needs reordering and long-range agreement.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import Tensor

__all__ = [
    "CharTokenizer",
    "WordTokenizer",
    "pad_batch",
    "bucket_batches",
    "number_pairs",
    "train_test_numbers",
    "load_parallel_corpus",
]


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
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an int >= 1, but got {min_count!r}")
        if max_size is not None and (
            isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0
        ):
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

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size})"


def pad_batch(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> Tensor:
    """Stack sequences of different lengths into a ``LongTensor (B, T_max)``, right-padded.

    Pair it with ``padding_mask(lengths, T_max)`` so attention ignores the padding.

    Raises:
        TypeError: ``sequences`` is a string or not sized, or holds non-integer ids.
        ValueError: ``sequences`` is empty, ``pad_id`` is not an int.
    """
    if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__len__"):
        raise TypeError(
            f"sequences must be a sequence of id sequences, but got {type(sequences).__name__}"
        )
    if len(sequences) == 0:
        raise ValueError("sequences must hold at least one sequence, but is empty")
    if isinstance(pad_id, bool) or not isinstance(pad_id, int):  # -100 pads labels
        raise ValueError(f"pad_id must be an int, but got {pad_id!r}")
    max_len = max(len(s) for s in sequences)
    out = torch.full((len(sequences), max_len), pad_id, dtype=torch.long)
    for i, seq in enumerate(sequences):
        if len(seq):
            # Converted without a dtype first: casting to long would truncate 1.5 to 1 silently.
            row = torch.as_tensor(seq)
            if row.dtype.is_floating_point or row.dtype.is_complex or row.dtype == torch.bool:
                raise TypeError(f"sequences must hold integer ids, but sequence {i} is {row.dtype}")
            out[i, : len(seq)] = row
    return out


def bucket_batches(
    lengths: Sequence[int],
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    pool_batches: int = 50,
) -> list[list[int]]:
    """Split indices ``0..N-1`` into batches of examples of similar length, in random order.

    Padding a batch to its longest sequence wastes compute on pad tokens; grouping similar
    lengths avoids that. Indices are shuffled, cut into pools of ``pool_batches`` batches,
    sorted by length within each pool and cut into batches; the batch order is shuffled so
    the model does not see short batches first. Sorting within pools rather than globally
    keeps some randomness in which examples share a batch.

    Returns a list of index lists; every index appears exactly once, the last batch of each
    pool may be smaller.
    """
    if isinstance(lengths, (str, bytes)) or not hasattr(lengths, "__len__"):
        raise TypeError(f"lengths must be a sequence of ints, but got {type(lengths).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, but got {batch_size!r}")
    if isinstance(pool_batches, bool) or not isinstance(pool_batches, int) or pool_batches < 1:
        raise ValueError(f"pool_batches must be a positive int, but got {pool_batches!r}")
    n = len(lengths)
    order = torch.randperm(n, generator=generator).tolist()
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, n, pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def _num2words():
    try:
        from num2words import num2words
    except ImportError as e:  # optional: only the number-words task needs it
        raise ImportError(
            "the number-words task needs the num2words package: pip install num2words"
        ) from e
    return num2words


def number_pairs(
    numbers: Iterable[int], *, src_lang: str = "en", tgt_lang: str = "de"
) -> list[tuple[str, str]]:
    """``(source words, target words)`` for each integer, e.g. ``345`` with the defaults:
    ``("three hundred and forty-five", "dreihundertfünfundvierzig")``.

    Languages are num2words codes ("en", "de", "fr", "es", ...).
    """
    num2words = _num2words()
    pairs = []
    for n in numbers:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"numbers must be ints, but got {n!r}")
        words = []
        for name, lang in (("src_lang", src_lang), ("tgt_lang", tgt_lang)):
            try:
                words.append(num2words(n, lang=lang))
            except NotImplementedError as e:
                raise ValueError(f"{name}={lang!r} is not a language num2words knows") from e
        pairs.append((words[0], words[1]))
    return pairs


def train_test_numbers(
    max_number: int = 9999, test_fraction: float = 0.1, seed: int = 0
) -> tuple[list[int], list[int]]:
    """Split the integers ``0..max_number`` into disjoint, sorted train and test lists.

    The same arguments always give the same split, on any machine. Testing on numbers never
    seen in training measures whether the model learned the rules of number words rather
    than memorising them.
    """
    if isinstance(max_number, bool) or not isinstance(max_number, int) or max_number < 1:
        raise ValueError(f"max_number must be an int >= 1, but got {max_number!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, but got {test_fraction!r}")
    total = max_number + 1
    n_test = min(total - 1, max(1, round(test_fraction * total)))
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(order[n_test:]), sorted(order[:n_test])


#: The committed English-Spanish corpus (King James Version / Reina-Valera 1909, public domain),
#: relative to the repository root; see data/bible_en_es/README.md.
PARALLEL_CORPUS_PATH = (
    Path(__file__).resolve().parent.parent / "data" / "bible_en_es" / "kjv_rv1909.tsv"
)


def load_parallel_corpus(path: str | os.PathLike | None = None) -> list[tuple[str, str]]:
    """``(English, Spanish)`` verse pairs from a ``ref<TAB>en<TAB>es`` TSV file with a header.

    With no ``path`` it reads the repository's ``data/bible_en_es/kjv_rv1909.tsv`` (15,000
    short verses of the King James Version and the Reina-Valera 1909, in canonical order;
    built by ``scripts/build_bible_corpus.py``). That file is not part of the installed
    package, so the default only works from a checkout of the repository.
    """
    file = Path(path) if path is not None else PARALLEL_CORPUS_PATH
    if not file.is_file():
        raise FileNotFoundError(
            f"parallel corpus not found at {file}. The default file lives in the repository "
            "(data/bible_en_es/kjv_rv1909.tsv) and is not installed with the package: run from "
            "a checkout of the repository or pass path=..."
        )
    pairs = []
    with file.open(encoding="utf-8", newline="") as f:
        header = f.readline().rstrip("\r\n").split("\t")
        if header != ["ref", "en", "es"]:
            raise ValueError(f"{file}: expected the header 'ref<TAB>en<TAB>es', got {header}")
        for line_no, line in enumerate(f, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise ValueError(f"{file}, line {line_no}: expected 3 fields, got {len(fields)}")
            pairs.append((fields[1], fields[2]))
    return pairs
