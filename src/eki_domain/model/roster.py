"""Student rows of a roster import: validation, in-file duplicates and classification.

Pure functions: given a :class:`~eki_domain.model.imports.Sheet` and what the
database already holds, decide row by row what to create, update or leave alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from eki_domain.errors import InvalidPhoneNumber, InvalidStudentName, InvalidTag
from eki_domain.model.imports import (
    FieldSpec,
    HeaderMapping,
    RowIssue,
    Severity,
    Sheet,
    data_rows,
    is_blank,
    json_safe,
    map_headers,
    parse_yes_no,
    unknown_column_issues,
)
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import normalize_name, normalize_tag

STUDENT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "name",
        ("nombre", "nombres", "estudiante", "name", "nombre completo", "nombres y apellidos",
         "nombre del estudiante", "alumno", "full name"),
        required=True,
        label="del nombre",
    ),
    FieldSpec(
        "phone",
        ("telefono", "teléfono", "celular", "móvil", "movil", "whatsapp", "phone", "tel",
         "telefono celular", "numero de celular", "número de teléfono", "mobile",
         "phone number"),
        required=True,
        label="del teléfono",
    ),
    FieldSpec("active", ("activo", "estado", "active", "activa"), label="activo"),
    FieldSpec("tags", ("etiquetas", "tags", "grupo", "grupos", "etiqueta"), label="etiquetas"),
)

_TAG_SPLIT = re.compile(r"[,;|]")


@attrs.frozen
class StudentRecord:
    """One valid row: what the file says about a student."""

    row: int
    phone: PhoneNumber
    name: str
    active: bool | None  # None: the file does not say (no column, or kept as is)
    tags: frozenset[str] | None  # None: no tags column


@attrs.frozen
class ExistingStudent:
    """What the database holds for a phone, as far as an import can change it."""

    id: int
    name: str
    active: bool
    tags: frozenset[str]


@attrs.frozen
class StudentChange:
    """A row to write: the student's final values after the import."""

    row: int
    phone: PhoneNumber
    name: str
    active: bool
    tags: frozenset[str]
    replace_tags: bool
    student_id: int | None  # None: to be created


@attrs.frozen
class RosterPlan:
    creates: tuple[StudentChange, ...]
    updates: tuple[StudentChange, ...]
    unchanged: int


@attrs.frozen
class RosterValidation:
    mapping: HeaderMapping
    records: tuple[StudentRecord, ...]
    issues: tuple[RowIssue, ...]
    rows_read: int
    rejected_rows: frozenset[int]
    # the original cells of every data row, for the errors file
    cells: Mapping[int, Sequence[object]]


def _issue(row: int, column: str | None, value: object, code: str, message: str,
           severity: Severity = Severity.ERROR, normalized: object = None) -> RowIssue:
    return RowIssue(row=row, column=column, value=json_safe(value), normalized=normalized,
                    severity=severity, code=code, message=message)


def split_tags(value: object) -> list[str]:
    if is_blank(value):
        return []
    return [part for part in (p.strip() for p in _TAG_SPLIT.split(str(value))) if part]


