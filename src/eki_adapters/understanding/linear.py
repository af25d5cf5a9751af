"""A small intent model in pure Python: a linear support-vector machine (one against the
rest, squared hinge loss) over character n-grams and words, mixed with a multinomial naive
Bayes over the same features.

Why not scikit-learn: the corpus is ~6,000 short messages and 13 intents. This model trains
here in about 1.5 s of CPU (and is shipped trained, see ``stored.py``), classifies one message in
~0.1 ms (scikit-learn's per-call overhead of building a sparse matrix is larger than that), and
keeps EKI free of numpy/scipy/scikit-learn (~40 MB installed). scikit-learn's ``LinearSVC``
on the same features gives the same cross-validated accuracy (93.4% against 93.3%).

Features of a message:

* its words after the rules' normalisation (lower case, accents and punctuation removed,
  repeated letters squeezed — "holaaa" → "hola" —, abbreviations expanded: "q" → "que",
  "ntas" → "notas", typos of keywords corrected);
* word pairs ("voy ganando"), pairs of word classes ("como voy <subject>"), the first word;
* character 3- and 4-grams of each word padded with spaces (typos still share most of them:
  "asistensia" ~ "asistencia");
* the word classes (``WORD_CLASSES``), the rules' keyword hits and the rules' own reading;
* emoji and other symbols, one feature each; a length bucket (1, 2, 3-5, 6+ words).

Scores: :data:`TEMPERATURE` × the machine's margins (features counted, the vector scaled to
length 1) plus :data:`NB_WEIGHT` × the naive Bayes' mean log-likelihood per feature (Laplace
smoothing :data:`NB_ALPHA`); a softmax of the sum. Every constant here was chosen by 5-fold
cross-validation on the training split (``evaluation.cross_validate``), never on the held-out
fifth.

Training: dual coordinate descent (the method of LIBLINEAR, Hsieh et al. 2008) for each intent
against the rest, with the bias as a feature of value 1, at most :data:`PASSES` passes over
the messages in an order shuffled with a fixed seed (the same corpus always gives the same
model), visiting for each message the intents still active for it, and shrinking: from the
second pass on, a (message, intent) pair whose margin is met with no weight on it is not
visited again. A pair whose dual gradient is within :data:`TOLERANCE` of zero is left as it is
(most updates of the later passes are tiny corrections), and training stops early when a pass
changes nothing. The naive Bayes is counting.
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, Final

from eki_domain.model.intent import Intent
from eki_domain.ports.understanding import IntentScore
from eki_domain.services.intents import rule_decision, rule_hits, rule_keys
from eki_domain.services.wordlists import WORD_CLASSES

__all__ = ["LinearIntentModel", "features", "train"]

#: The machine's regularisation (LIBLINEAR's C) and the most passes of coordinate descent.
C: Final = 3.0
PASSES: Final = 10
#: A (message, intent) pair whose dual gradient is at most this (in absolute value) is left
#: as it is for the pass: most updates of the later passes are tiny corrections. Chosen by
#: cross-validation with PASSES (0.1 and 10: as accurate as 0 and 15, 40% less CPU).
TOLERANCE: Final = 0.1
#: Shrinking starts at this pass (0: the first; cross-validated 0.2 points worse).
SHRINK_FROM: Final = 1
#: The margins are multiplied by this before the softmax.
TEMPERATURE: Final = 5.0
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
#: How many messages training reads, or visits in a pass of coordinate descent, between two
#: calls of its ``pause`` (when given).
PAUSE_EVERY: Final = 32
#: Pairs of adjacent words with each word replaced by its class ("como voy <subject>").
CLASS_PAIRS: Final = True
#: How many distinct words' own features are kept worked out (see ``_word_features``).
WORD_CACHE: Final = 16_384


@functools.lru_cache(maxsize=WORD_CACHE)
def _word_features(word: str) -> tuple[str, ...]:
    """A word's own features: the word, its class and its character n-grams (the same word
    comes back in most messages, so they are worked out once)."""
    out = ["w:" + word]
    word_class = WORD_CLASSES.get(word)
    if word_class is not None:
        out.append("k:" + word_class)
    padded = f" {word} "
    for n in NGRAMS:
        out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return tuple(out)


def features(text: str) -> list[str]:
    """The sparse features of a message (duplicates kept: they count twice)."""
    words, rest = _parts(text)
    out: list[str] = []
    for word in words:
        out.extend(_word_features(word))
    out.extend(rest)
    return out


def _parts(text: str) -> tuple[tuple[str, ...], list[str]]:
    """(the message's words, its features other than the words' own): :func:`features`
    in two parts, so that training looks each word's features up once."""
    text = text[:MAX_CHARS]
    words = rule_keys(text)
    out = [f"b:{first} {second}" for first, second in itertools.pairwise(words)]
    if CLASS_PAIRS:
        classes = [WORD_CLASSES.get(word, word) for word in words]
        out.extend([f"c:{first} {second}" for first, second in itertools.pairwise(classes)])
    if words:
        out.append("f:" + words[0])
    for ch in text:
        if not ch.isalnum() and not ch.isspace() and unicodedata.category(ch)[0] == "S":
            out.append("s:" + ch)
    ruled = rule_decision(text)[0]
    if ruled is not Intent.DESCONOCIDO:  # the rules' default is no evidence
        out.extend(("r:" + ruled.value,) * RULE_WEIGHT)
    out.extend(["h:" + hit for hit in rule_hits(text)])
    size = len(words)
    out.append("n:" + ("0" if size == 0 else "1" if size == 1 else "2" if size == 2 else
                       "3" if size <= 5 else "6"))  # fmt: skip
    return words, out


