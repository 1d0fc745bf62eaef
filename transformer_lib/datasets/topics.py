"""Generated sentences about four topics, for a task where pre-training pays (chapter 6).

Each sentence names two to four things from one topic (the sea, the kitchen, music, war) in a
frame that carries no topic of its own::

    "he found a compass by the reef"                      -> sea
    "there was a ladle , a whisk and a kettle"           -> kitchen

Every topic has forty words, and its label is carried by those words alone. With a handful of
labelled sentences, most topic words never occur in a labelled example, so a classifier that
learns only from the labels has nothing to go on for them. Unlabelled sentences are cheap and
plentiful: in them, words of one topic occur together, and a language model trained on them can
learn which words belong together before it sees a single label (the idea behind Dai & Le 2015
and ULMFiT, Howard & Ruder 2018).
"""

from __future__ import annotations

import random
from types import MappingProxyType
from typing import NamedTuple

from ..utils._checks import is_int

__all__ = ["TOPICS", "TOPIC_WORDS", "TopicSentence", "topic_sentences"]

TOPICS = ("sea", "kitchen", "music", "war")

# read-only, so that no notebook can change the task for the others
TOPIC_WORDS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "sea": (
        "ship", "sail", "anchor", "harbour", "wave", "tide", "captain", "sailor", "deck", "mast",
        "oar", "shore", "island", "reef", "whale", "dolphin", "gull", "storm", "compass",
        "lighthouse", "port", "crew", "cargo", "boat", "canoe", "net", "fisherman", "shell",
        "coral", "current", "voyage", "beach", "dock", "rope", "keel", "hull", "pier", "lagoon",
        "seaweed", "buoy",
    ),
    "kitchen": (
        "oven", "stove", "pan", "pot", "kettle", "knife", "spoon", "fork", "plate", "bowl", "cup",
        "flour", "sugar", "butter", "bread", "soup", "onion", "garlic", "pepper", "salt",
        "recipe", "chef", "apron", "sink", "fridge", "toaster", "ladle", "whisk", "dough", "cake",
        "pie", "cheese", "egg", "rice", "sauce", "napkin", "teapot", "jar", "cupboard", "spice",
    ),
    "music": (
        "guitar", "piano", "violin", "drum", "flute", "trumpet", "song", "melody", "chord",
        "rhythm", "choir", "singer", "band", "concert", "orchestra", "stage", "note", "tune",
        "harp", "cello", "lyric", "album", "microphone", "conductor", "ballad", "chorus", "verse",
        "tempo", "harmony", "saxophone", "banjo", "organ", "anthem", "opera", "pianist",
        "drummer", "guitarist", "rehearsal", "encore", "record",
    ),
    "war": (
        "soldier", "army", "sword", "shield", "battle", "cannon", "rifle", "tank", "general",
        "enemy", "fortress", "siege", "spear", "armour", "helmet", "trench", "bullet",
        "commander", "troop", "regiment", "castle", "archer", "arrow", "bow", "cavalry",
        "invasion", "retreat", "victory", "defeat", "wound", "banner", "camp", "officer",
        "sergeant", "missile", "bomb", "ammunition", "battlefield", "warrior", "knight",
    ),
})  # fmt: skip

# Frames with topic-free words; each {} takes one topic word. They are shared by all topics,
# so only the topic words say which topic a sentence is about.
_FRAMES = (
    "the {} was near the {}",
    "a {} and a {} were there",
    "she saw the {} and the {}",
    "he found a {} by the {}",
    "there was a {} , a {} and a {}",
    "the old {} lay beside the {} and the {}",
    "we talked about the {} , the {} and the {}",
    "nobody forgot the {} or the {}",
    "the {} , the {} , the {} and the {} were new",
    "they left the {} with a {} , a {} and a {}",
)


class TopicSentence(NamedTuple):
    """One generated sentence: ``text`` (lower case, words and punctuation separated by
    spaces), ``label`` (the index of its topic in :data:`TOPICS`) and ``topic`` (its name)."""

    text: str
    label: int
    topic: str


def topic_sentences(n: int, *, seed: int = 0) -> list[TopicSentence]:
    """``n`` sentences, each about one topic drawn uniformly at random.

    A sentence fills one of ten frames with two to four distinct words of its topic. The same
    ``seed`` gives the same sentences; different seeds give independent draws (use one seed
    for unlabelled text and others for labelled and test sets).

    Raises:
        TypeError: ``n`` or ``seed`` is not an int.
        ValueError: ``n`` is negative.
    """
    for name, value in (("n", n), ("seed", seed)):
        if not is_int(value):
            raise TypeError(f"{name} must be an int, but got {type(value).__name__}")
    if n < 0:
        raise ValueError(f"n must be >= 0, but got {n}")
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        label = rng.randrange(len(TOPICS))
        frame = rng.choice(_FRAMES)
        words = rng.sample(TOPIC_WORDS[TOPICS[label]], frame.count("{}"))
        out.append(TopicSentence(frame.format(*words), label, TOPICS[label]))
    return out
