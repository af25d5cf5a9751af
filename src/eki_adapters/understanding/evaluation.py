"""Measuring understanding: accuracy, per-intent precision/recall and the confusion matrix.

What is measured is the whole pipeline EKI runs (:func:`eki_domain.services.understanding.
understand`: the rules' commands, then the classifier, then the rules' reading or a
clarifying question). Strict: a clarifying question counts as a miss (``"clarify"`` in the
confusion matrix), even when the right intent is one of the two offered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

import attrs

from eki_adapters.understanding.corpus import Utterance
from eki_adapters.understanding.linear import train
from eki_domain.model.intent import Intent
from eki_domain.ports.understanding import IntentClassifier
from eki_domain.services.understanding import understand

__all__ = ["Evaluation", "cross_validate", "evaluate"]

CLARIFY: Final = "clarify"


@attrs.frozen
class Evaluation:
    total: int
    correct: int
    #: (expected, predicted) → count; predicted may be "clarify".
    confusion: dict[tuple[str, str], int]
    language_correct: int
    clarified: int
    clarified_with_answer: int  # the right intent was one of the two offered
    misses: tuple[tuple[str, str, str], ...]  # (text, expected, predicted)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def language_accuracy(self) -> float:
        return self.language_correct / self.total if self.total else 0.0

    def labels(self) -> list[str]:
        seen = {label for pair in self.confusion for label in pair}
        ordered = [intent.value for intent in Intent if intent.value in seen]
        return ordered + ([CLARIFY] if CLARIFY in seen else [])

    def per_intent(self) -> dict[str, dict[str, float | int]]:
        """precision, recall and support (held-out utterances) of each intent."""
        out: dict[str, dict[str, float | int]] = {}
        for label in self.labels():
            if label == CLARIFY:
                continue
            hit = self.confusion.get((label, label), 0)
            predicted = sum(n for (_, p), n in self.confusion.items() if p == label)
            support = sum(n for (e, _), n in self.confusion.items() if e == label)
            out[label] = {
                "precision": hit / predicted if predicted else 0.0,
                "recall": hit / support if support else 0.0,
                "support": support,
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        labels = self.labels()
        return {
            "total": self.total,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 4),
            "language_accuracy": round(self.language_accuracy, 4),
            "clarified": self.clarified,
            "clarified_with_answer": self.clarified_with_answer,
            "per_intent": {
                label: {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
                for label, row in self.per_intent().items()
            },
            "labels": labels,
            "confusion": [
                [self.confusion.get((expected, predicted), 0) for predicted in labels]
                for expected in labels
            ],
            "misses": [
                {"text": text, "expected": expected, "predicted": predicted}
                for text, expected, predicted in self.misses
            ],
        }


def evaluate(classifier: IntentClassifier | None, utterances: Sequence[Utterance]) -> Evaluation:
    confusion: Counter[tuple[str, str]] = Counter()
    correct = language = clarified = clarified_right = 0
    misses: list[tuple[str, str, str]] = []
    for item in utterances:
        result = understand(item.text, None, classifier)
        predicted = CLARIFY if result.clarify else result.intent.value
        confusion[(item.intent.value, predicted)] += 1
        if predicted == item.intent.value:
            correct += 1
        else:
            misses.append((item.text, item.intent.value, predicted))
        if result.clarify:
            clarified += 1
            clarified_right += item.intent in result.options
        language += result.language == item.language
    return Evaluation(
        total=len(utterances),
        correct=correct,
        confusion=dict(confusion),
        language_correct=language,
        clarified=clarified,
        clarified_with_answer=clarified_right,
        misses=tuple(misses),
    )


def cross_validate(
    utterances: Sequence[Utterance], folds: int = 5, *, always: Sequence[Utterance] = ()
) -> Evaluation:
    """K-fold evaluation inside the training split (for tuning without the held-out part);
    ``always``: utterances added to every fold's training part, never tested."""
    parts: list[Evaluation] = []
    for fold in range(folds):
        train_part = [u for i, u in enumerate(utterances) if i % folds != fold]
        train_part.extend(always)
        test_part = [u for i, u in enumerate(utterances) if i % folds == fold]
        model = train((u.text, u.intent) for u in train_part)
        parts.append(evaluate(model, test_part))
    confusion: Counter[tuple[str, str]] = Counter()
    for part in parts:
        confusion.update(part.confusion)
    return Evaluation(
        total=sum(p.total for p in parts),
        correct=sum(p.correct for p in parts),
        confusion=dict(confusion),
        language_correct=sum(p.language_correct for p in parts),
        clarified=sum(p.clarified for p in parts),
        clarified_with_answer=sum(p.clarified_with_answer for p in parts),
        misses=tuple(m for p in parts for m in p.misses),
    )