def _softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(score - top) for score in scores]
    total = sum(exps)
    return [value / total for value in exps]


def _scale(items: Sequence[int] | Sequence[str]) -> float:
    """1 / the length of the vector of feature counts (the vector is scaled to length 1)."""
    if len(set(items)) == len(items):  # the common case: no feature twice
        return 1.0 / math.sqrt(len(items))
    return 1.0 / math.sqrt(sum(n * n for n in Counter(items).values()))


class LinearIntentModel:
    """An :class:`~eki_domain.ports.understanding.IntentClassifier`: per feature, the machine's
    weight for each intent, then the naive Bayes' log-likelihood for each (packed doubles)."""

    def __init__(
        self, labels: Sequence[Intent], vocabulary: dict[str, int],
        svm: Sequence[array[float]], bias: Sequence[float],
        bayes: Sequence[array[float]] = (),
        *, temperature: float = TEMPERATURE, nb_weight: float = NB_WEIGHT,
    ) -> None:
        """``svm``/``bayes``: one row per label, indexed by the ``vocabulary``'s ids."""
        if len(svm) != len(labels) or (bayes and len(bayes) != len(labels)):
            raise ValueError("one row of weights per label")
        self._labels = tuple(labels)
        self._bias = tuple(bias)
        self._temperature = temperature
        self._with_bayes = bool(bayes)
        self._nb_weight = nb_weight if bayes else 0.0
        columns = [*svm, *bayes]
        names = sorted(vocabulary, key=vocabulary.__getitem__)
        # One packed row per feature: a message's scores are the sums of its features' rows.
        self._rows = {name: array("d", column)
                      for name, column in zip(names, zip(*columns, strict=True), strict=True)}

    @property
    def labels(self) -> tuple[Intent, ...]:
        return self._labels

    @property
    def feature_count(self) -> int:
        return len(self._rows)

    @property
    def bias(self) -> tuple[float, ...]:
        return self._bias

    @property
    def temperature(self) -> float:
        return self._temperature

    @property
    def nb_weight(self) -> float:
        return self._nb_weight

    def columns(self) -> tuple[dict[str, int], list[array[float]], list[array[float]]]:
        """(vocabulary, the machine's rows, the naive Bayes' rows): the constructor's
        arguments (to store the model)."""
        names = list(self._rows)
        size = len(self._labels)
        columns = [array("d", column) for column in zip(*self._rows.values(), strict=True)]
        vocabulary = {name: i for i, name in enumerate(names)}
        return vocabulary, columns[:size], columns[size:] if self._with_bayes else []

    def scores(self, text: str) -> list[float]:
        """The probability of each label, in :attr:`labels` order."""
        rows = self._rows
        feats = [f for f in features(text) if f in rows]
        heat = self._temperature
        if not feats:
            return _softmax([heat * b for b in self._bias])
        scale = heat * _scale(feats)
        raw = [sum(column) for column in zip(*map(rows.__getitem__, feats), strict=True)]
        total = [heat * b + scale * r for b, r in zip(self._bias, raw, strict=False)]
        if self._nb_weight:
            mean = self._nb_weight / len(feats)
            bayes = [mean * r for r in raw[len(total) :]]
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
    rows: Sequence[tuple[list[int], float, int]], size: int, features_count: int, alpha: float
) -> list[array[float]]:
    """Multinomial naive Bayes: log P(feature | intent), Laplace-smoothed with ``alpha``."""
    counts = [[0] * features_count for _ in range(size)]
    totals = [0] * size
    for ids, _, gold in rows:
        row = counts[gold]
        for i in ids:
            row[i] += 1
        totals[gold] += len(ids)
    out: list[array[float]] = []
    for row, total in zip(counts, totals, strict=True):
        denominator = math.log(total + alpha * features_count)
        logs: dict[int, float] = {}  # most counts are 0 or small: one log per distinct count
        for n in set(row):
            logs[n] = math.log(n + alpha) - denominator
        out.append(array("d", map(logs.__getitem__, row)))
    return out


