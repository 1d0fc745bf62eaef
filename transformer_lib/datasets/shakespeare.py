"""Twelve Shakespeare plays shipped with the package, and passages of them labelled by genre.

The texts (public domain; Project Gutenberg's modern spelling, via the Open Knowledge
Foundation's ``shakespeare`` 0.6 package, CC BY 2.5) live in ``transformer_lib/datasets/corpora/
shakespeare/`` and are read with ``importlib.resources``, so they work from an installed
package too. Genres are those of the First Folio (1623): comedy, history, tragedy, four plays
each. See that folder's README.md for the source, licence and how the files were built.

>>> text = load_shakespeare()             # all twelve plays, about 1.3 million characters
>>> train, test = split_by_play(genre_passages(length=400))
>>> sorted({p.play for p in test}) == sorted(TEST_PLAYS)
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from ..utils._checks import is_int

__all__ = [
    "GENRES",
    "TEST_PLAYS",
    "Play",
    "Passage",
    "shakespeare_plays",
    "load_shakespeare",
    "genre_passages",
    "split_by_play",
]

#: The First Folio's three sections, as the labels used here.
GENRES = ("comedy", "history", "tragedy")

#: Default held-out plays, one per genre: a model is tested on plays it never saw in training,
#: so it cannot score by recognising a play's characters or plot.
TEST_PLAYS = ("midsummer_nights_dream", "richard_ii", "macbeth")

# The play proper starts at its first act heading ("ACT I.", "ACT FIRST", "Act I."); what comes
# before is the title (which often names the genre: "THE TRAGEDY OF ...") and the list of persons.
_FIRST_ACT = re.compile(r"^act\b", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Play:
    """One play of the corpus. ``name`` is its file name without ``.txt`` (e.g. ``"macbeth"``)."""

    name: str
    file: str
    title: str
    genre: str
    text: str = field(repr=False)

    @property
    def body(self) -> str:
        """The text from the first act heading on, without the title and list of persons."""
        match = _FIRST_ACT.search(self.text)
        return self.text[match.start() :] if match else self.text


@dataclass(frozen=True)
class Passage:
    """A piece of a play, made of whole lines, labelled with the play's genre."""

    text: str
    genre: str
    play: str


@lru_cache(maxsize=1)
def _plays() -> tuple[Play, ...]:
    folder = resources.files("transformer_lib.datasets.corpora") / "shakespeare"
    rows = (folder / "plays.tsv").read_text(encoding="utf-8").splitlines()
    if rows[0].split("\t") != ["file", "title", "genre", "characters"]:
        raise RuntimeError(f"unexpected header in plays.tsv: {rows[0]!r}")
    plays = []
    for row in rows[1:]:
        file, title, genre, _ = row.split("\t")
        text = (folder / file).read_text(encoding="utf-8")
        plays.append(Play(file.removesuffix(".txt"), file, title, genre, text))
    return tuple(plays)


def shakespeare_plays() -> list[Play]:
    """All plays of the corpus, in First Folio order (comedies, histories, tragedies)."""
    return list(_plays())


def _select(plays: str | Iterable[str] | None, argument: str = "plays") -> list[Play]:
    """The named plays, in corpus order; ``None`` means all of them."""
    every = _plays()
    if plays is None:
        return list(every)
    names = [plays] if isinstance(plays, str) else list(plays)
    known = {p.name for p in every}
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{argument} must contain play names (str), but got {name!r}")
        if name not in known:
            raise ValueError(
                f"{argument} contains {name!r}, which is not a play of the corpus; "
                f"expected one of {sorted(known)}"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"{argument} names a play twice: {names}")
    return [p for p in every if p.name in names]


def load_shakespeare(plays: str | Iterable[str] | None = None) -> str:
    """The text of the chosen plays (default: all), concatenated in corpus order.

    ``plays`` is a play name (``"macbeth"``) or a list of names; whatever order they are given
    in, the text follows the corpus's fixed (Folio) order, so the result is reproducible.
    Each play ends with a newline; plays are separated by one blank line.
    """
    return "\n".join(p.text for p in _select(plays))


def _check_int(value: object, name: str, minimum: int) -> int:
    if not is_int(value) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, but got {value!r}")
    return value


def _cut(text: str, length: int, min_length: int) -> list[str]:
    """Pack whole lines into pieces of at most ``length`` characters; drop shorter than
    ``min_length``. A single line longer than ``length`` is cut into ``length``-sized parts."""
    lines = []
    for line in text.split("\n"):
        lines += [line[i : i + length] for i in range(0, len(line), length)] or [""]
    pieces, current = [], ""
    for line in lines:
        joined = f"{current}\n{line}" if current else line
        if len(joined) <= length:
            current = joined
        else:
            pieces.append(current)
            current = line
    pieces.append(current)
    # Blank lines at the edges carry no text; stripping them can only shorten a piece.
    pieces = [p.strip("\n") for p in pieces]
    return [p for p in pieces if len(p) >= min_length]


def genre_passages(
    plays: str | Iterable[str] | None = None,
    *,
    length: int = 400,
    min_length: int | None = None,
) -> list[Passage]:
    """Cut each play's ``body`` into consecutive passages labelled with its genre.

    A passage is a run of whole lines (speaker names, verse, stage directions) of at most
    ``length`` characters: lines are added while they fit, so most passages are a little
    shorter than ``length``. Passages shorter than ``min_length`` (default ``length // 2``,
    e.g. the last piece of a play) are dropped. Passages never overlap and never cross plays.
    The order is fixed: plays in corpus order, passages in text order.
    """
    length = _check_int(length, "length", 1)
    min_length = length // 2 if min_length is None else min_length
    min_length = _check_int(min_length, "min_length", 1)
    if min_length > length:
        raise ValueError(f"min_length must be at most length={length}, but got {min_length}")
    return [
        Passage(text, play.genre, play.name)
        for play in _select(plays)
        for text in _cut(play.body, length, min_length)
    ]


def split_by_play(
    passages: Sequence[Passage], test_plays: str | Iterable[str] = TEST_PLAYS
) -> tuple[list[Passage], list[Passage]]:
    """``(train, test)``: the passages of ``test_plays`` go to test, all others to train.

    Splitting by play rather than at random keeps near-duplicate neighbours (the same scene,
    the same speakers) out of the test set, so test accuracy measures genre, not memory.
    """
    test_names = {p.name for p in _select(test_plays, "test_plays")}
    for p in passages:
        if not isinstance(p, Passage):
            raise TypeError(f"passages must contain Passage objects, but got {type(p).__name__}")
    train = [p for p in passages if p.play not in test_names]
    test = [p for p in passages if p.play in test_names]
    return train, test
