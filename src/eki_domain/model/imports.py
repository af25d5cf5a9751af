"""What every import shares: sheets, header mapping, row issues, modes and the report.

A :class:`Sheet` is what a reader produced (headers and raw cell values with
their spreadsheet row numbers); :func:`map_headers` finds the columns EKI needs
by name, accent- and case-insensitively; validation turns cells into domain
values and :class:`RowIssue` s; the :class:`ImportReport` tells the person what
happened, row by row, in Spanish.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from eki_domain.errors import EkiError

#: Columns EKI adds to an errors file; ignored silently when that file is re-uploaded.
ERRORS_FILE_COLUMNS = ("fila_original", "errores")
ERRORS_FILE_HEADER_KEYS = frozenset({"filaoriginal", "errores"})

#: How many rows from the top may hold titles before the header row.
HEADER_SEARCH_ROWS = 10


class ImportFileError(EkiError):
    """The file as a whole cannot be imported (unreadable, wrong columns…). Nothing is written."""

    code = "UNREADABLE_FILE"

    def __init__(self, message: str, *, code: str = "UNREADABLE_FILE") -> None:
        super().__init__(message, code=code)


class ImportInProgress(EkiError):
    code = "IMPORT_IN_PROGRESS"

    def __init__(self, kind: str = "students") -> None:
        super().__init__(
            "Ya hay una importación en curso en esta base de datos. Espere a que termine "
            "(normalmente unos segundos) y vuelva a intentarlo.",
        )
        self.kind = kind


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


class ImportMode(enum.StrEnum):
    DEFAULT = "default"  # valid rows are written, the rest reported
    STRICT = "strict"  # any error: nothing is written


class ImportStatus(enum.StrEnum):
    COMPLETED = "completed"
    DRY_RUN = "dry_run"
    REJECTED = "rejected"  # strict mode found errors: nothing written
    FAILED = "failed"  # the file could not be imported at all


@attrs.frozen
class Sheet:
    """Cells as read from a file. ``rows`` hold (spreadsheet row number, cells)."""

    filename: str
    sha256: str
    rows: Sequence[tuple[int, Sequence[object]]]
    sheet_name: str | None = None


#: What an issue repeats of a cell's text: its ``value`` keeps this many characters, and a
#: quoted value («…») in its message is cut at :data:`QUOTED_CHARS`. A file may hold cells
#: of 32,000 characters; a report that repeats each one twice per problem grows without use.
VALUE_CHARS = 200
QUOTED_CHARS = 100
#: The longest message an issue keeps (its advice comes after the quoted values).
MESSAGE_CHARS = 2000
_LONG_QUOTE = re.compile("«([^»]{" + str(QUOTED_CHARS + 1) + ",})»")


def _shortened_value(value: object) -> object:
    if isinstance(value, str) and len(value) > VALUE_CHARS:
        return value[:VALUE_CHARS - 1] + "…"
    return value


def _shortened_message(message: str) -> str:
    if len(message) <= QUOTED_CHARS:
        return message
    message = _LONG_QUOTE.sub(lambda found: f"«{found[1][:QUOTED_CHARS - 1]}…»", message)
    return message if len(message) <= MESSAGE_CHARS else message[:MESSAGE_CHARS - 1] + "…"


@attrs.frozen
class RowIssue:
    """A problem of one row (or of the file, row 0). Long cell text is shortened where it
    is repeated: ``value`` to :data:`VALUE_CHARS`, quotes in ``message`` to
    :data:`QUOTED_CHARS` (the whole cell stays in the errors file)."""

    row: int
    column: str | None
    value: object = attrs.field(converter=_shortened_value)
    normalized: object = attrs.field(converter=_shortened_value)
    severity: Severity = attrs.field()
    code: str = attrs.field()
    message: str = attrs.field(converter=_shortened_message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "normalized": self.normalized,
            "severity": str(self.severity),
            "code": self.code,
            "message": self.message,
        }


@attrs.frozen
class FieldSpec:
    """A logical column: its name, the headers that mean it, whether it must be present."""

    name: str
    aliases: tuple[str, ...]
    required: bool = False
    label: str = ""  # the Spanish name shown to people


def header_key(text: object) -> str:
    """``' Teléfono Celular '`` → ``'telefonocelular'``: no accents, case, spaces or punctuation."""
    decomposed = unicodedata.normalize("NFKD", str(text if text is not None else ""))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^0-9a-z]", "", stripped.lower())


@attrs.frozen
class HeaderMapping:
    header_row: int
    headers: tuple[str, ...]
    columns: dict[str, int]  # field name → column index
    unknown: tuple[tuple[int, str], ...]  # (column index, header) not mapped

    def cell(self, cells: Sequence[object], field: str) -> object:
        index = self.columns.get(field)
        if index is None or index >= len(cells):
            return None
        return cells[index]

    def column_label(self, field: str) -> str:
        return self.headers[self.columns[field]]


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _match(headers: Sequence[object], specs: Sequence[FieldSpec]) -> dict[str, list[int]]:
    by_alias = {header_key(alias): spec.name for spec in specs for alias in spec.aliases}
    found: dict[str, list[int]] = {}
    for index, header in enumerate(headers):
        name = by_alias.get(header_key(header))
        if name is not None:
            found.setdefault(name, []).append(index)
    return found


def map_headers(sheet: Sheet, specs: Sequence[FieldSpec]) -> HeaderMapping:
    """Find the header row (the first non-blank row, or a later one among the first
    rows when titles sit above it) and map its columns onto ``specs``.

    Raises :class:`ImportFileError` for an empty file, a missing required column
    (naming the columns found) or the same field twice.
    """
    candidates = [(number, cells) for number, cells in sheet.rows[:HEADER_SEARCH_ROWS + 5]
                  if not all(is_blank(c) for c in cells)][:HEADER_SEARCH_ROWS]
    if not candidates:
        raise ImportFileError(
            f"El archivo «{sheet.filename}» está vacío: no tiene encabezados ni filas. "
            "Revise que guardó la hoja correcta.",
            code="EMPTY_FILE",
        )
    required = [s for s in specs if s.required]
    chosen = candidates[0]
    for number, cells in candidates:
        found = _match(cells, specs)
        if all(spec.name in found for spec in required):
            chosen = (number, cells)
            break
    header_row, cells = chosen
    headers = tuple("" if is_blank(c) else str(c).strip() for c in cells)
    found = _match(headers, specs)
    missing = [s for s in required if s.name not in found]
    if missing:
        present = ", ".join(f"«{h}»" for h in headers if h) or "(ninguna)"
        wanted = "; ".join(
            f"{s.label or s.name} (por ejemplo «{s.aliases[0]}»)" for s in missing
        )
        raise ImportFileError(
            f"Falta la columna {wanted}. Columnas encontradas en la fila {header_row}: "
            f"{present}. Cambie el encabezado y vuelva a subir el archivo.",
            code="MISSING_COLUMN",
        )
    for spec in specs:
        indexes = found.get(spec.name, [])
        if len(indexes) > 1:
            names = " y ".join(f"«{headers[i]}»" for i in indexes)
            raise ImportFileError(
                f"Las columnas {names} significan lo mismo ({spec.label or spec.name}). "
                "Deje solo una y vuelva a subir el archivo.",
                code="DUPLICATE_COLUMN",
            )
    mapped = {i for indexes in found.values() for i in indexes}
    unknown = tuple(
        (i, h)
        for i, h in enumerate(headers)
        if h and i not in mapped and header_key(h) not in ERRORS_FILE_HEADER_KEYS
    )
    return HeaderMapping(
        header_row=header_row,
        headers=headers,
        columns={name: indexes[0] for name, indexes in found.items()},
        unknown=unknown,
    )


def unknown_column_issues(mapping: HeaderMapping) -> list[RowIssue]:
    return [
        RowIssue(
            row=mapping.header_row,
            column=header,
            value=header,
            normalized=None,
            severity=Severity.WARNING,
            code="UNKNOWN_COLUMN",
            message=f"La columna «{header}» no se reconoce y se ignoró. "
            "Si contiene datos necesarios, cámbiele el nombre.",
        )
        for _index, header in mapping.unknown
    ]


def sheet_from_records(records: Sequence[Mapping[str, object]], filename: str,
                       sha256: str = "") -> Sheet:
    """Rows the caller already has (e.g. a JSON array) as a Sheet: keys become headers,
    row numbers are 1-based positions in the list (the header is row 0)."""
    headers: list[str] = []
    seen: set[str] = set()
    for record in records:
        for key in record:
            if key not in seen:
                seen.add(key)
                headers.append(key)
    rows: list[tuple[int, Sequence[object]]] = [(0, tuple(headers))]
    rows.extend(
        (position, tuple(_scalar(record.get(h)) for h in headers))
        for position, record in enumerate(records, start=1)
    )
    return Sheet(filename=filename, sha256=sha256, rows=rows)


def _scalar(value: object) -> object:
    """Cells are scalars: a nested list or object (from JSON) becomes its text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def json_safe(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def row_issue(row: int, column: str | None, value: object, code: str, message: str,
              severity: Severity = Severity.ERROR, normalized: object = None) -> RowIssue:
    """A problem found in one cell of an imported row (the value made JSON-safe)."""
    return RowIssue(row=row, column=column, value=json_safe(value), normalized=normalized,
                    severity=severity, code=code, message=message)


def parse_yes_no(value: object) -> bool | None:
    """sí/si/no/true/false/1/0/x (and a few more); empty → None; anything else raises ValueError."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        if value in (0, 1):
            return bool(value)
        raise ValueError(value)
    key = header_key(value)
    if key in _YES:
        return True
    if key in _NO:
        return False
    raise ValueError(value)


_YES = frozenset({"si", "s", "yes", "y", "true", "verdadero", "1", "x", "activo", "activa"})
_NO = frozenset({"no", "n", "false", "falso", "0", "inactivo", "inactiva"})


@attrs.frozen
class FailedRow:
    """A rejected row as it was in the file, with why — for the fix-and-reupload file."""

    row: int
    cells: tuple[object, ...]
    errors: str


@attrs.frozen
class ImportReport:
    """What happened, for a person (Spanish messages) and for scripts (JSON)."""

    kind: str
    file: str
    sha256: str
    mode: ImportMode
    dry_run: bool
    status: ImportStatus
    rows_read: int
    created: int
    updated: int
    unchanged: int
    rows_rejected: int
    duration_ms: int
    issues: tuple[RowIssue, ...]
    message: str = ""

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for i in self.issues if i.severity is Severity.WARNING)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "sha256": self.sha256,
            "mode": str(self.mode),
            "dry_run": self.dry_run,
            "status": str(self.status),
            "rows_read": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rows_rejected": self.rows_rejected,
            "errors": self.errors,
            "warnings": self.warnings,
            "duration_ms": self.duration_ms,
            "message": self.message,
            "issues": [issue.as_dict() for issue in self.issues],
        }
