"""The BPE of :mod:`~transformer_lib.data.bpe` run by Hugging Face's Rust ``tokenizers``
library: the same pre-tokenisation, special tokens and byte alphabet, much faster to train
and to run. ``HFBPETokenizer.from_bpe`` converts a ``BPETokenizer``; the tests check that both
then give identical ids.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from .bpe import (
    DEFAULT_SPECIALS,
    WORD_PATTERN,
    BPETokenizer,
    as_texts,
    check_special_tokens,
    check_token_ids,
    check_vocab_size,
)

__all__ = ["HFBPETokenizer", "train_bpe", "byte_to_char"]


def byte_to_char() -> list[str]:
    """The printable character ``tokenizers``' ByteLevel step writes for each byte 0..255.

    Bytes that are visible Latin-1 characters stand for themselves; the other 68 (controls,
    space, DEL, 0x80-0xA0 and the soft hyphen 0xAD) are moved, in byte order, to U+0100,
    U+0101, ... This is the convention of GPT-2 (Radford et al. 2019): a space is ``Ġ``.
    """
    chars, moved = [], 0
    for b in range(256):
        visible = 0x21 <= b <= 0x7E or (0xA1 <= b <= 0xFF and b != 0xAD)
        chars.append(chr(b) if visible else chr(0x100 + moved))
        moved += not visible
    return chars


def _tokenizers():
    try:
        import tokenizers
    except ImportError as e:  # optional: only the fast tokenizer needs it
        raise ImportError(
            "train_bpe and HFBPETokenizer need the tokenizers package: pip install tokenizers"
        ) from e
    return tokenizers


def _configure(tokenizer: Any, pre_tokenize: bool) -> None:
    """Give a ``tokenizers.Tokenizer`` our pre-tokenisation and a byte-level decoder."""
    tk = _tokenizers()
    # use_regex=False: ByteLevel only maps bytes to characters; the word split is ours.
    to_bytes = tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if pre_tokenize:
        split = tk.pre_tokenizers.Split(tk.Regex(WORD_PATTERN), behavior="isolated")
        tokenizer.pre_tokenizer = tk.pre_tokenizers.Sequence([split, to_bytes])
    else:
        tokenizer.pre_tokenizer = to_bytes
    tokenizer.decoder = tk.decoders.ByteLevel()


class HFBPETokenizer:
    """A ``tokenizers.Tokenizer`` (in ``.tokenizer``) behind ``BPETokenizer``'s interface.

    Made by ``train_bpe``, ``HFBPETokenizer.from_bpe`` or ``HFBPETokenizer.load``. The Rust
    library is much faster than ``BPETokenizer``; use it on large corpora.
    """

    def __init__(self, tokenizer: Any):
        if not isinstance(tokenizer, _tokenizers().Tokenizer):
            raise TypeError(
                f"tokenizer must be a tokenizers.Tokenizer, but got {type(tokenizer).__name__}"
            )
        self.tokenizer = tokenizer

    @property
    def special_tokens(self) -> tuple[str, ...]:
        decoder = self.tokenizer.get_added_tokens_decoder()
        return tuple(decoder[i].content for i in sorted(decoder) if decoder[i].special)

    @property
    def special_ids(self) -> dict[str, int]:
        return {s: self.tokenizer.token_to_id(s) for s in self.special_tokens}

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Ids of ``text``; special tokens written in the text map to their own id."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, but got {type(text).__name__}")
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        specials = self.special_ids
        for flag, name in ((add_bos, "<bos>"), (add_eos, "<eos>")):
            if flag and name not in specials:
                raise ValueError(f"add_{name[1:4]}=True needs {name} in special_tokens")
        return [specials.get("<bos>")] * add_bos + ids + [specials.get("<eos>")] * add_eos

    def decode(self, ids: Iterable[int] | Any, *, skip_special: bool = True) -> str:
        """The text of ``ids``; with ``skip_special`` the special tokens are dropped."""
        ids = check_token_ids(ids, self.vocab_size)
        return self.tokenizer.decode(ids, skip_special_tokens=skip_special)

    def save(self, path: str | os.PathLike) -> None:
        """Write the ``tokenizers`` JSON file (loadable by ``tokenizers.Tokenizer.from_file``)."""
        self.tokenizer.save(str(path))

    @classmethod
    def load(cls, path: str | os.PathLike) -> HFBPETokenizer:
        """Read a file written by ``save`` (or any ``tokenizers`` JSON file)."""
        return cls(_tokenizers().Tokenizer.from_file(str(path)))

    @classmethod
    def from_bpe(cls, bpe: BPETokenizer) -> HFBPETokenizer:
        """The same tokenizer as ``bpe`` (same merges, same ids), run by ``tokenizers``.

        Each token's bytes are written as ``byte_to_char`` characters, the form the ``BPE``
        model of ``tokenizers`` expects for byte-level vocabularies.
        """
        if not isinstance(bpe, BPETokenizer):
            raise TypeError(f"bpe must be a BPETokenizer, but got {type(bpe).__name__}")
        tk = _tokenizers()
        chars = byte_to_char()

        def spell(i: int) -> str:
            return "".join(chars[b] for b in bpe.vocab[i])

        vocab = {spell(i): i for i in range(len(bpe.special_tokens), bpe.vocab_size)}
        vocab.update(bpe.special_ids)
        merges = [(spell(a), spell(b)) for a, b in bpe.merges]
        tokenizer = tk.Tokenizer(tk.models.BPE(vocab=vocab, merges=merges))
        _configure(tokenizer, bpe.pre_tokenize)
        tokenizer.add_special_tokens(list(bpe.special_tokens))  # keeps their vocab ids
        return cls(tokenizer)

    def __repr__(self) -> str:
        return f"HFBPETokenizer(vocab_size={self.vocab_size})"


def train_bpe(
    text_or_texts: str | Iterable[str],
    vocab_size: int,
    *,
    special_tokens: Sequence[str] = DEFAULT_SPECIALS,
    pre_tokenize: bool = True,
) -> HFBPETokenizer:
    """Train a byte-level BPE with ``tokenizers`` (offline), set up like ``BPETokenizer``.

    Same special tokens first (same ids), all 256 bytes in the alphabet, same word split. The
    ids of bytes and merges differ from ``BPETokenizer.train``'s: ``tokenizers`` numbers the
    byte alphabet by character and breaks ties between equally frequent pairs its own way.
    """
    tk = _tokenizers()
    specials = check_special_tokens(special_tokens)
    vocab_size = check_vocab_size(vocab_size, specials)
    texts = as_texts(text_or_texts)
    tokenizer = tk.Tokenizer(tk.models.BPE())
    _configure(tokenizer, pre_tokenize)
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return HFBPETokenizer(tokenizer)