def _gatherer(ids: Sequence[int]) -> Callable[[list[float]], Sequence[float]]:
    """A function that picks ``ids`` out of a row, as a tuple."""
    if len(ids) == 1:
        only = ids[0]
        return lambda row: (row[only],)
    return itemgetter(*ids)


def _fit(
    rows: Sequence[tuple[list[int], float, int]], size: int, features_count: int, passes: int,
    pause: Callable[[], None] | None = None,
) -> tuple[list[array[float]], list[float]]:
    """The machine: dual coordinate descent, one intent against the rest (see the module's
    docstring). ``rows``: (feature ids with repeats, 1 / length, gold label index).

    The intents' problems are independent, so a pass visits the messages in a shuffled order
    and, for each, the intents still active for it: a message's ids are looked up once for
    all of them, and only the messages are shuffled."""
    bias = [0.0] * size
    diagonal = 1.0 / (2.0 * C)  # the squared hinge's term of the dual
    curvature = 2.0 + diagonal  # |x|² = 1, plus the bias feature's 1
    # Per message: [the intents still visited for it, its ids, 1 / length, gold label, a
    # C-level gathering of its weights from a row (a third faster than map()), its duals].
    active: list[list[Any]] = [
        [list(range(size)), ids, scale, gold, _gatherer(ids), [0.0] * size]
        for ids, scale, gold in rows
    ]
    shuffler = random.Random(SEED)  # noqa: S311 - a reproducible shuffle, not a secret
    tolerance, shrink_from = TOLERANCE, SHRINK_FROM
    # Until shrinking starts every intent is visited for every message: the weights are then
    # kept one row per feature (``wide``), and a message's margins for all the intents are
    # summed in one go; afterwards one row per intent (``weights``), gathered per intent.
    wide: list[list[float]] | None = [[0.0] * size for _ in range(features_count)]
    weights: list[list[float]] = []
    for number in range(passes):
        if wide is not None and number > shrink_from:
            weights = [list(column) for column in zip(*wide, strict=True)]
            wide = None
        shuffler.shuffle(active)
        updated = False
        chunk = PAUSE_EVERY if pause is not None else max(len(active), 1)
        for start in range(0, len(active), chunk):
            if pause is not None:
                pause()
            for entry in active[start : start + chunk]:
                intents, ids, scale, gold, picked, duals = entry
                if wide is not None:  # the same sums, in the same order, as ``picked``'s
                    sums = list(map(sum, zip(*map(wide.__getitem__, ids), strict=True)))
                kept: list[int] = []
                for k in intents:
                    old = duals[k]
                    if wide is not None:
                        margin = scale * sums[k] + bias[k]
                    else:
                        margin = scale * sum(picked(weights[k])) + bias[k]
                    if k == gold:
                        gradient = margin - 1.0 + diagonal * old
                    else:
                        gradient = -margin - 1.0 + diagonal * old
                    if old == 0.0 and gradient >= 0.0:
                        if number >= shrink_from and gradient > 0.0:
                            continue  # shrunk: its margin is met and it carries no weight
                        kept.append(k)
                        continue
                    kept.append(k)
                    if -tolerance <= gradient <= tolerance:
                        continue  # close enough: the update would be too small to matter
                    new = old - gradient / curvature
                    if new < 0.0:
                        new = 0.0
                    delta = new - old if k == gold else old - new
                    if delta:
                        updated = True
                        duals[k] = new
                        bias[k] += delta
                        step = delta * scale
                        if wide is not None:
                            for i in ids:
                                wide[i][k] += step
                        else:
                            row = weights[k]
                            for i in ids:
                                row[i] += step
                entry[0] = kept
        active = [entry for entry in active if entry[0]]
        if not updated:
            break  # every pair is within the tolerance: more passes would change nothing
    if wide is not None:
        weights = [list(column) for column in zip(*wide, strict=True)]
    return [array("d", row) for row in weights], bias


