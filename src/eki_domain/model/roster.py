"""Student rows of a roster import: validation, in-file duplicates and classification.

Pure functions: given a :class:`~eki_domain.model.imports.Sheet` and what the
database already holds, decide row by row what to create, update or leave alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

import attrs

from eki_domain.errors import InvalidPhoneNumber, InvalidStudentName, InvalidTag
from eki_domain.model.guardian_rows import STUDENT_SHEET_GUARDIAN_FIELDS
from eki_domain.model.imports import (
    FieldSpec,
    HeaderMapping,
    RowIssue,
    Severity,
    Sheet,
    is_blank,
    map_headers,
    parse_yes_no,
    row_issue,
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
    *STUDENT_SHEET_GUARDIAN_FIELDS,  # linked by the student import (docs/families.md)
)

_TAG_SPLIT = re.compile(r"[,;|]")


# The three row-level value objects below are NamedTuples rather than attrs classes:
# an import builds one per row (100,000+) and a frozen attrs __init__ costs ~5x more.


class StudentRecord(NamedTuple):
    """One valid row: what the file says about a student."""

    row: int
    phone: PhoneNumber
    name: str
    active: bool | None  # None: the file does not say (no column, or kept as is)
    tags: frozenset[str] | None  # None: no tags column


class ExistingStudent(NamedTuple):
    """What the database holds for a phone, as far as an import can change it."""

    id: int
    name: str
    active: bool
    tags: frozenset[str]


class StudentChange(NamedTuple):
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
    """Validate every row; duplicates by normalised phone keep the first row.

    Written for 100,000-row files: cell values that repeat (activo, etiquetas) are
    parsed once, and issues are only built for rows that have them.
    """
    mapping = map_headers(sheet, STUDENT_FIELDS)
    issues: list[RowIssue] = unknown_column_issues(mapping)
    records: list[StudentRecord] = []
    rejected: set[int] = set()
    first_row_of: dict[str, int] = {}
    cells_by_row: dict[int, Sequence[object]] = {}
    phone_col = mapping.columns["phone"]
    name_col = mapping.columns["name"]
    active_col = mapping.columns.get("active")
    tags_col = mapping.columns.get("tags")
    phone_label = mapping.column_label("phone")
    name_label = mapping.column_label("name")
    active_cache: dict[object, bool | None] = {}
    tags_cache: dict[object, tuple[frozenset[str], tuple[str, ...]]] = {}
    parse_phone = PhoneNumber.parse
    header_row = mapping.header_row
    rows_read = 0

    for number, cells in sheet.rows:
        if number <= header_row:
            continue
        width = len(cells)
        raw_phone = cells[phone_col] if phone_col < width else None
        raw_name = cells[name_col] if name_col < width else None
        if (
            raw_phone is None
            or raw_name is None
            or (type(raw_phone) is str and not raw_phone.strip())
            or (type(raw_name) is str and not raw_name.strip())
        ) and all(is_blank(c) for c in cells):
            continue  # blank rows are skipped silently
        rows_read += 1
        if progress is not None and rows_read % 5000 == 0:
            progress(rows_read)
        cells_by_row[number] = cells
        row_issues: list[RowIssue] | None = None
        failed = False

        phone: PhoneNumber | None = None
        try:
            phone = parse_phone(raw_phone, default_region)
        except InvalidPhoneNumber as exc:
            row_issues = [row_issue(number, phone_label, raw_phone, exc.code, exc.message)]
            failed = True
        else:
            if phone.warnings:
                row_issues = [
                    row_issue(number, phone_label, raw_phone, warning.code, warning.message,
                           Severity.WARNING, phone.e164)
                    for warning in phone.warnings
                ]

        name: str | None = None
        try:
            name = normalize_name(raw_name)
        except InvalidStudentName as exc:
            code = "NAME_REQUIRED" if is_blank(raw_name) else exc.code
            row_issues = (row_issues or []) + [
                row_issue(number, name_label, raw_name, code, exc.message)]
            failed = True

        active: bool | None = None
        if active_col is not None:
            raw_active = cells[active_col] if active_col < width else None
            try:
                active = active_cache[raw_active]
            except KeyError:
                try:
                    parsed = parse_yes_no(raw_active)
                except ValueError:
                    label = mapping.column_label("active")
                    row_issues = (row_issues or []) + [row_issue(
                        number, label, raw_active, "INVALID_ACTIVE",
                        f"«{raw_active}» no es un valor válido para «{label}». "
                        "Escriba sí o no (también valen 1/0, x, true/false); vacío = activo.")]
                    failed = True
                else:
                    active = active_cache[raw_active] = True if parsed is None else parsed

        tags: frozenset[str] | None = None
        if tags_col is not None:
            raw_tags = cells[tags_col] if tags_col < width else None
            cached = tags_cache.get(raw_tags)
            if cached is None:
                collected: set[str] = set()
                problems: list[str] = []
                for part in split_tags(raw_tags):
                    try:
                        collected.add(normalize_tag(part))
                    except InvalidTag as exc:
                        problems.append(exc.message)
                cached = tags_cache[raw_tags] = (frozenset(collected), tuple(problems))
            tags, problems_found = cached
            if problems_found:
                label = mapping.column_label("tags")
                row_issues = (row_issues or []) + [
                    row_issue(number, label, raw_tags, "INVALID_TAG", message)
                    for message in problems_found]
                failed = True

        if phone is not None and not failed:
            first = first_row_of.get(phone.e164)
            if first is not None:
                row_issues = (row_issues or []) + [row_issue(
                    number, phone_label, raw_phone, "DUPLICATE_IN_FILE",
                    f"Teléfono duplicado de la fila {first} ({phone.e164}): se conserva la "
                    f"fila {first} y esta se ignora. Corrija el número o borre una de las dos.",
                    normalized=phone.e164)]
                failed = True
            else:
                first_row_of[phone.e164] = number

        if row_issues:
            issues.extend(row_issues)
        if failed:
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
    # Called for every row of 100,000-row files: positional tuples, names bound locally.
    change = StudentChange
    add = creates.append
    stored = existing.get
    no_tags: frozenset[str] = frozenset()
    for record in records:
        row, phone, name, active, tags = record
        current = stored(phone.e164)
        if current is None:
            add(change(row, phone, name, True if active is None else active,
                       tags or no_tags, bool(tags), None))
            continue
        if active is None:
            active = current.active
        if tags is None:
            tags = current.tags
        if name == current.name and active == current.active and tags == current.tags:
            unchanged += 1
            continue
        updates.append(change(row, phone, name, active, tags, tags != current.tags,
                              current.id))
    return RosterPlan(creates=tuple(creates), updates=tuple(updates), unchanged=unchanged)
