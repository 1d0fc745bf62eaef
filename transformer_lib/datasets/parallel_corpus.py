"""The committed English-Spanish parallel corpus (chapter 5b)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PARALLEL_CORPUS_PATH", "load_parallel_corpus"]


#: The committed English-Spanish corpus (King James Version / Reina-Valera 1909, public domain),
#: relative to the repository root; see data/bible_en_es/README.md.
PARALLEL_CORPUS_PATH = (
    Path(__file__).resolve().parents[2] / "data" / "bible_en_es" / "kjv_rv1909.tsv"
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
