"""The guardian model: relationships in Spanish, and picking a child from what a guardian
writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eki_domain.errors import InvalidInput
from eki_domain.model.guardian import Child, GuardianLink, Relationship, parse_relationship
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import Student
from eki_domain.services.subject import match_child

NOW = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.mark.parametrize(("raw", "expected"), [
    ("Mamá", Relationship.MADRE), ("MADRE", Relationship.MADRE), ("papá", Relationship.PADRE),
    ("Papa", Relationship.PADRE), ("tutor", Relationship.ACUDIENTE), (None, Relationship.ACUDIENTE),
    ("", Relationship.ACUDIENTE), ("abuela", Relationship.OTRO), ("Tía", Relationship.OTRO),
    ("acudiente", Relationship.ACUDIENTE),
])
def test_relationships(raw: object, expected: Relationship) -> None:
    assert parse_relationship(raw) is expected


def test_unknown_relationship_is_explained_in_spanish() -> None:
    with pytest.raises(InvalidInput, match="madre, padre, acudiente u otro"):
        parse_relationship("vecino")


def _child(sid: int, name: str, phone: str) -> Child:
    student = Student.register(name, PhoneNumber.parse(phone), registered_at=NOW)
    student.id = sid
    return Child(student, GuardianLink(guardian_id=1, student_id=sid))


ANA = _child(1, "Ana Pérez", "3001112233")
LUIS = _child(2, "Luis Pérez", "3004445566")
OPTIONS = (ANA, LUIS)


@pytest.mark.parametrize(("text", "numbers", "child", "only"), [
    ("2", True, LUIS, True),
    ("2", False, None, False),  # without a pending choice "2" is the menu
    ("la 1", True, ANA, True),
    ("Luis", False, LUIS, True),
    ("luis pérez", False, LUIS, True),
    ("¿y Ana?", False, ANA, True),
    ("ahora Luis", False, LUIS, True),
    ("¿cómo va Luis en mate?", False, LUIS, False),
    ("notas", False, None, False),
    ("Pérez", False, None, False),  # a surname both share names nobody
    ("Beto", False, None, False),
    ("7", True, None, False),
])
def test_match_child(text: str, numbers: bool, child: Child | None, only: bool) -> None:
    assert match_child(text, OPTIONS, numbers=numbers) == (child, only)
