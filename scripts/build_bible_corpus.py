"""Rebuild ``data/bible_en_es/kjv_rv1909.tsv``, an English-Spanish parallel corpus of Bible verses.

The corpus pairs the King James Version (English, 1611/1769 text) with the Reina-Valera 1909
(Spanish), verse by verse. Both are in the public domain. The project itself never runs this
script: its output is committed, so nothing is downloaded at run time. It is here so that
anyone can check how the file was made and rebuild it.

Sources (Debian/Ubuntu packages, read offline from ``/usr/share/sword``):

- ``sword-text-kjv`` 14.3-1: SWORD module ``engKJV2006eb`` ("King James Version", eBible.org,
  OSIS markup with Strong's numbers, footnotes and headings).
- ``sword-text-sparv`` 2.60-1: SWORD module ``spaRV1909eb`` ("Reina Valera 1909", eBible.org,
  OSIS markup with Strong's numbers).

Both modules use the KJV versification, so verses align one to one by (book, chapter, verse).

The modules are read with the PyPI package ``pysword`` 0.2.8 (MIT licence). It is needed only
here, not by the course code, so it is not a project dependency. To rebuild::

    sudo apt-get install sword-text-kjv sword-text-sparv
    python3 -m venv /tmp/pysword-venv
    /tmp/pysword-venv/bin/pip install pysword==0.2.8
    /tmp/pysword-venv/bin/python scripts/build_bible_corpus.py

Options: ``--sword-dir`` (default ``/usr/share/sword``), ``--out`` (default
``data/bible_en_es/kjv_rv1909.tsv`` in this repository), ``--max-words`` (default 40),
``--max-pairs`` (default 15000).

Cleaning (our own, on the raw OSIS text; pysword's ``clean=True`` drops the KJV's canonical
psalm titles, which the Spanish text has inline, so it is not used):

1. footnotes (``<note>...</note>``) are removed with their content;
2. non-canonical headings (``<title>`` without ``canonical="true"``) are removed with their
   content; canonical titles (psalm superscriptions) keep their text;
3. every other tag (``<w lemma="strong:...">``, ``<transChange>``, ``<divineName>``, ``<l>``,
   ``<lg>``, ``<div>``, milestones) is removed, keeping the text inside;
4. XML entities are unescaped; pilcrows (U+00B6), Strong's tags in braces (``{H1234}``) and
   stray USFM markers (``\\nd``, 24 KJV verses) are removed; square brackets (one KJV verse,
   1 John 2:23 "[but]") and angle brackets are dropped, keeping the words; whitespace is
   collapsed to single spaces and spaces before ``, . ; : ! ? )`` are dropped;
5. in Psalm 119 the Spanish text starts every eighth verse (1, 9, ..., 169) with the name of a
   Hebrew letter ("ALEPH.", "BETH", ...), which the KJV module has as a heading (removed in
   step 2); that leading word is removed from the Spanish so that the two sides match.

Filtering and selection:

- misaligned chapters are dropped whole: in 18 chapters the Spanish module keeps the Spanish
  verse numbering (merged or shifted verses), see ``SHIFTED_CHAPTERS``;
- a pair is kept when each side has at most ``--max-words`` words (split on whitespace);
- if more than ``--max-pairs`` pairs remain, the ``--max-pairs`` pairs with the fewest
  characters (English plus Spanish; ties broken by canonical order) are kept, so that the
  committed file stays small (about 2.7 MB instead of 6.8 MB);
- the output is sorted in canonical book order (Genesis ... Revelation), then chapter, verse.

Output: UTF-8, tab-separated, a header line ``ref<TAB>en<TAB>es``, then one verse per line.
``ref`` is ``<OSIS book> <chapter>:<verse>``, e.g. ``Gen 1:1``, ``John 11:35``.
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from collections.abc import Iterator
from pathlib import Path

try:
    from pysword.modules import SwordModules
except ImportError:  # pragma: no cover - only the rebuild needs it
    sys.exit(
        "This script needs pysword 0.2.8, which the project does not depend on. Install it in\n"
        "a throwaway environment:\n"
        "    python3 -m venv /tmp/pysword-venv\n"
        "    /tmp/pysword-venv/bin/pip install pysword==0.2.8\n"
        "and run the script with /tmp/pysword-venv/bin/python."
    )

REPO = Path(__file__).resolve().parent.parent
EN_MODULE = "engKJV2006eb"  # Debian package sword-text-kjv
ES_MODULE = "spaRV1909eb"  # Debian package sword-text-sparv

_NOTE = re.compile(r"<note\b[^>]*?/>|<note\b[^>]*>.*?</note>", re.DOTALL)
_HEADING = re.compile(r"<title\b(?![^>]*canonical=\"true\")[^>]*>.*?</title>", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_STRONGS_BRACES = re.compile(r"\{[^{}]*\d[^{}]*\}")
_USFM_MARKER = re.compile(r"\\\+?[a-z]+\d*\*?")  # e.g. a stray "\nd " (USFM "name of deity")
_ACROSTIC = re.compile(r"^[A-Z]+\.?\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?)])")
_SPACE_AFTER_OPEN = re.compile(r"([(¡¿])\s+")


def clean_verse(raw: str) -> str:
    """Plain text of one verse's OSIS markup (see the module docstring for the rules)."""
    text = _NOTE.sub(" ", raw)
    text = _HEADING.sub(" ", text)
    # Tags between words become spaces; tags inside a word (e.g. ``<w>LORD</w>'s``) must not.
    text = _TAG.sub(lambda m: " " if _is_block_tag(m.group(0)) else "", text)
    text = html.unescape(text)
    text = _STRONGS_BRACES.sub(" ", text)
    text = _USFM_MARKER.sub(" ", text)
    text = text.replace("\u00b6", " ").replace("<", " ").replace(">", " ")
    text = text.replace("[", "").replace("]", "")
    text = " ".join(text.split())
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _SPACE_AFTER_OPEN.sub(r"\1", text)
    return text.strip()


