"""The intent classifier: a linear model trained from the labelled corpus (package data).

:func:`default_classifier` loads it at first use from the file shipped with the package
(``stored.py``: a few hundredths of a second), or — when that file is missing or stale, i.e.
built from another corpus or other rules — trains it from the shipped corpus (under 2 s of CPU),
and keeps it for the life of the process; nothing happens at import time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Final

from eki_adapters.understanding import stored
from eki_adapters.understanding.corpus import Utterance, held_out, load_corpus, split
from eki_adapters.understanding.linear import LinearIntentModel, features, train
from eki_domain.ports.understanding import IntentScore

__all__ = [
    "LazyClassifier",
    "LinearIntentModel",
    "Utterance",
    "cached_model",
    "default_classifier",
    "features",
    "held_out",
    "load_corpus",
    "split",
    "train",
    "train_on_training_split",
    "trained_model",
]


def train_on_training_split() -> LinearIntentModel:
    """The model trained on the corpus minus its held-out fifth (what ``eki intents eval``
    measures)."""
    training, _ = split(load_corpus())
    return train((item.text, item.intent) for item in training)


class _Trained:
    """The production model of this process, trained once (by whichever thread asks first)."""

    lock = threading.Lock()
    model: LinearIntentModel | None = None


def trained_model(pause: Callable[[], None] | None = None) -> LinearIntentModel:
    """The production model, trained on the whole corpus: the shipped file's, or trained here
    when the file is stale (``pause``: see :func:`~eki_adapters.understanding.linear.train`);
    once per process."""
    with _Trained.lock:
        if _Trained.model is None:
            _Trained.model = stored.load_shipped() or train(
                ((item.text, item.intent) for item in load_corpus()), pause=pause)
        return _Trained.model


#: A background warm-up sleeps this long every few examples: the event loop's thread gets
#: the interpreter at once when it needs it (training takes longer, off to the side).
BREATHE_SECONDS: Final = 0.01


def _breathe() -> None:
    time.sleep(BREATHE_SECONDS)


def _warm_model() -> LinearIntentModel:
    return trained_model(pause=_breathe)


def cached_model() -> LinearIntentModel | None:
    """The production model if this process has trained it already (never trains)."""
    return _Trained.model


class LazyClassifier:
    """An :class:`~eki_domain.ports.understanding.IntentClassifier` that is cheap to construct.

    Its model is loaded (or, when the shipped file is stale, trained) either at the first
    message, blocking it, or —
    after :meth:`start_warming`, which the application does at start — in a background
    thread, off the event loop: a message that arrives before the model is ready gets no
    ranking (``[]``), so :func:`~eki_domain.services.understanding.understand` uses the
    rules alone for it.
    """

    def __init__(
        self,
        factory: Callable[[], LinearIntentModel] = trained_model,
        cached: Callable[[], LinearIntentModel | None] = cached_model,
        warm_factory: Callable[[], LinearIntentModel] | None = None,
    ) -> None:
        self._factory = factory
        self._warm_factory = warm_factory or factory
        self._cached = cached
        self._model: LinearIntentModel | None = None
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> LinearIntentModel:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._factory()
        return self._model

    def start_warming(self) -> None:
        """Train the model in a daemon thread (at once when this process already has it)."""
        if self._model is not None or self._warming is not None:
            return
        self._model = self._cached()
        if self._model is None:
            self._warming = threading.Thread(
                target=self._warm, name="eki-intent-model", daemon=True)
            self._warming.start()

    def _warm(self) -> None:
        with self._lock:
            if self._model is None:
                self._model = self._warm_factory()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until a warm-up started by :meth:`start_warming` ends (tests, tools)."""
        if self._warming is not None:
            self._warming.join(timeout)
        return self.ready

    def classify(self, text: str) -> list[IntentScore]:
        if self._model is None and self._warming is not None:
            return []  # still training in the background: the rules answer this one
        return self.model.classify(text)


def default_classifier(*, warm: bool = False) -> LazyClassifier:
    """The classifier EKI runs with, trained from the shipped corpus: at the first message,
    or (``warm``) at once in a background thread."""
    classifier = LazyClassifier(warm_factory=_warm_model)
    if warm:
        classifier.start_warming()
    return classifier
