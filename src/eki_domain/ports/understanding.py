"""Understanding: a statistical intent classifier behind a port.

The rule-based level of the assistant asks an :class:`IntentClassifier` what a message most
likely asks for. The rules keep the last word on commands (a button, a menu number, BAJA,
ALTA, a request for a person); the classifier decides the rest
(:mod:`eki_domain.services.understanding`). The adapter in ``eki_adapters.understanding`` is a
small linear model over character n-grams and words, trained from the labelled corpus.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs

from eki_domain.model.intent import Intent

__all__ = ["IntentClassifier", "IntentScore"]


@attrs.frozen
class IntentScore:
    intent: Intent
    probability: float  # 0..1; the scores of one message add up to 1


class IntentClassifier(Protocol):
    """Pure, synchronous and fast (well under a millisecond per message)."""

    def classify(self, text: str) -> Sequence[IntentScore]:
        """Every intent the model knows with its probability, the most likely first."""
        ...