def _is_block_tag(tag: str) -> bool:
    """Whether removing ``tag`` should leave a space (line, stanza, division, title tags)."""
    name = re.match(r"</?\s*([A-Za-z]+)", tag)
    return name is not None and name.group(1) in {"l", "lg", "div", "title", "p", "lb", "br"}


def iter_verses(sword_dir: Path, module: str) -> Iterator[tuple[str, int, int, int, str]]:
    """``(osis book, book index, chapter, verse, raw OSIS text)`` for every verse of ``module``
    in canonical order (KJV versification)."""
    modules = SwordModules(str(sword_dir))
    found = modules.parse_modules()
    if module not in found:
        raise SystemExit(f"SWORD module {module} not found in {sword_dir} (found: {list(found)})")
    bible = modules.get_bible_from_module(module)
    book_index = 0
    for testament in ("ot", "nt"):
        for book in bible.get_structure().get_books()[testament]:
            for chapter, n_verses in enumerate(book.chapter_lengths, start=1):
                texts = list(
                    bible.get_iter(books=[book.osis_name], chapters=[chapter], clean=False)
                )
                if len(texts) != n_verses:
                    raise RuntimeError(f"{book.osis_name} {chapter}: {len(texts)} != {n_verses}")
                for verse, text in enumerate(texts, start=1):
                    yield book.osis_name, book_index, chapter, verse, text
            book_index += 1


#: Chapters where the Spanish module, although declared as KJV-versified, keeps the Spanish
#: verse numbering, so its verses are shifted against the KJV's (e.g. Spanish "Job 39:1" is
#: KJV Job 38:39). Found by comparing verse lengths at offsets -1, 0, +1 and checked by reading.
#: Every chapter with an empty verse on either side (where the Spanish merged two verses) is
#: dropped as well, automatically: Num 12, Num 29, 1Sam 23, 2Sam 20, 2Chr 33, Job 35, Job 38,
#: Job 40, Hos 11, Jonah 1, Acts 19 and 2Cor 13.
SHIFTED_CHAPTERS = frozenset(
    {
        ("Num", 13),
        ("Num", 30),
        ("1Sam", 24),
        ("Job", 39),
        ("Job", 40),
        ("Hos", 12),
        ("Jonah", 2),
    }
)


def build(
    sword_dir: Path, out: Path, max_words: int = 40, max_pairs: int = 15000
) -> dict[str, int]:
    """Read both modules, clean, filter, select and write the TSV; return counts."""
    en = {(b, c, v): (i, clean_verse(t)) for b, i, c, v, t in iter_verses(sword_dir, EN_MODULE)}
    es = {(b, c, v): clean_verse(t) for b, _, c, v, t in iter_verses(sword_dir, ES_MODULE)}
    if en.keys() != es.keys():
        raise RuntimeError("the two modules do not have the same verses")
    bad_chapters = set(SHIFTED_CHAPTERS)
    bad_chapters |= {(b, c) for (b, c, v), (_, t) in en.items() if not t or not es[(b, c, v)]}
    counts = {"verses": len(en), "chapters_dropped": len(bad_chapters)}
    counts["verses_in_dropped_chapters"] = sum((b, c) in bad_chapters for b, c, _ in en)
    counts["too_long"] = 0
    pairs: list[tuple[tuple[int, int, int], str, str, str]] = []
    for (book, chapter, verse), (index, en_text) in en.items():
        if (book, chapter) in bad_chapters:
            continue
        es_text = es[(book, chapter, verse)]
        if book == "Ps" and chapter == 119 and verse % 8 == 1:
            es_text = _ACROSTIC.sub("", es_text)
        if len(en_text.split()) > max_words or len(es_text.split()) > max_words:
            counts["too_long"] += 1
        else:
            pairs.append(((index, chapter, verse), f"{book} {chapter}:{verse}", en_text, es_text))
    counts["kept_by_length"] = len(pairs)
    if len(pairs) > max_pairs:
        pairs = sorted(pairs, key=lambda p: (len(p[2]) + len(p[3]), p[0]))[:max_pairs]
    pairs.sort(key=lambda p: p[0])
    counts["written"] = len(pairs)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="\n") as f:
        f.write("ref\ten\tes\n")
        for _, ref, en_text, es_text in pairs:
            if "\t" in en_text + es_text:
                raise RuntimeError(f"tab in the text of {ref}")
            f.write(f"{ref}\t{en_text}\t{es_text}\n")
    counts["bytes"] = out.stat().st_size
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sword-dir", type=Path, default=Path("/usr/share/sword"))
    parser.add_argument(
        "--out", type=Path, default=REPO / "data" / "bible_en_es" / "kjv_rv1909.tsv"
    )
    parser.add_argument("--max-words", type=int, default=40)
    parser.add_argument("--max-pairs", type=int, default=15000)
    args = parser.parse_args(argv)
    counts = build(args.sword_dir, args.out, args.max_words, args.max_pairs)
    for key, value in counts.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
