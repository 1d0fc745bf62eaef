"""Generated biographies with questions about them: a small extractive-QA data set (chapter 8).

Each text describes two to four invented people (names, cities, dates, jobs and companies from
a seeded ``faker``): where and when they were born, what they do and who employs them. Each
question about a text is asked in one of several paraphrases ("Where was X born?", "In which
city was X born?", ...) and its answer is a span of the text, recorded by character offsets,
as in SQuAD (Rajpurkar et al., 2016). Some questions have no answer in the text, as in
SQuAD 2.0 (Rajpurkar et al., 2018): they ask about a person the text does not mention, or
about a fact it leaves out.

Full names are never reused across the texts of one call, so splitting the texts (e.g. the
first ``n`` for training, the rest for testing) tests on people the model has never seen.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from ..utils._checks import is_int, is_number

__all__ = ["QAExample", "Biography", "ATTRIBUTES", "QUESTION_TEMPLATES", "make_biographies"]

#: The facts a biography may give about a person.
ATTRIBUTES = ("birthplace", "birth_date", "job", "employer")
# Birth dates are drawn from a fixed window. Faker's ``date_of_birth`` counts back from today,
# so the same seed would give other dates on another day (and another book output).
BORN_FROM, BORN_TO = date(1946, 1, 1), date(2006, 12, 31)

#: Paraphrased questions for each fact; ``{name}`` is the person's full name.
QUESTION_TEMPLATES: dict[str, tuple[str, ...]] = {
    "birthplace": (
        "Where was {name} born?",
        "In which city was {name} born?",
        "What is the birthplace of {name}?",
        "Which town does {name} come from?",
    ),
    "birth_date": (
        "When was {name} born?",
        "What is the date of birth of {name}?",
        "On what date was {name} born?",
        "When is {name}'s birthday?",
    ),
    "job": (
        "What does {name} do for a living?",
        "What is {name}'s job?",
        "What is the profession of {name}?",
        "What does {name} work as?",
    ),
    "employer": (
        "Who employs {name}?",
        "Which company does {name} work for?",
        "Who is {name}'s employer?",
        "For which firm does {name} work?",
    ),
}

# Sentences about one person. ``{first}`` is the first name (the person was introduced
# with their full name in the first sentence); a sentence is used only when every fact it
# names is known for the person.
_BIRTH = (
    "{name} was born in {birthplace} on {birth_date}.",
    "Born on {birth_date} in {birthplace}, {name} grew up there.",
    "{name} was born on {birth_date} in the city of {birthplace}.",
)
_BIRTH_PLACE_ONLY = (
    "{name} was born in {birthplace}.",
    "{name} comes from {birthplace}.",
)
_BIRTH_DATE_ONLY = (
    "{name} was born on {birth_date}.",
    "The records give {birth_date} as the birth date of {name}.",
)
_NAME_ONLY = ("{name} keeps a low profile.", "Little is known about {name}.")
_WORK = (
    "{first} works as {article} {job} at {employer}.",
    "Today {first} is {article} {job} employed by {employer}.",
    "{employer} hired {first} as {article} {job}.",
)
_JOB_ONLY = ("{first} works as {article} {job}.", "By profession {first} is {article} {job}.")
_EMPLOYER_ONLY = ("{first} works for {employer}.", "{first} is employed by {employer}.")

_FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class QAExample:
    """One question about one context.

    Attributes:
        question: the question text.
        context: the biography it is asked about.
        answer: the answer text, ``""`` if the context does not answer the question.
        answer_start: the answer's first character in ``context`` (so that
            ``context[answer_start : answer_start + len(answer)] == answer``), ``-1`` if
            unanswerable.
        attribute: which fact is asked for (one of ``ATTRIBUTES``).
        reason: ``"answerable"``, ``"unknown person"`` (the person is not in the text) or
            ``"missing fact"`` (the person is, but the fact is not given).
    """

    question: str
    context: str
    answer: str
    answer_start: int
    attribute: str
    reason: str

    @property
    def is_answerable(self) -> bool:
        return self.answer_start >= 0


@dataclass
class Biography:
    """A generated text, its people and their facts, and the questions about it.

    Attributes:
        context: the text.
        people: one dict per person: ``name`` and each known fact of ``ATTRIBUTES``.
        questions: :class:`QAExample` s about ``context``.
    """

    context: str
    people: list[dict[str, str]]
    questions: list[QAExample] = field(default_factory=list)


def _check_int(name: str, value: object, low: int) -> None:
    if not is_int(value) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, but got {value!r}")


def _check_prob(name: str, value: object) -> None:
    if not is_number(value) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a float in [0, 1], but got {value!r}")


def make_biographies(
    num_texts: int,
    *,
    seed: int = 0,
    min_people: int = 2,
    max_people: int = 4,
    fact_prob: float = 0.85,
    questions_per_person: int = 3,
    unknown_person_prob: float = 0.3,
) -> list[Biography]:
    """Generate ``num_texts`` biographies with answerable and unanswerable questions.

    Args:
        num_texts: how many texts.
        seed: seeds ``faker`` and the choices of templates and facts: the same arguments give
            the same data.
        min_people, max_people: people per text, drawn uniformly in between.
        fact_prob: the chance that the text gives each fact of a person. Questions about a
            fact it does not give are the ``"missing fact"`` unanswerable ones.
        questions_per_person: how many of the four facts are asked about each person (a
            random subset, each in a random paraphrase).
        unknown_person_prob: per text, the chance of each of two extra questions about a
            person who is not in the text (``"unknown person"``); that person's name is also
            never used in any text of this call.

    Returns:
        A list of :class:`Biography`. Every full name occurs in one text only; within a
        text, no two people share a first or a last name.

    Raises:
        ValueError: on a bad count or probability.
        ImportError: if ``faker`` is not installed.
    """
    _check_int("num_texts", num_texts, 0)
    _check_int("min_people", min_people, 1)
    _check_int("max_people", max_people, min_people)
    _check_int("questions_per_person", questions_per_person, 0)
    if questions_per_person > len(ATTRIBUTES):
        raise ValueError(
            f"questions_per_person must be at most {len(ATTRIBUTES)}, "
            f"but got {questions_per_person}"
        )
    _check_prob("fact_prob", fact_prob)
    _check_prob("unknown_person_prob", unknown_person_prob)
    try:
        from faker import Faker
    except ImportError as e:
        raise ImportError("make_biographies needs the faker package: pip install faker") from e

    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    used_names: set[str] = set()

    def new_name(avoid: set[str]) -> str:
        # Full names are unique across the call (test people are unseen in training); the
        # first and last names must not be in ``avoid``: the names already in the text, so
        # that "Ann" in a sentence refers to one person and an unknown person shares no name
        # with anyone in the text.
        while True:
            first, last = fake.first_name(), fake.last_name()
            full = f"{first} {last}"
            if first not in avoid and last not in avoid and full not in used_names:
                used_names.add(full)
                avoid.update((first, last))
                return full

    def new_job() -> str:
        while True:  # plain jobs only: "Radiographer, diagnostic" reads badly in a sentence
            job = fake.job()
            if re.fullmatch(r"[A-Za-z ]+", job):
                return job.lower()

    def new_employer() -> str:
        while True:  # "Smith, Jones and Brown" would make commas ambiguous
            company = fake.company()
            if "," not in company:
                return company

    texts = []
    for _ in range(num_texts):
        people = []
        in_text: set[str] = set()
        for _ in range(rng.randint(min_people, max_people)):
            d = fake.date_between_dates(BORN_FROM, BORN_TO)
            facts = {
                "birthplace": fake.city(),
                "birth_date": f"{d.day} {d:%B} {d.year}",
                "job": new_job(),
                "employer": new_employer(),
            }
            person = {"name": new_name(in_text)}
            person.update({k: v for k, v in facts.items() if rng.random() < fact_prob})
            people.append(person)
        bio, spans = _write(people, rng)
        _ask(bio, spans, rng, questions_per_person, unknown_person_prob, partial(new_name, in_text))
        texts.append(bio)
    return texts


def _write(
    people: list[dict[str, str]], rng: random.Random
) -> tuple[Biography, dict[tuple[int, str], int]]:
    """Render the text and record where each fact lands: ``(person, fact) -> character``."""
    parts: list[str] = []
    spans: dict[tuple[int, str], int] = {}  # (person, fact) -> first character
    length = 0

    def emit(template: str, i: int, values: dict[str, str]) -> None:
        nonlocal length
        pos = 0
        for m in _FIELD.finditer(template):
            text, key = template[pos : m.start()], m.group(1)
            parts.append(text)
            length += len(text)
            if key in ATTRIBUTES:
                spans[(i, key)] = length  # the fact starts here
            parts.append(values[key])
            length += len(values[key])
            pos = m.end()
        parts.append(template[pos:] + " ")
        length += len(template) - pos + 1

    for i, person in enumerate(people):
        values = dict(person, first=person["name"].split()[0])
        if "job" in person:
            values["article"] = "an" if person["job"][0] in "aeiou" else "a"
        has = set(person)
        if {"birthplace", "birth_date"} <= has:
            emit(rng.choice(_BIRTH), i, values)
        elif "birthplace" in has:
            emit(rng.choice(_BIRTH_PLACE_ONLY), i, values)
        elif "birth_date" in has:
            emit(rng.choice(_BIRTH_DATE_ONLY), i, values)
        else:
            emit(rng.choice(_NAME_ONLY), i, values)
        if {"job", "employer"} <= has:
            emit(rng.choice(_WORK), i, values)
        elif "job" in has:
            emit(rng.choice(_JOB_ONLY), i, values)
        elif "employer" in has:
            emit(rng.choice(_EMPLOYER_ONLY), i, values)
    context = "".join(parts).rstrip()

    return Biography(context, people), spans


def _ask(
    bio: Biography,
    spans: dict[tuple[int, str], int],
    rng: random.Random,
    questions_per_person: int,
    unknown_person_prob: float,
    new_name: Callable[[], str],
) -> None:
    """Append the questions about ``bio``: some facts of each person, and unknown people."""
    context = bio.context
    for i, person in enumerate(bio.people):
        for attribute in rng.sample(ATTRIBUTES, questions_per_person):
            question = rng.choice(QUESTION_TEMPLATES[attribute]).format(name=person["name"])
            if attribute in person:
                start, answer, reason = spans[(i, attribute)], person[attribute], "answerable"
            else:
                start, answer, reason = -1, "", "missing fact"
            bio.questions.append(QAExample(question, context, answer, start, attribute, reason))
    for _ in range(2):
        if rng.random() < unknown_person_prob:
            attribute = rng.choice(ATTRIBUTES)
            question = rng.choice(QUESTION_TEMPLATES[attribute]).format(name=new_name())
            bio.questions.append(QAExample(question, context, "", -1, attribute, "unknown person"))
