"""Header mapping, cell parsing, row validation and classification (pure domain)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from eki_domain import ImportFileError, PhoneNumber, Severity, Sheet
from eki_domain.model.imports import header_key, map_headers, parse_yes_no
from eki_domain.model.roster import (
    STUDENT_FIELDS,
    ExistingStudent,
    StudentRecord,
    plan_roster,
    split_tags,
    validate_student_rows,
)


def sheet(*rows: Sequence[object], start: int = 1) -> Sheet:
    return Sheet(filename="t.xlsx", sha256="x",
                 rows=[(n, list(r)) for n, r in enumerate(rows, start=start)])


def test_header_key_ignores_accents_case_and_punctuation() -> None:
    assert header_key(" Teléfono Celular ") == "telefonocelular"
    assert header_key("MÓVIL") == "movil"
    assert header_key("Nombre_Completo") == "nombrecompleto"


@pytest.mark.parametrize(
    ("name_header", "phone_header"),
    [("nombre", "telefono"), ("NOMBRES", "Teléfono"), ("Estudiante", "Celular"),
     ("name", "phone"), ("Nombre", "Móvil"), ("nombre", "WhatsApp")],
)
def test_aliases(name_header: str, phone_header: str) -> None:
    mapping = map_headers(sheet([name_header, phone_header]), STUDENT_FIELDS)
    assert mapping.columns == {"name": 0, "phone": 1}


def test_title_rows_above_the_header_are_skipped() -> None:
    mapping = map_headers(
        sheet(["Colegio San José — listado 2026"], [], ["Nombre", "Teléfono", "Grupo"]),
        STUDENT_FIELDS)
    assert mapping.header_row == 3
    assert mapping.columns == {"name": 0, "phone": 1, "tags": 2}


def test_missing_column_names_the_columns_found() -> None:
    with pytest.raises(ImportFileError) as caught:
        map_headers(sheet(["Nombre", "Correo"]), STUDENT_FIELDS)
    assert caught.value.code == "MISSING_COLUMN"
    assert "«Nombre», «Correo»" in caught.value.message
    assert "teléfono" in caught.value.message


def test_same_field_twice_is_fatal() -> None:
    with pytest.raises(ImportFileError) as caught:
        map_headers(sheet(["Nombre", "Teléfono", "Celular"]), STUDENT_FIELDS)
    assert caught.value.code == "DUPLICATE_COLUMN"
    assert "«Teléfono» y «Celular»" in caught.value.message


def test_empty_sheet_is_fatal() -> None:
    with pytest.raises(ImportFileError) as caught:
        map_headers(sheet([], [None, ""]), STUDENT_FIELDS)
    assert caught.value.code == "EMPTY_FILE"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("sí", True), ("SI", True), ("si", True), ("x", True), ("true", True), ("1", True), (1, True),
     (1.0, True), (True, True), ("no", False), ("NO", False), ("false", False), ("0", False),
     (0, False), ("", None), (None, None), ("  ", None)],
)
def test_yes_no(raw: object, expected: bool | None) -> None:
    assert parse_yes_no(raw) is expected


@pytest.mark.parametrize("raw", ["quizás", "2", 2, "tal vez"])
def test_yes_no_rejects_anything_else(raw: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_yes_no(raw)


def test_tags_split_on_comma_semicolon_and_pipe() -> None:
    assert split_tags("Grado 10, coro;banda | fútbol") == ["Grado 10", "coro", "banda", "fútbol"]
    assert split_tags(None) == []


def test_validation_reports_every_problem_by_spreadsheet_row() -> None:
    result = validate_student_rows(sheet(
        ["Nombre", "Teléfono", "Activo", "Etiquetas", "Notas"],
        ["Ana", 3001234567, "sí", "Grado 10, Coro", ""],
        ["Beto", "3.00123E+09", "", "", ""],
        [None, None, None, None, None],
        ["Ana bis", "+57 300 123 4567", "", "", ""],
        ["", "3151234567", "quizás", "", ""],
        ["Eva", "601 234 5678", None, "", ""],
    ), "CO")
    assert result.rows_read == 5  # the blank row is skipped silently
    by_row = {}
    for issue in result.issues:
        by_row.setdefault(issue.row, []).append(issue.code)
    assert by_row[1] == ["UNKNOWN_COLUMN"]
    assert by_row[3] == ["SCIENTIFIC_NOTATION_DIGITS_LOST"]
    assert by_row[5] == ["DUPLICATE_IN_FILE"]
    assert sorted(by_row[6]) == ["INVALID_ACTIVE", "NAME_REQUIRED"]
    assert by_row[7] == ["FIXED_LINE"]
    assert result.rejected_rows == {3, 5, 6}
    duplicate = next(i for i in result.issues if i.code == "DUPLICATE_IN_FILE")
    assert "duplicado de la fila 2" in duplicate.message.lower()
    assert duplicate.normalized == "+573001234567"
    assert [r.row for r in result.records] == [2, 7]
    ana = result.records[0]
    assert (ana.name, ana.active, ana.tags) == ("Ana", True, {"grado 10", "coro"})
    warning = next(i for i in result.issues if i.code == "FIXED_LINE")
    assert warning.severity is Severity.WARNING and "WhatsApp" in warning.message
    assert result.cells[3][1] == "3.00123E+09"


def test_missing_optional_columns_mean_keep_what_is_stored() -> None:
    result = validate_student_rows(sheet(["nombre", "telefono"], ["Ana", "3001234567"]), "CO")
    assert result.records[0].active is None and result.records[0].tags is None


def record(phone: str, name: str = "Ana", active: bool | None = None,
           tags: frozenset[str] | None = None) -> StudentRecord:
    return StudentRecord(row=2, phone=PhoneNumber.parse(phone), name=name, active=active,
                         tags=tags)


def test_plan_classifies_create_update_unchanged() -> None:
    existing = {
        "+573001234567": ExistingStudent(id=1, name="Ana", active=True, tags=frozenset({"a"})),
        "+573109876543": ExistingStudent(id=2, name="Beto", active=False, tags=frozenset()),
        "+573151234567": ExistingStudent(id=3, name="Carla", active=True, tags=frozenset()),
    }
    plan = plan_roster([
        record("3001234567", "Ana"),  # same name, columns absent → unchanged
        record("3109876543", "Beto", active=True),  # reactivated → update
        record("3151234567", "Carla", tags=frozenset({"coro"})),  # tags changed → update
        record("3201234567", "Dani"),  # new → create, active by default
    ], existing)
    assert plan.unchanged == 1
    assert [(c.name, c.active, c.student_id) for c in plan.updates] == [
        ("Beto", True, 2), ("Carla", True, 3)]
    assert [c.replace_tags for c in plan.updates] == [False, True]
    assert [(c.name, c.active, c.student_id) for c in plan.creates] == [("Dani", True, None)]


def test_an_issue_repeats_only_the_start_of_a_long_cell() -> None:
    # A cell may hold 32,000 characters; a report repeating it per problem grows for nothing.
    huge = "sí" + "x" * 40_000
    result = validate_student_rows(
        sheet(["Nombre", "Teléfono", "Activo"], ["Ana", "3001234567", huge]), "CO")
    (issue,) = result.issues
    assert issue.code == "INVALID_ACTIVE" and len(str(issue.value)) == 200
    assert str(issue.value).endswith("…") and str(issue.value).startswith("síxxx")
    assert len(issue.message) < 300
    assert "«síxxx" in issue.message and "…»" in issue.message
    assert issue.message.endswith("vacío = activo.")  # the advice after the quote is kept
    assert result.cells[2][2] == huge  # the errors file still gets the whole cell


def test_short_issues_are_kept_as_written() -> None:
    from eki_domain.model.imports import row_issue

    issue = row_issue(3, "Activo", "quizás", "INVALID_ACTIVE", "«quizás» no vale.")
    assert (issue.value, issue.message) == ("quizás", "«quizás» no vale.")
    long = row_issue(3, None, None, "X", "a" * 5000)
    assert len(long.message) == 2000 and long.message.endswith("…")
