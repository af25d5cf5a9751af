"""A small intent model in pure Python: a multinomial logistic regression over character
n-grams and words, mixed with a multinomial naive Bayes over the same features.

Why not scikit-learn: the corpus is ~5,000 short messages and 13 intents. This model trains
here in under 2 s, classifies one message in ~0.1 ms (scikit-learn's per-call overhead of
building a sparse matrix is larger than that), and keeps EKI free of numpy/scipy/scikit-learn
(~40 MB installed).

Features of a message:

* its words after the rules' normalisation (lower case, accents and punctuation removed,
  repeated letters squeezed — "holaaa" → "hola" —, abbreviations expanded: "q" → "que",
  "ntas" → "notas", typos of keywords corrected);
* word pairs ("voy ganando"), pairs of word classes ("como voy <subject>"), the first word;
* character 3- and 4-grams of each word padded with spaces (typos still share most of them:
  "asistensia" ~ "asistencia");
* the word classes (``WORD_CLASSES``), the rules' keyword hits and the rules' own reading;
* emoji and other symbols, one feature each; a length bucket (1, 2, 3-5, 6+ words).

Scores: the regression's logits (features weighted 1/√n, n = how many the message has) plus
:data:`NB_WEIGHT` × the naive Bayes' mean log-likelihood per feature (Laplace smoothing
:data:`NB_ALPHA`); a softmax of the sum. Every constant here was chosen by 5-fold
cross-validation on the training split (``evaluation.cross_validate``), never on the held-out
fifth.

Training: SGD on the cross-entropy with a decaying learning rate, a fixed number of epochs
and a fixed shuffling seed (the same corpus always gives the same model); examples the model
already gets right with probability ≥ :data:`CONFIDENT` are skipped (a margin method: it
regularises, and it is fast). The naive Bayes is counting.
"""

from __future__ import annotations

import itertools
import math
import random
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import add
from typing import Final

from eki_domain.model.intent import Intent
from eki_domain.ports.understanding import IntentScore
from eki_domain.services.intents import rule_decision, rule_hits, rule_keys
from eki_domain.services.wordlists import WORD_CLASSES

__all__ = ["LinearIntentModel", "features", "train"]

EPOCHS: Final = 3
LEARNING_RATE: Final = 4.0
DECAY: Final = 0.7
CONFIDENT: Final = 0.9
SEED: Final = 20
#: The rules' reading of the message is a feature too, counted this many times.
RULE_WEIGHT: Final = 1
#: Only the first characters of a message are read (the conversation cuts at 1,000 anyway).
MAX_CHARS: Final = 400
#: The lengths of the character n-grams taken inside each word (padded with spaces).
NGRAMS: Final = (3, 4)
#: A multinomial naive Bayes over the same features, mixed into the scores with this weight
#: (0: off) and Laplace smoothing NB_ALPHA.
NB_WEIGHT: Final = 1.0
NB_ALPHA: Final = 0.03
#: How many examples training handles between two calls of its ``pause`` (when given).
PAUSE_EVERY: Final = 32
#: Pairs of adjacent words with each word replaced by its class ("como voy <subject>").
CLASS_PAIRS: Final = True


def features(text: str) -> list[str]:
    """The sparse features of a message (duplicates kept: they count twice)."""
    text = text[:MAX_CHARS]
    words = list(rule_keys(text))
    out: list[str] = []
    for word in words:
        out.append("w:" + word)
        word_class = WORD_CLASSES.get(word)
        if word_class is not None:
            out.append("k:" + word_class)
        padded = f" {word} "
        for n in NGRAMS:
            for i in range(len(padded) - n + 1):
                out.append(padded[i : i + n])
    for first, second in itertools.pairwise(words):
        out.append(f"b:{first} {second}")
    if CLASS_PAIRS:
        classes = [WORD_CLASSES.get(word, word) for word in words]
        for first, second in itertools.pairwise(classes):
            out.append(f"c:{first} {second}")
    if words:
        out.append("f:" + words[0])
    for ch in text:
        if not ch.isalnum() and not ch.isspace() and unicodedata.category(ch)[0] == "S":
            out.append("s:" + ch)
    ruled = rule_decision(text)[0]
    if ruled is not Intent.DESCONOCIDO:  # the rules' default is no evidence
        out.extend(("r:" + ruled.value,) * RULE_WEIGHT)
    out.extend("h:" + hit for hit in rule_hits(text))
    size = len(words)
    out.append("n:" + ("0" if size == 0 else "1" if size == 1 else "2" if size == 2 else
                       "3" if size <= 5 else "6"))  # fmt: skip
    return out


def _softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


