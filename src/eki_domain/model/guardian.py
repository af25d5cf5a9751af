"""Families: a guardian (a parent, an acudiente) known by phone and linked to students.

A phone resolves to a *party*: a student, a guardian, both (an adult student with a child) or
nobody. A guardian sees a child's data only through a :class:`GuardianLink`, whose flags say
what they may see and receive. See ``docs/families.md``.
"""

from __future__ import annotations

import enum
import unicodedata
from datetime import datetime
from typing import Final

import attrs

from eki_domain.errors import InvalidInput
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import Student, normalize_name

__all__ = ["Guardian", "GuardianLink", "Relationship", "SubjectMemory", "parse_relationship"]


class Relationship(enum.StrEnum):
    MADRE = "madre"
    PADRE = "padre"
    ACUDIENTE = "acudiente"
    OTRO = "otro"


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


_SYNONYMS: Final[dict[str, Relationship]] = {
    **{w: Relationship.MADRE for w in (
        "madre", "mama", "mami", "mom", "mother", "mamita", "progenitora")},
    **{w: Relationship.PADRE for w in (
        "padre", "papa", "papi", "dad", "father", "papito", "progenitor")},
    **{w: Relationship.ACUDIENTE for w in (
        "acudiente", "tutor", "tutora", "tutor legal", "guardian", "representante",
        "responsable", "apoderado", "apoderada", "custodio", "custodia")},
    **{w: Relationship.OTRO for w in (
        "otro", "otra", "abuelo", "abuela", "tio", "tia", "hermano", "hermana",
        "padrastro", "madrastra", "relative", "other", "familiar")},
}


def parse_relationship(raw: object) -> Relationship:
    """``"Mamá"`` → MADRE, ``"papá"`` → PADRE, ``"tutor"`` → ACUDIENTE; blank → ACUDIENTE.
    Anything unknown raises :class:`InvalidInput` with the accepted words."""
    text = _fold(str(raw)) if raw is not None else ""
    if not text:
        return Relationship.ACUDIENTE
    found = _SYNONYMS.get(text)
    if found is None:
        raise InvalidInput(
            f"Parentesco «{str(raw)[:30]}» no reconocido. Escriba madre, padre, acudiente u "
            "otro (también se aceptan mamá, papá, tutor, abuela, tío…).")
    return found


@attrs.define
class Guardian:
    """An adult who writes about one or more students. The phone is unique among guardians;
    it may also be a student's phone (an adult student with a child at the school)."""

    name: str
    phone: PhoneNumber
    created_at: datetime
    active: bool = True
    id: int | None = None

    @classmethod
    def register(cls, name: object, phone: PhoneNumber, *, created_at: datetime,
                 active: bool = True) -> Guardian:
        if created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        return cls(name=normalize_name(name), phone=phone, created_at=created_at,
                   active=active)

    def rename(self, name: object) -> None:
        self.name = normalize_name(name)

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0]


@attrs.frozen
class GuardianLink:
    """Guardian ↔ student, with what the guardian may see and receive. Lower ``priority``
    comes first (the first contact for alerts)."""

    guardian_id: int
    student_id: int
    relationship: Relationship = Relationship.ACUDIENTE
    may_see_grades: bool = True
    may_receive_alerts: bool = True
    priority: int = 1


@attrs.frozen
class SubjectMemory:
    """What a conversation with a guardian remembers: the student chosen (and when), and the
    last data question (asked again after a choice, or for "¿y Ana?")."""

    student_id: int | None = None
    chosen_at: datetime | None = None
    question: str | None = None
    asked_at: datetime | None = None


@attrs.frozen
class Child:
    """A linked student as a conversation sees it."""

    student: Student
    link: GuardianLink | None  # None: the sender's own student record (both roles)

    @property
    def may_see_grades(self) -> bool:
        return self.link is None or self.link.may_see_grades