def train(
    examples: Iterable[tuple[str, Intent]], *, passes: int | None = None,
    pause: Callable[[], None] | None = None,
) -> LinearIntentModel:
    """Fit the model on (text, intent) pairs. Deterministic for a given input order.

    ``pause`` (a background warm-up's): called every :data:`PAUSE_EVERY` examples, e.g. to
    sleep a moment and leave the interpreter to the event loop's thread."""
    data: list[tuple[tuple[str, ...], list[str], Intent]] = []
    for number, (text, intent) in enumerate(examples):
        if pause is not None and number % PAUSE_EVERY == 0:
            pause()
        data.append((*_parts(text), intent))
    if not data:
        raise ValueError("nothing to train on")
    labels = sorted({intent for _, _, intent in data}, key=lambda intent: intent.value)
    index = {label: i for i, label in enumerate(labels)}
    vocabulary: dict[str, int] = {}
    number_of = vocabulary.setdefault
    word_ids: dict[str, list[int]] = {}  # a word's own features' ids, numbered at first sight
    rows: list[tuple[list[int], float, int]] = []
    for words, rest, intent in data:
        ids: list[int] = []
        for word in words:
            known = word_ids.get(word)
            if known is None:
                known = word_ids[word] = [number_of(f, len(vocabulary))
                                          for f in _word_features(word)]  # fmt: skip
            ids.extend(known)
        ids.extend([number_of(f, len(vocabulary)) for f in rest])
        if ids:
            rows.append((ids, _scale(ids), index[intent]))
    size, count = len(labels), len(vocabulary)
    svm, bias = _fit(rows, size, count, PASSES if passes is None else passes, pause)
    bayes = _naive_bayes(rows, size, count, NB_ALPHA) if NB_WEIGHT else []
    return LinearIntentModel(labels, vocabulary, svm, bias, bayes,
                             temperature=TEMPERATURE, nb_weight=NB_WEIGHT)
