"""Instructions with checkable answers, for instruction tuning (chapter 10).

Four tasks, each asked in several phrasings (templates). The last phrasing of every task is
held out: ``split="train"`` uses the others, ``split="test"`` only the held-out one, so a test
score measures whether a model follows an instruction it was never shown in those words, not
whether it recalls the training prompts.

=========  ==========================================  =================================
task       prompt (one phrasing)                       response
=========  ==========================================  =================================
spell      Write 47 in words.                          forty-seven
digits     What number is forty-seven?                 47
reverse    Reverse the list: red, cat, tea.            tea, cat, red
ask        Text: <a biography> Question: <question>    the fact, or "The text does not
                                                       say." when it does not
=========  ==========================================  =================================

The biographies are chapter 8's (:func:`~transformer_lib.make_biographies`), one or two people
each, so about a quarter of the questions cannot be answered from their text: the right
answer is then the refusal :data:`REFUSAL`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from types import MappingProxyType

from ..utils._checks import is_int
from .biographies import make_biographies
from .numbers import number_pairs

__all__ = ["INSTRUCTION_TASKS", "INSTRUCTION_TEMPLATES", "REFUSAL", "Instruction",
           "instruction_tasks"]  # fmt: skip

#: The answer to a question whose text does not hold the fact.
REFUSAL = "The text does not say."

#: The phrasings of each task. The **last** of each is held out for ``split="test"``.
INSTRUCTION_TEMPLATES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "spell": (
            "Write {number} in words.",
            "How is {number} written in words?",
            "Spell out the number {number}.",
            "What is {number} in words?",
            "Please give {number} as words.",
        ),
        "digits": (
            "What number is {words}?",
            "Write {words} in digits.",
            "Give {words} as a number.",
            "Convert {words} to digits.",
            "Which number is written {words}?",
        ),
        "reverse": (
            "Reverse the list: {items}.",
            "Write these words in reverse order: {items}.",
            "Put {items} backwards.",
            "List {items} from the end.",
            "Give the words {items} from last to first.",
        ),
        "ask": (
            "Text: {context} Question: {question}",
            "Read this: {context} Then answer: {question}",
            "{context} Answer from the text above: {question}",
            "Question: {question} Text: {context}",
            "Using only this text, answer the question. {context} {question}",
        ),
    }
)
INSTRUCTION_TASKS = tuple(INSTRUCTION_TEMPLATES)

_WORDS = ("red", "blue", "green", "cat", "dog", "fish", "tea", "milk", "bread", "salt", "sun",
          "moon", "rain", "snow", "tree", "stone", "ship", "road", "bell", "book")  # fmt: skip


@dataclass(frozen=True)
class Instruction:
    """One instruction and its reference response.

    Attributes:
        task: one of :data:`INSTRUCTION_TASKS`.
        template: the index of its phrasing in ``INSTRUCTION_TEMPLATES[task]``.
        prompt: what the user writes.
        response: the reference answer.
        answerable: ``False`` for a question whose text does not hold the fact (then
            ``response`` is :data:`REFUSAL`).
        context: for ``"ask"``, the biography asked about (part of ``prompt``); ``""``
            otherwise. Chapter 10 pre-trains on these texts, without the questions.
    """

    task: str
    template: int
    prompt: str
    response: str
    answerable: bool = True
    context: str = ""


def instruction_tasks(n: int, *, split: str = "train", seed: int = 0) -> list[Instruction]:
    """``n`` instructions, the four tasks in turn, each in a random phrasing of ``split``.

    Args:
        n: how many.
        split: ``"train"`` (all phrasings but the last of each task) or ``"test"`` (only the
            last, held-out phrasing).
        seed: the same ``(n, split, seed)`` gives the same list; the two splits of one seed
            use different biographies.

    Raises:
        ValueError: ``n`` is not an int >= 0, or ``split`` is not ``"train"`` or ``"test"``.
        ImportError: ``num2words`` or ``faker`` is missing.
    """
    if not is_int(n) or n < 0:
        raise ValueError(f"n must be an int >= 0, but got {n!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', but got {split!r}")
    if not is_int(seed):
        raise TypeError(f"seed must be an int, but got {seed!r}")
    rng = random.Random(2 * seed + (split == "test"))
    words_of = [src for src, _ in number_pairs(range(100), tgt_lang="en")]
    # the tasks take turns, so this many of the n instructions are questions
    n_ask = len(range(INSTRUCTION_TASKS.index("ask"), n, len(INSTRUCTION_TASKS)))
    questions = [
        q
        for bio in make_biographies(
            max(n_ask, 1),
            seed=rng.randrange(2**31),
            min_people=1,
            max_people=2,
            questions_per_person=2,
        )
        for q in bio.questions
    ]
    rng.shuffle(questions)
    out = []
    for i in range(n):
        task = INSTRUCTION_TASKS[i % len(INSTRUCTION_TASKS)]
        phrasings = INSTRUCTION_TEMPLATES[task]
        template = len(phrasings) - 1 if split == "test" else rng.randrange(len(phrasings) - 1)
        answerable, context = True, ""
        if task in ("spell", "digits"):
            number = rng.randrange(100)
            words = words_of[number]
            fields = {"number": number, "words": words}
            response = words if task == "spell" else str(number)
        elif task == "reverse":
            items = rng.sample(_WORDS, rng.randint(3, 4))
            fields = {"items": ", ".join(items)}
            response = ", ".join(reversed(items))
        else:
            q = questions[(i // len(INSTRUCTION_TASKS)) % len(questions)]
            fields = {"context": q.context, "question": q.question}
            answerable, context = q.is_answerable, q.context
            response = q.answer if answerable else REFUSAL
        prompt = phrasings[template].format(**fields)
        out.append(Instruction(task, template, prompt, response, answerable, context))
    return out
