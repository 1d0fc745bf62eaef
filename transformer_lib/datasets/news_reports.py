"""Generated news reports and their headlines: a summarization task that ships offline (chapter 8).

No freely licensed summarization data set installs without a download, so we generate one. A
report is 3 to 6 sentences about one event (an acquisition, an appointment or a match
result): one sentence states the event, in one of several paraphrases and not always first,
and the others are distractors that mention *other* companies, people, teams and numbers.
The headline names the right entities in the right roles and the right amount, written
differently from the report::

    report:   Shares of Fisher Group rose twelve percent in early trading. Chang Labs is to be
              bought by Fisher Group for forty-two million dollars, the two firms said on
              Monday. Last year Dixon Systems paid seventy million dollars for a smaller rival.
    headline: Fisher Group to buy Chang Labs for $42 million

Entities come from ``faker`` (names drawn once, from a fixed seed, into a small pool, so that
train and test sets share a vocabulary and differ in how they combine it) and amounts are
spelt out by ``num2words``; the headline gives them in digits.

A new kind of event is a *maker* ``(rng, pools) -> (main sentence, distractors, headline,
facts, wrong facts)`` registered in ``MAKERS`` and named in ``EVENT_KINDS``; ``number_words``,
``distinct_names``, ``COMPANY_SUFFIXES`` and ``DAYS`` are the parts the makers share
(chapter 8's exercise 3 writes one).
"""

from __future__ import annotations

import random
import re
from functools import cache, lru_cache
from typing import NamedTuple

from ..utils._checks import is_int

__all__ = ["EventReport", "EVENT_KINDS", "event_reports"]

EVENT_KINDS = ("acquisition", "appointment", "match")
"""The kinds of event, in the order :func:`event_reports` cycles through them."""

COMPANY_SUFFIXES = ("Group", "Holdings", "Labs", "Systems", "Partners", "Industries")
_TEAM_SUFFIXES = ("United", "Rovers", "City", "Athletic", "Wanderers")
_ROLES = ("chief executive", "finance chief", "chairman", "head of research", "president")


class EventReport(NamedTuple):
    """One generated report, with five fields:

    * ``report``: the 3 to 6 sentence text to summarise;
    * ``headline``: the one-line summary, e.g.
      ``"Fisher Group to buy Chang Labs for $42 million"``;
    * ``kind``: one of :data:`EVENT_KINDS`;
    * ``facts``: the strings the headline states, as they are written in the report (entities,
      and amounts in words), e.g. ``("Fisher Group", "Chang Labs", "forty-two")``;
    * ``distractors``: entities and amounts in the report that the headline must *not* use.
    """

    report: str
    headline: str
    kind: str
    facts: tuple[str, ...]
    distractors: tuple[str, ...]


class _Pools(NamedTuple):
    last: tuple[str, ...]
    first: tuple[str, ...]
    cities: tuple[str, ...]


@lru_cache(maxsize=1)
def _pools() -> _Pools:
    """Names drawn once from faker with a fixed seed: the same pools for every call."""
    try:
        from faker import Faker
    except ImportError as err:  # pragma: no cover - faker is a dependency of the book
        raise ImportError("event_reports needs faker: pip install faker") from err
    fake = Faker("en_US")
    fake.seed_instance(1234)  # an instance seed: the global Faker state is untouched

    def draw(make, count):
        seen: dict[str, None] = {}
        while len(seen) < count:
            name = make()
            if name.isalpha():  # no O'Brien or Smith-Jones: one word token each
                seen[name] = None
        return tuple(sorted(seen))

    return _Pools(draw(fake.last_name, 120), draw(fake.first_name, 60), draw(fake.city, 30))


@cache
def number_words(n: int) -> str:
    """``42`` -> ``"forty-two"`` (cached: num2words is slow next to everything else here)."""
    from num2words import num2words

    return num2words(n)


def distinct_names(rng: random.Random, pool: tuple[str, ...], suffixes: tuple[str, ...], k: int):
    """``k`` names "<Last> <Suffix>" with different last names.

    Each surname has one fixed suffix (a company is always "Fisher Group", never also
    "Fisher Labs"), so that a name is told apart by its surname alone.
    """
    return [f"{pool[i]} {suffixes[i % len(suffixes)]}" for i in rng.sample(range(len(pool)), k)]


def _acquisition(rng: random.Random, pools: _Pools):
    buyer, target, other = distinct_names(rng, pools.last, COMPANY_SUFFIXES, 3)
    amount, other_amount = rng.sample(range(2, 100), 2)
    words, other_words = number_words(amount), number_words(other_amount)
    day, city = rng.choice(DAYS), rng.choice(pools.cities)
    founder = f"{rng.choice(pools.first)} {rng.choice(pools.last)}"
    main = rng.choice((
        f"{buyer} said on {day} that it would buy {target} for {words} million dollars.",
        f"{buyer} has agreed to acquire {target} in a deal worth {words} million dollars.",
        f"In a deal worth {words} million dollars, {buyer} is buying its rival {target}.",
        f"{target} is to be bought by {buyer} for {words} million dollars, the two firms said.",
    ))  # fmt: skip
    percent = number_words(rng.randrange(2, 20))
    distractors = [
        f"Last year {other} paid {other_words} million dollars for a smaller rival.",
        f"{target} was founded in {city} in {rng.randrange(1950, 2020)}.",
        f"Shares of {buyer} rose {percent} percent in early trading.",
        f"Analysts at {other} said that more deals were likely this year.",
        f"{founder}, who founded {target}, will stay on as an adviser.",
    ]
    headline = f"{buyer} to buy {target} for ${amount} million"
    wrong = (other, other_words, city, percent, founder)
    return main, distractors, headline, (buyer, target, words), wrong


