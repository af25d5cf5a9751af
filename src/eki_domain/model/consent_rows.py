"""Rows of a paper-consent import (``eki consent import``: ``telefono, fecha, version,
medio``): validation and in-file duplicates. Pure functions, like
:mod:`eki_domain.model.guardian_rows`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import NamedTuple

import attrs

from eki_domain.errors import InvalidInput, InvalidPhoneNumber
from eki_domain.model.consent import ConsentMedium, check_policy_version, parse_medium
from eki_domain.model.gradebook import parse_date
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

__all__ = ["CONSENT_FIELDS", "ConsentRow", "ConsentValidation", "validate_consent_rows"]

CONSENT_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("phone", ("telefono", "teléfono", "celular", "whatsapp", "phone",
                        "telefono acudiente", "telefono estudiante"),
              required=True, label="del teléfono"),
    FieldSpec("date", ("fecha", "fecha autorizacion", "fecha de autorizacion", "fecha firma",
                       "date"), required=True, label="de la fecha de la autorización"),
    FieldSpec("version", ("version", "versión", "version politica", "version de la politica"),
              label="de la versión de la política"),
    FieldSpec("medium", ("medio", "canal", "forma", "medium"), label="del medio"),
)


class ConsentRow(NamedTuple):
    row: int
    phone: PhoneNumber
    day: date
    version: str
    medium: ConsentMedium


@attrs.frozen
class ConsentValidation:
    mapping: HeaderMapping
    records: tuple[ConsentRow, ...]
    issues: tuple[RowIssue, ...]
    rows_read: int
    rejected_rows: frozenset[int]
    cells: Mapping[int, Sequence[object]]


def validate_consent_rows(sheet: Sheet, default_region: str, *, version: str,
                          today: date) -> ConsentValidation:
    """Validate every row; a blank version is ``version`` (the current one), a blank medium
    ``import``; the same phone and version twice keeps the first row."""
    mapping = map_headers(sheet, CONSENT_FIELDS)
    issues: list[RowIssue] = unknown_column_issues(mapping)
    records: list[ConsentRow] = []
    rejected: set[int] = set()
    cells_by_row: dict[int, Sequence[object]] = {}
    first_row_of: dict[tuple[str, str], int] = {}

    def label(field: str) -> str | None:
        return mapping.column_label(field) if field in mapping.columns else None

    for number, cells in sheet.rows:
        if number <= mapping.header_row or all(is_blank(c) for c in cells):
            continue
        cells_by_row[number] = cells
        row_issues: list[RowIssue] = []
        phone: PhoneNumber | None = None
        day: date | None = None
        row_version = version
        medium = ConsentMedium.IMPORT
        raw_phone = mapping.cell(cells, "phone")
        try:
            phone = PhoneNumber.parse(raw_phone, default_region)
        except InvalidPhoneNumber as exc:
            row_issues.append(row_issue(number, label("phone"), raw_phone, exc.code,
                                        exc.message))
        raw_date = mapping.cell(cells, "date")
        try:
            if is_blank(raw_date):
                raise ValueError(raw_date)
            day = parse_date(raw_date)
        except (ValueError, TypeError, OverflowError):
            row_issues.append(row_issue(
                number, label("date"), raw_date, "INVALID_DATE",
                "Escriba la fecha en que se firmó la autorización (por ejemplo 2026-02-01 o "
                "01/02/2026)."))
        if day is not None and day > today:
            row_issues.append(row_issue(number, label("date"), raw_date, "FUTURE_DATE",
                                        "La fecha de la autorización no puede ser futura."))
        raw_version = mapping.cell(cells, "version")
        if not is_blank(raw_version):
            try:
                row_version = check_policy_version(raw_version)
            except InvalidInput as exc:
                row_issues.append(row_issue(number, label("version"), raw_version,
                                            "INVALID_VERSION", exc.message))
        raw_medium = mapping.cell(cells, "medium")
        try:
            medium = parse_medium(raw_medium)
        except InvalidInput as exc:
            row_issues.append(row_issue(number, label("medium"), raw_medium, "INVALID_MEDIUM",
                                        exc.message))
        if not row_issues and phone is not None and day is not None:
            key = (phone.e164, row_version)
            if key in first_row_of:
                issues.append(row_issue(
                    number, label("phone"), raw_phone, "DUPLICATE_IN_FILE",
                    f"Este teléfono ya tiene una autorización de la versión {row_version} en "
                    f"la fila {first_row_of[key]}: se conserva esa fila y esta se ignora.",
                    Severity.WARNING))
                continue
            first_row_of[key] = number
            records.append(ConsentRow(number, phone, day, row_version, medium))
        if row_issues:
            issues.extend(row_issues)
            rejected.add(number)
    return ConsentValidation(mapping=mapping, records=tuple(records), issues=tuple(issues),
                             rows_read=len(cells_by_row), rejected_rows=frozenset(rejected),
                             cells=cells_by_row)
