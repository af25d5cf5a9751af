"""Spanish intents for the rule-based responder (level 3 of the assistant ladder).

Pure and synchronous. Students write the way people write on WhatsApp at 11 pm: no accents,
emoji, "holaaa", "q tal", "xfa", "ntas", "asistensia". The pipeline is:

1. :func:`normalize_text`: lower case, accents stripped, emoji and punctuation removed.
2. Tokens are squeezed ("holaaa" → "hola"), common abbreviations are expanded ("q" → "que",
   "ntas" → "notas") and unknown words of five letters or more are corrected against the
   keyword vocabulary with :class:`difflib.SequenceMatcher` (ratio ≥ 0.8, same first letter).
3. Phrases (longest first) and then single keywords are matched, and :func:`detect_intent`
   decides with a fixed order: a button/list payload, a menu number typed alone ("1".."5"),
   opt-out, hand-off to a person, opt-in, the questions (progress, attendance, pending work,
   profile), help, and finally the social intents (farewell, thanks, greeting).

Opt-out, hand-off and opt-in change what EKI does next, so they only win when the message is
mainly that request: "BAJA" or "no más mensajes" is an opt-out, "mi nota bajó" is not.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from difflib import SequenceMatcher

import attrs

from eki_domain.model.intent import MENU_OPTIONS, Intent
from eki_domain.services.lexicon import (
    ACKS,
    COURSE_ANCHORS,
    FILLER,
    FUZZY_MIN_LENGTH,
    FUZZY_MIN_RATIO,
    FUZZY_VOCABULARY,
    GENERIC_PHRASES,
    HINT_STOP,
    HUMAN_NOUNS,
    HUMAN_NOUNS_ALONE,
    HUMAN_STRONG_VERBS,
    HUMAN_WEAK_VERBS,
    INTENT_WORDS,
    KNOWN,
    LEADING,
    MAX_HINT_WORDS,
    MENU_FILLER,
    OPT_IN_COMMANDS,
    OPT_OUT_COMMANDS,
    PAYLOAD_ALIASES,
    PHRASES_BY_FIRST,
    PREPOSITIONS,
    QUESTIONS,
    SOCIAL,
    THANKS_EMOJI,
    WAVE_EMOJI,
    base_key,
    fold,
    normalize_text,
)
from eki_domain.services.wordlists import MODIFY_REQUEST, SCHOOLWORK_REQUEST

__all__ = [
    "MENU_OPTIONS",
    "Intent",
    "detect_intent",
    "extract_course",
    "normalize_text",
    "refused_request",
    "rule_decision",
    "rule_hits",
    "rule_keys",
]


@functools.lru_cache(maxsize=8192)
def _correct(key: str) -> str:
    """The keyword an unknown word is a typo of ("asistensia" → "asistencia"), or the word."""
    if len(key) < FUZZY_MIN_LENGTH or key in KNOWN or not key.isalpha():
        return key
    best, best_ratio = key, FUZZY_MIN_RATIO
    for target in FUZZY_VOCABULARY.get(key[0], ()):
        if abs(len(target) - len(key)) > 2:
            continue
        matcher = SequenceMatcher(None, key, target, autojunk=False)
        if matcher.real_quick_ratio() < best_ratio or matcher.quick_ratio() < best_ratio:
            continue
        ratio = matcher.ratio()
        if ratio >= best_ratio and (ratio > best_ratio or best == key):
            best, best_ratio = target, ratio
    return best


@functools.lru_cache(maxsize=8192)
def _word_key(display: str) -> str:
    """A word as the rules read it: folded, squeezed, abbreviation expanded, typo corrected
    ("" when nothing of it is a letter or a digit). Words come back often: worked out once."""
    folded = "".join(ch for ch in fold(display) if ch.isalnum())
    return _correct(base_key(folded)) if folded else ""


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------


@attrs.frozen
class _Token:
    display: str  # lower case as written, accents kept ("inglés")
    key: str  # folded, squeezed, abbreviation expanded, typo corrected ("ingles")
    segment: int  # punctuation, emoji and line breaks start a new segment


@attrs.frozen
class _Hit:
    intent: Intent
    start: int
    end: int  # exclusive
    phrase: bool
    command: bool = False


@attrs.frozen
class _Analysis:
    tokens: tuple[_Token, ...]
    hits: tuple[_Hit, ...]
    emoji: frozenset[str]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(token.key for token in self.tokens)

    def of(self, *intents: Intent) -> tuple[_Hit, ...]:
        return tuple(hit for hit in self.hits if hit.intent in intents)

    def covered(self, *intents: Intent) -> frozenset[int]:
        return frozenset(i for hit in self.of(*intents) for i in range(hit.start, hit.end))

    def rest(self, *intents: Intent, ignore: Iterable[str] = ()) -> list[_Token]:
        """Tokens not matched by ``intents`` nor social words, minus filler and ``ignore``."""
        covered = self.covered(*intents, *SOCIAL)
        skip = FILLER | frozenset(ignore)
        return [
            token
            for i, token in enumerate(self.tokens)
            if i not in covered and token.key not in skip
        ]


def _tokenize(text: str) -> tuple[tuple[_Token, ...], frozenset[str]]:
    tokens: list[_Token] = []
    emoji: set[str] = set()
    segment = 0
    current: list[str] = []

    def flush() -> None:
        if current:
            display = unicodedata.normalize("NFC", "".join(current))
            key = _word_key(display)
            if key:
                tokens.append(_Token(display, key, segment))
            current.clear()

    for ch in unicodedata.normalize("NFC", text.lower()):
        if ch.isalnum() or unicodedata.combining(ch):
            current.append(ch)
            continue
        flush()
        if not ch.isspace() or ch in "\n\r":  # a burst of messages is joined with newlines
            segment += 1
            if ch in THANKS_EMOJI or ch in WAVE_EMOJI:
                emoji.add(ch)
    flush()
    return tuple(tokens), frozenset(emoji)


@functools.lru_cache(maxsize=2048)
def _analyze(text: str) -> _Analysis:
    tokens, emoji = _tokenize(text)
    keys = [token.key for token in tokens]
    used = [False] * len(keys)
    hits: list[_Hit] = []
    present = set(keys)
    # The phrases whose first word is in the message, in PHRASES' order (longest first).
    candidates = sorted(
        item for key in present for item in PHRASES_BY_FIRST.get(key, ())
    )
    for _, phrase, intent in candidates:
        size = len(phrase)
        for start in range(len(keys) - size + 1):
            end = start + size
            if tuple(keys[start:end]) == phrase and not any(used[start:end]):
                used[start:end] = [True] * size
                hits.append(_Hit(intent, start, end, phrase=True))
    for i, key in enumerate(keys):
        if used[i]:
            continue
        if key in OPT_OUT_COMMANDS:
            hits.append(_Hit(Intent.OPT_OUT, i, i + 1, phrase=False, command=True))
        elif key in OPT_IN_COMMANDS:
            hits.append(_Hit(Intent.OPT_IN, i, i + 1, phrase=False, command=True))
        elif key in INTENT_WORDS:
            hits.append(_Hit(INTENT_WORDS[key], i, i + 1, phrase=False))
    hits.sort(key=lambda hit: hit.start)
    return _Analysis(tokens, tuple(hits), emoji)


# --------------------------------------------------------------------------------------------
# Rules


def _payload_intent(payload: str) -> Intent | None:
    """``"progreso"``, ``"MENU"``, ``"mis-datos"``, ``"eki:asesor"`` → the intent, else None."""
    folded = fold(payload).strip()
    for candidate in (folded, re.split(r"[:/#]", folded)[-1]):
        key = re.sub(r"[\s\-.]+", "_", candidate.strip()).strip("_")
        for spelling in (key, key.replace("_", "")):
            intent = PAYLOAD_ALIASES.get(spelling)
            if intent is not None:
                return intent
    return None


def _menu_number(analysis: _Analysis) -> Intent | None:
    keys = [key for key in analysis.keys if key not in MENU_FILLER]
    if len(keys) == 1:
        return MENU_OPTIONS.get(keys[0])
    return None


def _is_request(analysis: _Analysis, intent: Intent) -> bool:
    """True when the message is mainly an opt-out / opt-in request."""
    hits = analysis.of(intent)
    if not hits or analysis.of(*QUESTIONS, Intent.HUMANO):
        return False
    rest = analysis.rest(intent)
    if all(hit.command for hit in hits):
        return not rest  # "BAJA", "stop por favor"; never "baja la nota"
    return len(rest) <= 4


def _wants_human(analysis: _Analysis) -> bool:
    if analysis.of(Intent.HUMANO):
        return True
    keys = analysis.keys
    for i, key in enumerate(keys):
        if key in HUMAN_STRONG_VERBS and HUMAN_NOUNS.intersection(keys[i + 1 : i + 5]):
            return True  # "hablar con el coordinador", "comunicarme con alguien"
        if key in HUMAN_WEAK_VERBS and HUMAN_NOUNS.intersection(keys[i + 1 : i + 3]):
            return True  # "quiero un asesor", "necesito una persona"
    if HUMAN_NOUNS_ALONE.intersection(keys):
        ignore = HUMAN_NOUNS | HUMAN_STRONG_VERBS | HUMAN_WEAK_VERBS
        return not analysis.rest(ignore=ignore)  # "asesor", "un humano por favor"
    return False


def _best_question(analysis: _Analysis) -> Intent | None:
    scores: dict[Intent, float] = {}
    keys = analysis.keys
    for hit in analysis.of(*QUESTIONS):
        if not hit.phrase:
            weight = 1.0
        elif keys[hit.start : hit.end] in GENERIC_PHRASES:
            weight = 0.5  # "¿cómo voy…" yields to a topic: "¿cómo voy en fallas?"
        else:
            weight = 2.0
        scores[hit.intent] = scores.get(hit.intent, 0.0) + weight
    if not scores:
        return None
    # Ties go to the first in QUESTIONS ("nota del examen" → progreso).
    return max(QUESTIONS, key=lambda intent: scores.get(intent, 0))


def detect_intent(text: str, payload: str | None = None) -> Intent:
    """What the student wants.

    A button/list ``payload`` wins when it names an intent (``"progreso"``, ``"menu"``,
    ``"asesor"``, ``"1"``…); otherwise the text decides, in this order: a menu number typed
    alone, opt-out, hand-off to a person, opt-in, the questions (progreso, asistencia,
    pendientes, mis datos — a greeting plus a question is the question), ayuda, despedida,
    gracias, saludo, a bare acknowledgement ("ok", "listo", 👍 → gracias), else desconocido.
    """
    return rule_decision(text, payload)[0]


def refused_request(text: str) -> str | None:
    """``"modify"`` for a request to change records ("bórrame las fallas", "cámbiame la
    nota"), ``"schoolwork"`` for one to do homework ("hazme el taller", "dame las respuestas
    del quiz"), else None. EKI does neither, whatever the message names."""
    keys = set(_analyze(text).keys)
    if keys & MODIFY_REQUEST:
        return "modify"
    if keys & SCHOOLWORK_REQUEST:
        return "schoolwork"
    return None


def rule_keys(text: str) -> tuple[str, ...]:
    """The message's words as the rules read them: folded, squeezed, abbreviations expanded
    and typos of keywords corrected ("asistensia" → "asistencia")."""
    return _analyze(text).keys


def rule_hits(text: str) -> tuple[str, ...]:
    """The keywords' and phrases' intents found in the message, in order ("progreso",
    "asistencia+" for a phrase): evidence for a statistical model, not a decision."""
    return tuple(f"{hit.intent.value}{'+' if hit.phrase else ''}" for hit in _analyze(text).hits)


def rule_decision(text: str, payload: str | None = None) -> tuple[Intent, bool]:
    """:func:`detect_intent`'s answer, and whether it is a command.

    A command (a payload, a menu number, opt-out, hand-off, opt-in) is decided by the rules
    alone: it changes what EKI does next, so no statistical model overrides it.
    """
    if payload:
        intent = _payload_intent(payload)
        if intent is not None:
            return intent, True
    analysis = _analyze(text)
    number = _menu_number(analysis)
    if number is not None:
        return number, True
    if _is_request(analysis, Intent.OPT_OUT):
        return Intent.OPT_OUT, True
    if _wants_human(analysis):
        return Intent.HUMANO, True
    if _is_request(analysis, Intent.OPT_IN):
        return Intent.OPT_IN, True
    question = _best_question(analysis)
    if question is not None:
        return question, False
    for intent in (Intent.AYUDA, Intent.DESPEDIDA, Intent.GRACIAS, Intent.SALUDO):
        if analysis.of(intent):
            return intent, False
    if analysis.tokens and all(key in ACKS or key in FILLER for key in analysis.keys):
        return Intent.GRACIAS, False
    if not analysis.tokens:
        if analysis.emoji & THANKS_EMOJI:
            return Intent.GRACIAS, False
        if analysis.emoji & WAVE_EMOJI:
            return Intent.SALUDO, False
    return Intent.DESCONOCIDO, False


# --------------------------------------------------------------------------------------------


def _take_hint(analysis: _Analysis, start: int, stop: int, covered: frozenset[int]) -> str | None:
    tokens = analysis.tokens
    i = start
    while i < stop and tokens[i].key in LEADING and i not in covered:
        i += 1
    words: list[str] = []
    segment = tokens[i].segment if i < stop else -1
    while i < stop and len(words) < MAX_HINT_WORDS:
        token = tokens[i]
        if (
            i in covered
            or token.segment != segment
            or token.key in HINT_STOP
            or token.key in PREPOSITIONS
            or not token.key.isalpha()
        ):
            break
        words.append(token.display)
        i += 1
    return " ".join(words) or None


def extract_course(text: str) -> str | None:
    """The course the student asks about, as written: "¿cómo voy en mate?" → ``"mate"``.

    Only looked for when the message asks about progress, grades, attendance or pending work
    ("en mate", "de inglés", "notas matemáticas", "sociales: fallas"). The hint is lower-cased
    with its accents kept ("inglés", "educación física"); matching it against the student's
    real courses is the tools' job.
    """
    analysis = _analyze(text)
    anchors = analysis.of(*COURSE_ANCHORS)
    if not anchors:
        return None
    covered = frozenset(i for hit in analysis.hits for i in range(hit.start, hit.end))
    size = len(analysis.tokens)
    for i, token in enumerate(analysis.tokens):  # "en mate", "de inglés"
        if token.key in PREPOSITIONS and i not in covered:
            hint = _take_hint(analysis, i + 1, size, covered)
            if hint is not None:
                return hint
    first = anchors[0]
    if not first.phrase:  # "notas mate", "fallas inglés" (not "mi nota bajó")
        after = _take_hint(analysis, first.end, size, covered)
        if after is not None:
            return after
    before = _take_hint(analysis, 0, first.start, covered)  # "mate, ¿cómo voy?"
    if before is not None:
        return before
    return _lone_segment(analysis, covered)  # "¿cuántas fallas tengo?\nmate"


def _lone_segment(analysis: _Analysis, covered: frozenset[int]) -> str | None:
    """A line or clause that is only a course name, anywhere in the message."""
    segments: dict[int, list[int]] = {}
    for i, token in enumerate(analysis.tokens):
        segments.setdefault(token.segment, []).append(i)
    for indexes in segments.values():
        hint = _take_hint(analysis, indexes[0], indexes[-1] + 1, covered)
        if hint is not None and len(hint.split()) == len(indexes):
            return hint
    return None
