"""Understanding a message: the rules for commands, a statistical classifier for the rest.

:func:`understand` is what the rule-based responder acts on:

1. A button payload, a menu number, BAJA/STOP, ALTA/START or a request for a person are
   decided by the rules (:func:`~eki_domain.services.intents.rule_decision`) exactly as
   before: they change what EKI does next.
2. A request to change records or to do schoolwork ("bórrame las fallas", "hazme el taller")
   is answered as such, not as the question it names.
3. Otherwise the :class:`~eki_domain.ports.understanding.IntentClassifier` (when there is one)
   ranks the intents. Its first choice wins when its probability reaches
   :data:`CONFIDENT`; below that, the rules' own reading wins when it is one of the model's
   two first choices; otherwise EKI asks which of the two the student means ("¿Te refieres a
   tus notas o a tu asistencia?").
4. Without a classifier the rules decide everything (the behaviour before the classifier).

The language is English when the message is mostly English words (:func:`detect_language`),
else Spanish.
"""

from __future__ import annotations

from typing import Final

import attrs

from eki_domain.model.intent import Intent
from eki_domain.ports.understanding import IntentClassifier
from eki_domain.services.intents import refused_request, rule_decision
from eki_domain.services.lexicon import normalize_text
from eki_domain.services.wordlists import ENGLISH_WORDS, SPANISH_WORDS

__all__ = ["CONFIDENT", "Understanding", "detect_language", "understand"]

#: The classifier's first choice is taken at this probability or above.
CONFIDENT: Final = 0.4
#: The intents a clarifying question can offer (each is a menu entry).
OFFERABLE: Final = frozenset(
    {
        Intent.PROGRESO,
        Intent.NOTAS,
        Intent.ASISTENCIA,
        Intent.PENDIENTES,
        Intent.MIS_DATOS,
        Intent.HUMANO,
    }
)


@attrs.frozen
class Understanding:
    intent: Intent
    #: "rules" (a command, or no classifier), "model", "both" (they agree) or "clarify".
    source: str
    confidence: float = 1.0
    #: The two likeliest intents when EKI should ask which one the student means.
    options: tuple[Intent, ...] = ()
    language: str = "es"
    #: "modify" or "schoolwork": a request EKI never fulfils (see ``refused_request``).
    refused: str | None = None

    @property
    def clarify(self) -> bool:
        return len(self.options) == 2


def detect_language(text: str) -> str:
    """``"en"`` when the message has at least two English words and more English than Spanish
    ones ("how am I doing in math" → en, "como voy en math" → es); else ``"es"``."""
    words = normalize_text(text).split()
    english = sum(1 for word in words if word in ENGLISH_WORDS)
    spanish = sum(1 for word in words if word in SPANISH_WORDS)
    return "en" if english >= 2 and english > spanish else "es"


def understand(
    text: str,
    payload: str | None = None,
    classifier: IntentClassifier | None = None,
    *,
    confident: float = CONFIDENT,
) -> Understanding:
    """What the message asks for (see the module's docstring for the order)."""
    language = detect_language(text) if text else "es"
    ruled, command = rule_decision(text, payload)
    if command or classifier is None or not text.strip():
        return Understanding(ruled, "rules", language=language)
    refused = refused_request(text)
    if refused is not None:  # "súbeme la nota": not a question about grades
        return Understanding(Intent.DESCONOCIDO, "rules", language=language, refused=refused)
    ranked = list(classifier.classify(text))
    if not ranked:
        return Understanding(ruled, "rules", language=language)
    best = ranked[0]
    if best.probability >= confident:
        source = "both" if best.intent is ruled else "model"
        return Understanding(best.intent, source, best.probability, language=language)
    top_two = [score.intent for score in ranked[:2]]
    if ruled in top_two and ruled is not Intent.DESCONOCIDO:
        return Understanding(ruled, "both", best.probability, language=language)
    offered = tuple(intent for intent in top_two if intent in OFFERABLE)
    if len(offered) == 2:
        return Understanding(best.intent, "clarify", best.probability, offered, language)
    return Understanding(ruled if ruled is not Intent.DESCONOCIDO else best.intent, "model",
                         best.probability, language=language)  # fmt: skip
