"""The intent classifier: a linear model trained from the labelled corpus (package data).

:func:`default_classifier` trains it from the shipped corpus at first use (well under 2 s)
and keeps it for the life of the process; nothing happens at import time.
"""

from __future__ import annotations

import functools

from eki_adapters.understanding.corpus import Utterance, held_out, load_corpus, split
from eki_adapters.understanding.linear import LinearIntentModel, features, train

__all__ = [
    "LinearIntentModel",
    "Utterance",
    "default_classifier",
    "features",
    "held_out",
    "load_corpus",
    "split",
    "train",
    "train_on_training_split",
]


def train_on_training_split() -> LinearIntentModel:
    """The model trained on the corpus minus its held-out fifth (what ``eki intents eval``
    measures)."""
    training, _ = split(load_corpus())
    return train((item.text, item.intent) for item in training)


@functools.cache
def default_classifier() -> LinearIntentModel:
    """The production model: trained on the whole corpus, once per process."""
    return train((item.text, item.intent) for item in load_corpus())
