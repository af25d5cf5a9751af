"""The intent classifier: a linear model trained from the labelled corpus (package data).

:func:`default_classifier` trains it from the shipped corpus at first use (well under 2 s)
and keeps it for the life of the process; nothing happens at import time.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

from eki_adapters.understanding.corpus import Utterance, held_out, load_corpus, split
from eki_adapters.understanding.linear import LinearIntentModel, features, train
from eki_domain.ports.understanding import IntentScore

__all__ = [
    "LazyClassifier",
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
def trained_model() -> LinearIntentModel:
    """The production model: trained on the whole corpus, once per process."""
    return train((item.text, item.intent) for item in load_corpus())


class LazyClassifier:
    """An :class:`~eki_domain.ports.understanding.IntentClassifier` that trains its model at
    the first message (not when the application is built): cheap to construct."""

    def __init__(self, factory: Callable[[], LinearIntentModel] = trained_model) -> None:
        self._factory = factory
        self._model: LinearIntentModel | None = None
        self._lock = threading.Lock()

    @property
    def model(self) -> LinearIntentModel:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._factory()
        return self._model

    def classify(self, text: str) -> list[IntentScore]:
        return self.model.classify(text)


def default_classifier() -> LazyClassifier:
    """The classifier EKI runs with: trained from the shipped corpus at first use."""
    return LazyClassifier()
