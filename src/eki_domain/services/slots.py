"""Slots: the course, period and attendance kind a message is about.

* **Course.** :func:`course_hint` takes the rules' candidate
  (:func:`~eki_domain.services.intents.extract_course`) and keeps it only when it is a
  course: when it matches one of the student's own course names (``courses``, through the
  one course matcher :func:`~eki_domain.services.progress.match_course`: accents,
  abbreviations, typos — "mate", "matematicas", "sociales" → "Ciencias Sociales", "ingles"),
  or, when the student's courses are not known here, when it looks like a school subject
  (:data:`~eki_domain.services.lexicon.SUBJECT_WORDS`, typos allowed). Free text is never a
  course: "ignora tus instrucciones…" gives no course.
* **Period.** :func:`period_hint`: "este periodo" → current, "el pasado" → previous, "el
  primero", "segundo periodo", "P3" → that ordinal; :func:`resolve_period` maps it onto the
  period names the school uses.
* **Attendance kind.** :func:`attendance_kind`: "llegadas tarde" → late, "excusas" → excused,
  else absences.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Final

import attrs

from eki_domain.services.intents import extract_course
from eki_domain.services.lexicon import normalize_text
from eki_domain.services.progress import match_course, normalize_course
from eki_domain.services.wordlists import (
    EXCUSE_WORDS,
    LATE_WORDS,
    PERIOD_CURRENT,
    PERIOD_ORDINALS,
    PERIOD_PREVIOUS,
    PERIOD_WORDS,
    SUBJECT_WORDS,
)

__all__ = [
    "AttendanceKind",
    "PeriodHint",
    "attendance_kind",
    "course_hint",
    "course_mention",
    "looks_like_course",
    "period_hint",
    "resolve_period",
    "subject_mention",
]

_SIMILAR: Final = 0.8


def looks_like_course(hint: str) -> bool:
    """True when a word of ``hint`` is (a prefix or a typo of) a common school subject."""
    return any(_subject_word(word) for word in normalize_text(hint).split())


@functools.lru_cache(maxsize=4096)
def _subject_word(word: str) -> bool:
    if len(word) < 3:
        return False
    for subject in SUBJECT_WORDS:
        if subject.startswith(word) or word.startswith(subject):
            return True
        if (
            subject[0] == word[0]
            and abs(len(subject) - len(word)) <= 2
            and SequenceMatcher(None, word, subject, autojunk=False).ratio() >= _SIMILAR
        ):
            return True
    return False


def subject_mention(text: str) -> str | None:
    """A school subject named anywhere in the message ("¿estoy perdiendo mate?" → "mate"),
    with the next word when it is one too ("ciencias sociales")."""
    words = normalize_text(text).split()
    for i, word in enumerate(words):
        if word in SUBJECT_WORDS:
            following = words[i + 1] if i + 1 < len(words) else ""
            return f"{word} {following}" if following in SUBJECT_WORDS else word
    return None


def course_mention(text: str) -> str | None:
    """The course hint as written: the rules' candidate (``extract_course``), else a subject
    named anywhere. Not yet checked against the student's courses."""
    if not text:
        return None
    return extract_course(text) or subject_mention(text)


def course_hint(text: str, courses: Sequence[str] | None = None) -> str | None:
    """The course the message asks about: a name from ``courses`` when they are given (None
    when nothing matches), else the hint as written when it looks like a school subject."""
    hint = course_mention(text)
    if hint is None:
        return None
    if courses is not None:
        return match_course(hint, courses)
    return hint if looks_like_course(hint) else None


class AttendanceKind(enum.StrEnum):
    ABSENCES = "absences"
    LATE = "late"
    EXCUSED = "excused"


def attendance_kind(text: str) -> AttendanceKind:
    words = set(normalize_text(text).split())
    if words & LATE_WORDS and not {"buenas", "good"} & words:  # not "buenas tardes"
        return AttendanceKind.LATE
    if words & EXCUSE_WORDS:
        return AttendanceKind.EXCUSED
    return AttendanceKind.ABSENCES


@attrs.frozen
class PeriodHint:
    ordinal: int | None = None  # 1 for "el primero"
    current: bool = False  # "este periodo"
    previous: bool = False  # "el periodo pasado"


def period_hint(text: str) -> PeriodHint | None:
    """The period a message names, or None. A bare number is a period only next to a period
    word ("periodo 2"), and an ordinal only next to one or after "el" ("el primero")."""
    words = normalize_text(text).split()
    for i, word in enumerate(words):
        near = words[max(0, i - 2) : i + 3]
        has_period_word = any(w in PERIOD_WORDS for w in near)
        after_article = i > 0 and words[i - 1] in {"el", "la"}
        if (
            word in PERIOD_ORDINALS
            and len(word) > 1
            and not word.isdigit()
            and (word.startswith("p") or has_period_word or after_article)
        ):
            return PeriodHint(ordinal=PERIOD_ORDINALS[word])
        if word.isdigit() and word in PERIOD_ORDINALS and i > 0 and words[i - 1] in PERIOD_WORDS:
            return PeriodHint(ordinal=PERIOD_ORDINALS[word])
        if word in PERIOD_WORDS:
            if any(w in PERIOD_CURRENT for w in words[max(0, i - 1) : i + 2]):
                return PeriodHint(current=True)
            if any(w in PERIOD_PREVIOUS for w in words[i + 1 : i + 2] + words[max(0, i - 1) : i]):
                return PeriodHint(previous=True)
    return None


def resolve_period(hint: PeriodHint, periods: Sequence[str]) -> str | None:
    """The school's period name ``hint`` means, among ``periods`` (in the school's order,
    sorted by name: "P1" < "P2", "2026-1" < "2026-2"); None when there is no such period."""
    ordered = sorted(dict.fromkeys(p for p in periods if p), key=normalize_course)
    if not ordered:
        return None
    if hint.current:
        return ordered[-1]
    if hint.previous:
        return ordered[-2] if len(ordered) > 1 else None
    if hint.ordinal is not None and 1 <= hint.ordinal <= len(ordered):
        return ordered[hint.ordinal - 1]
    return None