class LinearIntentModel:
    """An :class:`~eki_domain.ports.understanding.IntentClassifier` (weights per feature)."""

    def __init__(
        self, labels: Sequence[Intent], weights: Mapping[str, Sequence[float]],
        bias: list[float],
        *, nb_weight: float = 0.0,
    ) -> None:
        self._labels = tuple(labels)
        self._weights = weights
        self._bias = bias
        self._nb_weight = nb_weight

    @property
    def labels(self) -> tuple[Intent, ...]:
        return self._labels

    @property
    def feature_count(self) -> int:
        return len(self._weights)

    def scores(self, text: str) -> list[float]:
        """The probability of each label, in :attr:`labels` order."""
        weights = self._weights
        feats = [weights[f] for f in features(text) if f in weights]
        total = list(self._bias)
        if feats:
            size = len(total)
            scale = 1.0 / math.sqrt(len(feats))
            raw = [sum(column) for column in zip(*feats, strict=True)]
            total = [b + scale * r for b, r in zip(total, raw[:size], strict=True)]
            if self._nb_weight:
                mean = self._nb_weight / len(feats)
                bayes = [mean * r for r in raw[size:]]
                top = max(bayes)
                total = [t + b - top for t, b in zip(total, bayes, strict=True)]
        return _softmax(total)

    def classify(self, text: str) -> list[IntentScore]:
        probabilities = self.scores(text)
        ranked = sorted(
            zip(self._labels, probabilities, strict=True), key=lambda item: -item[1]
        )
        return [IntentScore(label, probability) for label, probability in ranked]


def _naive_bayes(
    data: Sequence[tuple[list[str], int]], size: int, alpha: float
) -> dict[str, list[float]]:
    """Multinomial naive Bayes: log P(feature | intent), Laplace-smoothed with ``alpha``."""
    counts: dict[str, list[float]] = {}
    totals = [0.0] * size
    for feats, gold in data:
        for feat in feats:
            row = counts.get(feat)
            if row is None:
                row = counts[feat] = [0.0] * size
            row[gold] += 1.0
        totals[gold] += len(feats)
    vocabulary = len(counts)
    denominators = [math.log(total + alpha * vocabulary) for total in totals]
    return {
        feat: [math.log(n + alpha) - d for n, d in zip(row, denominators, strict=True)]
        for feat, row in counts.items()
    }


def _fit(
    data: Sequence[tuple[list[str], Intent]], index: dict[Intent, int], size: int, epochs: int,
    pause: Callable[[], None] | None = None,
) -> tuple[dict[str, list[float]], list[float]]:
    """The logistic regression: SGD on the cross-entropy (see the module's docstring)."""
    weights: dict[str, list[float]] = {}
    for feats, _ in data:
        for feat in feats:
            if feat not in weights:
                weights[feat] = [0.0] * size
    bias = [0.0] * size
    rows = [([weights[f] for f in feats], index[intent]) for feats, intent in data]
    order = list(range(len(rows)))
    shuffler = random.Random(SEED)  # noqa: S311 - a reproducible shuffle, not a secret
    rate = LEARNING_RATE
    for _ in range(epochs):
        shuffler.shuffle(order)
        for number, position in enumerate(order):
            if pause is not None and number % PAUSE_EVERY == 0:
                pause()
            vectors, gold = rows[position]
            if not vectors:
                continue  # nothing to learn from
            scale = 1.0 / math.sqrt(len(vectors))
            raw = [sum(column) for column in zip(*vectors, strict=True)]
            probabilities = _softmax([b + scale * r for b, r in zip(bias, raw, strict=True)])
            if probabilities[gold] >= CONFIDENT:
                continue
            gradient = list(probabilities)
            gradient[gold] -= 1.0
            step = [-rate * scale * g for g in gradient]
            for row in vectors:
                row[:] = map(add, row, step)
            for i in range(size):
                bias[i] -= rate * 0.1 * gradient[i]
        rate *= DECAY
    return weights, bias


def train(
    examples: Iterable[tuple[str, Intent]], *, epochs: int = EPOCHS,
    pause: Callable[[], None] | None = None,
) -> LinearIntentModel:
    """Fit the model on (text, intent) pairs. Deterministic for a given input order.

    ``pause`` (a background warm-up's): called every :data:`PAUSE_EVERY` examples, e.g. to
    sleep a moment and leave the interpreter to the event loop's thread."""
    data: list[tuple[list[str], Intent]] = []
    for number, (text, intent) in enumerate(examples):
        if pause is not None and number % PAUSE_EVERY == 0:
            pause()
        data.append((features(text), intent))
    if not data:
        raise ValueError("nothing to train on")
    labels = sorted({intent for _, intent in data}, key=lambda intent: intent.value)
    index = {label: i for i, label in enumerate(labels)}
    size = len(labels)
    weights, bias = _fit(data, index, size, epochs, pause)
    if NB_WEIGHT:
        bayes = _naive_bayes([(feats, index[intent]) for feats, intent in data], size, NB_ALPHA)
        weights = {feat: row + bayes[feat] for feat, row in weights.items()}
    # Packed doubles: a third of the memory of lists of float objects, read as fast.
    packed = {feat: array("d", row) for feat, row in weights.items()}
    return LinearIntentModel(labels, packed, bias, nb_weight=NB_WEIGHT)