def _appointment(rng: random.Random, pools: _Pools):
    company, other = distinct_names(rng, pools.last, COMPANY_SUFFIXES, 2)
    firsts, lasts = rng.sample(pools.first, 3), rng.sample(pools.last, 3)
    person, old, spokesperson = (f"{f} {la}" for f, la in zip(firsts, lasts, strict=True))
    role, day = rng.choice(_ROLES), rng.choice(DAYS)
    main = rng.choice((
        f"{company} has named {person} as its new {role}.",
        f"{person} will become {role} of {company}, the company said on {day}.",
        f"On {day}, {company} said that {person} would take over as {role}.",
        f"{person} has been appointed {role} at {company}.",
    ))  # fmt: skip
    spans = ((3, 30), (2, 15), (2, 40), (2, 20))
    years, tenure, staff, percent = (number_words(rng.randrange(*span)) for span in spans)
    distractors = [
        f"{person} replaces {old}, who is retiring after {years} years.",
        f"{person} previously worked at {other} for {tenure} years.",
        f"{company} employs {staff} thousand people.",
        f"Shares of {company} fell {percent} percent on the news.",
        f"{spokesperson}, a spokesperson for {company}, declined to comment further.",
    ]
    headline = f"{company} names {person} {role}"
    wrong = (other, old, spokesperson, years, tenure, staff, percent)
    return main, distractors, headline, (company, person, role), wrong


def _score_words(n: int) -> str:
    return "nil" if n == 0 else number_words(n)


def _goal_s(n: int) -> str:
    return "goal" if n == 1 else "goals"


def _match(rng: random.Random, pools: _Pools):
    winner, loser, other = distinct_names(rng, pools.last, _TEAM_SUFFIXES, 3)
    goals = rng.randrange(1, 7)
    conceded = rng.randrange(0, goals)
    w, c = _score_words(goals), _score_words(conceded)
    day = rng.choice(DAYS)
    main = rng.choice((
        f"{winner} beat {loser} by {w} {_goal_s(goals)} to {c} on {day}.",
        f"{loser} lost {c} to {w} against {winner} on {day}.",
        f"A {w} to {c} win over {loser} lifted {winner} up the table.",
        f"{winner} won {w} to {c} at home against {loser}.",
    ))  # fmt: skip
    old_goals = rng.randrange(1, 7)
    old_conceded = rng.randrange(0, old_goals)
    scorer = f"{rng.choice(pools.first)} {rng.choice(pools.last)}"
    city, crowd = rng.choice(pools.cities), number_words(rng.randrange(5, 60))
    distractors = [
        f"Last season {loser} beat {other} by {_score_words(old_goals)} {_goal_s(old_goals)} "
        f"to {_score_words(old_conceded)}.",
        f"{scorer} scored twice for {winner}.",
        f"The match was played in {city}.",
        f"{winner} play {other} next {rng.choice(DAYS)}.",
        f"Attendance was {crowd} thousand.",
    ]
    headline = f"{winner} beat {loser} {goals}-{conceded}"
    return main, distractors, headline, (winner, loser, w, c), (other, scorer, city, crowd)


DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAKERS = {"acquisition": _acquisition, "appointment": _appointment, "match": _match}


def event_reports(n: int, *, seed: int = 0) -> list[EventReport]:
    """``n`` (report, headline) examples, the same for the same ``seed``.

    Kinds cycle through :data:`EVENT_KINDS`. Each report is the event's sentence (one of
    four paraphrases, first or second) and 2 to 5 distractor sentences in random order, so
    3 to 6 sentences. One distractor always names a competitor in the same role: another
    company's purchase and price, the predecessor in the job, or another match and score.
    The name pools are the same for every seed (120 surnames, 60 first names, 30 cities), so
    sets drawn with different seeds share their vocabulary; they are disjoint in examples,
    not in entities.

    Args:
        n: number of examples (``>= 0``).
        seed: seeds a private ``random.Random``; global random states are untouched.

    Returns:
        A list of ``n`` :class:`EventReport`.

    Raises:
        TypeError: ``n`` or ``seed`` is not an int.
        ValueError: ``n`` is negative.
    """
    if not is_int(n):
        raise TypeError(f"n must be an int, but got {type(n).__name__}")
    if n < 0:
        raise ValueError(f"n must be >= 0, but got {n}")
    if not is_int(seed):
        raise TypeError(f"seed must be an int, but got {type(seed).__name__}")
    rng, pools = random.Random(seed), _pools()
    out = []
    for i in range(n):
        kind = EVENT_KINDS[i % len(EVENT_KINDS)]
        main, distractors, headline, facts, wrong = MAKERS[kind](rng, pools)
        # The first distractor names a competitor in the same role (another buyer, the
        # predecessor, another match): every report has one, plus 1 to 4 others.
        sentences = [distractors[0], *rng.sample(distractors[1:], rng.randrange(1, 5))]
        rng.shuffle(sentences)
        sentences.insert(rng.randrange(2), main)
        text = " ".join(sentences)
        # only the distractors that made it into the report, and none that equals a fact
        present = (d for d in wrong if d not in facts and re.search(rf"\b{re.escape(d)}\b", text))
        out.append(EventReport(text, headline, kind, facts, tuple(dict.fromkeys(present))))
    return out
