"""Reading back a tokenizer that was saved with a model: :func:`load_tokenizer`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..utils.checkpoint import TOKENIZER_FILE
from .bpe import BPETokenizer
from .fast_bpe import HFBPETokenizer
from .tokenizers import CharTokenizer, WordTokenizer

__all__ = ["load_tokenizer"]


def load_tokenizer(path: str | os.PathLike) -> Any:
    """The tokenizer saved at ``path``: a directory that ``save_pretrained(..., tokenizer=)``
    or ``save_checkpoint(..., tokenizer=)`` wrote, or a tokenizer's JSON file itself.

    Returns a :class:`~transformer_lib.CharTokenizer`, :class:`~transformer_lib.WordTokenizer`,
    :class:`~transformer_lib.BPETokenizer` or :class:`~transformer_lib.HFBPETokenizer`, whichever
    was saved.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, but got {type(path).__name__}")
    path = Path(path)
    file = path / TOKENIZER_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(
            f"no tokenizer at {path}: {file.name} is missing (save one with "
            "save_pretrained(path, tokenizer=...))"
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"tokenizer file {file} is not valid JSON: {e}") from e
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "CharTokenizer":
        return CharTokenizer.load(file)
    if kind == "WordTokenizer":
        return WordTokenizer.load(file)
    if kind == "BPETokenizer":
        return BPETokenizer.load(file)
    if isinstance(data, dict) and "model" in data:  # the `tokenizers` library's format
        return HFBPETokenizer.load(file)
    raise ValueError(
        f"tokenizer file {file} holds no tokenizer this library reads (type {kind!r}); "
        "expected a CharTokenizer, WordTokenizer, BPETokenizer or tokenizers JSON file"
    )
