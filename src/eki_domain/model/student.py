"""The student entity and the small value rules around it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

import attrs

from eki_domain.errors import InvalidStudentName, InvalidTag
from eki_domain.model.phone import PhoneNumber

NAME_MAX_LENGTH = 100
_LETTER = re.compile(r"[^\W\d_]")
TAG_MAX_LENGTH = 50
#: Characters that separate tags in a spreadsheet cell, so they cannot be part of a tag.
TAG_SEPARATORS = ",;|"


def normalize_name(raw: object) -> str:
    """Trim and collapse every run of whitespace (NBSP included) to one space."""
    if raw is None:
        raise InvalidStudentName("El nombre está vacío. Escriba el nombre completo del estudiante.")
    if not isinstance(raw, str):
        raw = str(raw)
    name = " ".join(raw.split())
    if not name:
        raise InvalidStudentName("El nombre está vacío. Escriba el nombre completo del estudiante.")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidStudentName(
            f"El nombre tiene {len(name)} caracteres; el máximo es {NAME_MAX_LENGTH}. "
            "Acórtelo (por ejemplo, un nombre y dos apellidos).",
        )
    if _LETTER.search(name) is None:
        raise InvalidStudentName(
            f"El nombre «{name}» no contiene letras. Escriba el nombre del estudiante, "
            "no un número ni un código.",
        )
    return name


def normalize_tag(raw: object) -> str:
    """Tags compare case-insensitively: stored trimmed, collapsed and lower-cased."""
    text = " ".join(str(raw if raw is not None else "").split()).lower()
    if not text:
        raise InvalidTag("La etiqueta está vacía. Escriba un nombre, por ejemplo «grado 10».")
    if len(text) > TAG_MAX_LENGTH:
        raise InvalidTag(
            f"La etiqueta «{text[:20]}…» es demasiado larga (máximo {TAG_MAX_LENGTH} caracteres).",
        )
    if any(sep in text for sep in TAG_SEPARATORS):
        raise InvalidTag(
            f"La etiqueta «{text}» contiene {TAG_SEPARATORS!r}, que separan etiquetas. "
            "Escriba cada etiqueta por separado.",
        )
    return text


def normalize_tags(raw: Iterable[object]) -> frozenset[str]:
    return frozenset(normalize_tag(tag) for tag in raw)


@attrs.define
class Student:
    """A student (or the family member who writes for them) known by phone.

    Build one with :meth:`Student.register`; change it only through its methods,
    which keep the invariants (a valid name, normalised tags).
    """

    name: str
    phone: PhoneNumber
    registered_at: datetime
    active: bool = True
    tags: frozenset[str] = frozenset()
    id: int | None = None
    #: Set when WhatsApp reported that the student changed number (staff should check).
    number_changed_at: datetime | None = None
    new_wa_id: str | None = None

    @classmethod
    def register(
        cls,
        name: object,
        phone: PhoneNumber,
        *,
        registered_at: datetime,
        tags: Iterable[object] = (),
        active: bool = True,
    ) -> Student:
        if registered_at.tzinfo is None:
            raise ValueError("registered_at must be timezone-aware")
        return cls(
            name=normalize_name(name),
            phone=phone,
            registered_at=registered_at,
            active=active,
            tags=normalize_tags(tags),
        )

    def rename(self, name: object) -> None:
        self.name = normalize_name(name)

    def change_phone(self, phone: PhoneNumber) -> None:
        self.phone = phone

    def activate(self) -> None:
        self.active = True

    def deactivate(self) -> None:
        self.active = False

    def tag(self, *tags: object) -> None:
        self.tags = self.tags | normalize_tags(tags)

    def untag(self, *tags: object) -> None:
        self.tags = self.tags - normalize_tags(tags)

    def set_tags(self, tags: Iterable[object]) -> None:
        self.tags = normalize_tags(tags)

    def has_tag(self, tag: object) -> bool:
        return normalize_tag(tag) in self.tags

    def flag_number_change(self, new_wa_id: str | None, at: datetime) -> None:
        """WhatsApp said this user moved to another number: keep it for staff to review."""
        self.number_changed_at = at
        self.new_wa_id = new_wa_id

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0]


def search_digits(text: str) -> str:
    """The digits of a search text when it looks like (part of) a phone: 3 or more."""
    digits = "".join(ch for ch in text if ch.isdigit())
    return digits if len(digits) >= 3 else ""


def matches_search(student: Student, text: str) -> bool:
    """The listing's search rule: the name contains the text (case-insensitive) or the
    phone contains its digits (3 or more). A blank text matches everyone."""
    text = text.strip()
    if not text:
        return True
    digits = search_digits(text)
    return text.casefold() in student.name.casefold() or bool(
        digits and digits in student.phone.e164)
