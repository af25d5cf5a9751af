"""Guardian rows of an import (``eki guardians import``, one row per link): validation and
in-file duplicates. Pure functions, like :mod:`eki_domain.model.roster`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import attrs

from eki_domain.errors import InvalidInput, InvalidPhoneNumber, InvalidStudentName
from eki_domain.model.guardian import Relationship, parse_relationship
from eki_domain.model.imports import (
    FieldSpec,
    HeaderMapping,
    RowIssue,
    Severity,
    Sheet,
    is_blank,
    map_headers,
    row_issue,
    unknown_column_issues,
)
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import normalize_name

GUARDIAN_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("student_phone", ("telefono estudiante", "telefono_estudiante",
                                "celular estudiante", "celular_estudiante",
                                "telefono del estudiante", "student phone"),
              required=True, label="del teléfono del estudiante"),
    FieldSpec("name", ("nombre acudiente", "nombre_acudiente", "acudiente",
                       "nombre del acudiente", "guardian", "guardian name"),
              required=True, label="del nombre del acudiente"),
    FieldSpec("phone", ("telefono acudiente", "telefono_acudiente", "celular acudiente",
                        "celular_acudiente", "telefono del acudiente", "guardian phone"),
              required=True, label="del teléfono del acudiente"),
    FieldSpec("relationship", ("parentesco", "relacion", "relación", "relationship"),
              label="parentesco"),
)


class GuardianRecord(NamedTuple):
    row: int
    student_phone: PhoneNumber
    phone: PhoneNumber
    name: str
    relationship: Relationship


@attrs.frozen
class GuardianValidation:
    mapping: HeaderMapping
    records: tuple[GuardianRecord, ...]
    issues: tuple[RowIssue, ...]
    rows_read: int
    rejected_rows: frozenset[int]
    cells: Mapping[int, Sequence[object]]



def validate_guardian_rows(sheet: Sheet, default_region: str) -> GuardianValidation:
    """Validate every row; the same guardian and student twice keeps the first row."""
    mapping = map_headers(sheet, GUARDIAN_FIELDS)
    issues: list[RowIssue] = unknown_column_issues(mapping)
    records: list[GuardianRecord] = []
    rejected: set[int] = set()
    cells_by_row: dict[int, Sequence[object]] = {}
    first_row_of: dict[tuple[str, str], int] = {}
    for number, cells in sheet.rows:
        if number <= mapping.header_row or all(is_blank(c) for c in cells):
            continue
        cells_by_row[number] = cells
        row_issues: list[RowIssue] = []
        values: dict[str, object] = {}
        for field in ("student_phone", "phone"):
            raw = mapping.cell(cells, field)
            try:
                values[field] = PhoneNumber.parse(raw, default_region)
            except InvalidPhoneNumber as exc:
                row_issues.append(row_issue(number, mapping.column_label(field), raw, exc.code,
                                         exc.message))
        raw_name = mapping.cell(cells, "name")
        try:
            values["name"] = normalize_name(raw_name)
        except InvalidStudentName as exc:
            row_issues.append(row_issue(number, mapping.column_label("name"), raw_name,
                                     "NAME_REQUIRED" if is_blank(raw_name) else exc.code,
                                     exc.message.replace("del estudiante", "del acudiente")))
        raw_kind = mapping.cell(cells, "relationship")
        try:
            values["relationship"] = parse_relationship(raw_kind)
        except InvalidInput as exc:
            row_issues.append(row_issue(number, mapping.column_label("relationship"), raw_kind,
                                     "INVALID_RELATIONSHIP", exc.message))
        if not row_issues:
            student_phone = values["student_phone"]
            phone = values["phone"]
            assert isinstance(student_phone, PhoneNumber) and isinstance(phone, PhoneNumber)
            key = (student_phone.e164, phone.e164)
            if student_phone.e164 == phone.e164:
                row_issues.append(row_issue(
                    number, mapping.column_label("phone"), mapping.cell(cells, "phone"),
                    "SAME_PHONE", "El teléfono del acudiente es el mismo del estudiante. "
                    "Escriba el número del acudiente."))
            elif key in first_row_of:
                row_issues.append(row_issue(
                    number, mapping.column_label("phone"), mapping.cell(cells, "phone"),
                    "DUPLICATE_IN_FILE",
                    f"Este acudiente ya está vinculado a ese estudiante en la fila "
                    f"{first_row_of[key]}: se conserva esa fila y esta se ignora."))
            else:
                first_row_of[key] = number
                name = values["name"]
                kind = values["relationship"]
                assert isinstance(name, str) and isinstance(kind, Relationship)
                records.append(GuardianRecord(number, student_phone, phone, name, kind))
        if row_issues:
            issues.extend(row_issues)
            rejected.add(number)
    return GuardianValidation(mapping=mapping, records=tuple(records), issues=tuple(issues),
                              rows_read=len(cells_by_row), rejected_rows=frozenset(rejected),
                              cells=cells_by_row)


def _student_sheet_fields(suffix: str) -> tuple[FieldSpec, ...]:
    def names(*bases: str) -> tuple[str, ...]:
        return tuple(f"{base}{sep}{suffix}" if suffix else base
                     for base in bases for sep in (("_", " ", "") if suffix else ("",)))

    label = f" {suffix}" if suffix else ""
    return (
        FieldSpec(f"guardian_name{suffix}", names("acudiente", "nombre_acudiente",
                                                  "nombre acudiente"),
                  label=f"nombre del acudiente{label}"),
        FieldSpec(f"guardian_phone{suffix}", names("telefono_acudiente", "celular_acudiente",
                                                   "telefono acudiente", "celular acudiente"),
                  label=f"teléfono del acudiente{label}"),
        FieldSpec(f"guardian_relationship{suffix}", names("parentesco"),
                  label=f"parentesco{label}"),
    )


#: Guardian columns the student spreadsheet may carry (a second guardian with ``_2``).
STUDENT_SHEET_GUARDIAN_FIELDS: tuple[FieldSpec, ...] = (
    _student_sheet_fields("") + _student_sheet_fields("2"))


def guardians_of_student_sheet(sheet: Sheet, mapping: HeaderMapping, default_region: str,
                               skip: frozenset[int]) -> tuple[list[GuardianRecord],
                                                              list[RowIssue]]:
    """The guardian links a student spreadsheet carries (rows in ``skip`` left out). A bad
    guardian cell is a warning: the student is imported, that link is not."""
    records: list[GuardianRecord] = []
    issues: list[RowIssue] = []
    slots = [suffix for suffix in ("", "2") if f"guardian_phone{suffix}" in mapping.columns]
    if not slots:
        return records, issues
    for number, cells in sheet.rows:
        if number <= mapping.header_row or number in skip:
            continue
        try:
            student_phone = PhoneNumber.parse(mapping.cell(cells, "phone"), default_region)
        except InvalidPhoneNumber:
            continue
        for suffix in slots:
            raw_phone = mapping.cell(cells, f"guardian_phone{suffix}")
            raw_name = mapping.cell(cells, f"guardian_name{suffix}")
            raw_kind = mapping.cell(cells, f"guardian_relationship{suffix}")
            if is_blank(raw_phone) and is_blank(raw_name):
                continue
            column = mapping.column_label(f"guardian_phone{suffix}")
            try:
                phone = PhoneNumber.parse(raw_phone, default_region)
                name = normalize_name(raw_name)
                kind = parse_relationship(raw_kind)
            except InvalidInput as exc:
                issues.append(row_issue(number, column, raw_phone, "GUARDIAN_SKIPPED",
                                     f"Acudiente no vinculado: {exc.message}",
                                     Severity.WARNING))
                continue
            if phone.e164 == student_phone.e164:
                issues.append(row_issue(number, column, raw_phone, "GUARDIAN_SKIPPED",
                                     "Acudiente no vinculado: tiene el mismo teléfono del "
                                     "estudiante.", Severity.WARNING))
                continue
            records.append(GuardianRecord(number, student_phone, phone, name, kind))
    return records, issues