def validate_student_rows(
    sheet: Sheet,
    default_region: str,
    *,
    progress: Callable[[int], None] | None = None,
) -> RosterValidation:
    """Validate every row; duplicates by normalised phone keep the first row."""
    mapping = map_headers(sheet, STUDENT_FIELDS)
    issues: list[RowIssue] = unknown_column_issues(mapping)
    records: list[StudentRecord] = []
    rejected: set[int] = set()
    first_row_of: dict[str, int] = {}
    cells_by_row: dict[int, Sequence[object]] = {}
    col = mapping.column_label
    has_active = "active" in mapping.columns
    has_tags = "tags" in mapping.columns
    rows_read = 0

    for number, cells in data_rows(sheet, mapping):
        rows_read += 1
        if progress is not None and rows_read % 5000 == 0:
            progress(rows_read)
        cells_by_row[number] = cells
        row_issues: list[RowIssue] = []

        raw_phone = mapping.cell(cells, "phone")
        phone: PhoneNumber | None = None
        try:
            phone = PhoneNumber.parse(raw_phone, default_region)
        except InvalidPhoneNumber as exc:
            row_issues.append(_issue(number, col("phone"), raw_phone, exc.code, exc.message))
        else:
            for warning in phone.warnings:
                row_issues.append(_issue(number, col("phone"), raw_phone, warning.code,
                                         warning.message, Severity.WARNING, phone.e164))

        raw_name = mapping.cell(cells, "name")
        name: str | None = None
        try:
            name = normalize_name(raw_name)
        except InvalidStudentName as exc:
            code = "NAME_REQUIRED" if is_blank(raw_name) else exc.code
            row_issues.append(_issue(number, col("name"), raw_name, code, exc.message))

        active: bool | None = None
        if has_active:
            raw_active = mapping.cell(cells, "active")
            try:
                parsed = parse_yes_no(raw_active)
            except ValueError:
                row_issues.append(_issue(
                    number, col("active"), raw_active, "INVALID_ACTIVE",
                    f"«{raw_active}» no es un valor válido para «{col('active')}». "
                    "Escriba sí o no (también valen 1/0, x, true/false); vacío = activo."))
            else:
                active = True if parsed is None else parsed

        tags: frozenset[str] | None = None
        if has_tags:
            raw_tags = mapping.cell(cells, "tags")
            collected: set[str] = set()
            for part in split_tags(raw_tags):
                try:
                    collected.add(normalize_tag(part))
                except InvalidTag as exc:
                    row_issues.append(_issue(number, col("tags"), raw_tags, exc.code,
                                             exc.message))
            tags = frozenset(collected)

        if phone is not None and not any(i.severity is Severity.ERROR for i in row_issues):
            first = first_row_of.get(phone.e164)
            if first is not None:
                row_issues.append(_issue(
                    number, col("phone"), raw_phone, "DUPLICATE_IN_FILE",
                    f"Teléfono duplicado de la fila {first} ({phone.e164}): se conserva la "
                    f"fila {first} y esta se ignora. Corrija el número o borre una de las dos.",
                    normalized=phone.e164))
            else:
                first_row_of[phone.e164] = number

        issues.extend(row_issues)
        if any(i.severity is Severity.ERROR for i in row_issues):
            rejected.add(number)
        else:
            assert phone is not None and name is not None
            records.append(StudentRecord(row=number, phone=phone, name=name, active=active,
                                         tags=tags))
    return RosterValidation(mapping=mapping, records=tuple(records), issues=tuple(issues),
                            rows_read=rows_read, rejected_rows=frozenset(rejected),
                            cells=cells_by_row)


def plan_roster(
    records: Iterable[StudentRecord], existing: Mapping[str, ExistingStudent]
) -> RosterPlan:
    """Classify each record against the database: create, update or unchanged.

    Columns the file does not have leave the stored value alone; an empty
    ``activo`` cell means active.
    """
    creates: list[StudentChange] = []
    updates: list[StudentChange] = []
    unchanged = 0
    for record in records:
        current = existing.get(record.phone.e164)
        if current is None:
            creates.append(StudentChange(
                row=record.row, phone=record.phone, name=record.name,
                active=True if record.active is None else record.active,
                tags=record.tags or frozenset(), replace_tags=bool(record.tags),
                student_id=None))
            continue
        active = current.active if record.active is None else record.active
        tags = current.tags if record.tags is None else record.tags
        if (record.name, active, tags) == (current.name, current.active, current.tags):
            unchanged += 1
            continue
        updates.append(StudentChange(
            row=record.row, phone=record.phone, name=record.name, active=active, tags=tags,
            replace_tags=tags != current.tags, student_id=current.id))
    return RosterPlan(creates=tuple(creates), updates=tuple(updates), unchanged=unchanged)
