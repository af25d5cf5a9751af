from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eki_domain import InvalidStudentName, InvalidTag, PhoneNumber, Student
from eki_domain.model.student import normalize_name, normalize_tag

NOW = datetime(2026, 3, 1, tzinfo=UTC)
PHONE = PhoneNumber.parse("3001234567")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Ana   María\tPérez ", "Ana María Pérez"),
        ("Ana\u00a0María", "Ana María"),
        ("José\nLuis", "José Luis"),
        ("A" * 100, "A" * 100),
    ],
)
def test_names_are_trimmed_and_collapsed(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", None, "A" * 101, "12345", "---"])
def test_bad_names_are_refused_in_spanish(raw: object) -> None:
    with pytest.raises(InvalidStudentName) as caught:
        normalize_name(raw)
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "INVALID_NAME"
    assert "nombre" in caught.value.message.lower()


def test_tags_are_case_insensitive_and_trimmed() -> None:
    student = Student.register("Ana", PHONE, registered_at=NOW, tags=[" Grado 10 ", "grado  10",
                                                                      "FÚTBOL"])
    assert student.tags == {"grado 10", "fútbol"}
    assert student.has_tag("GRADO 10")
    student.untag("Grado 10")
    assert student.tags == {"fútbol"}
    student.tag("Coro", "coro")
    assert student.tags == {"fútbol", "coro"}


@pytest.mark.parametrize("raw", ["", "  ", "a,b", "x|y", "a;b", "t" * 51])
def test_bad_tags_are_refused(raw: str) -> None:
    with pytest.raises(InvalidTag):
        normalize_tag(raw)


def test_register_requires_an_aware_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Student.register("Ana", PHONE, registered_at=datetime(2026, 1, 1))


def test_behaviour_keeps_invariants() -> None:
    student = Student.register("Ana", PHONE, registered_at=NOW)
    assert student.active and student.id is None and student.first_name == "Ana"
    student.deactivate()
    assert not student.active
    student.activate()
    assert student.active
    with pytest.raises(InvalidStudentName):
        student.rename("   ")
    assert student.name == "Ana"
    student.rename(" Ana  Lucía ")
    assert student.name == "Ana Lucía"
    assert student.first_name == "Ana"
