"""Gradebook, attendance and enrolment rows of a progress import: header specs, kind
detection and validation (pure). Phones are resolved to students later, against the
database; everything else is checked here, row by row, with Spanish messages.

Written for a million rows: values that repeat (phones, courses, scores, dates) are
parsed once and cached.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import NamedTuple

import attrs

from eki_domain.errors import InvalidPhoneNumber
from eki_domain.model.imports import (
    FieldSpec,
    HeaderMapping,
    ImportFileError,
    RowIssue,
    Severity,
    Sheet,
    header_key,
    is_blank,
    json_safe,
    map_headers,
    unknown_column_issues,
)
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.progress import AttendanceStatus, GradingScale, ResultStatus


class ProgressKind(enum.StrEnum):
    GRADES = "grades"
    ATTENDANCE = "attendance"
    ENROLLMENTS = "enrollments"


PHONE = FieldSpec("phone", ("telefono", "teléfono", "celular", "phone", "whatsapp", "movil"),
                  required=True, label="del teléfono")
COURSE = FieldSpec("course", ("curso", "materia", "asignatura", "course", "area", "área"),
                   required=True, label="del curso")
PERIOD = FieldSpec("period", ("periodo", "período", "period", "term", "trimestre", "bimestre"),
                   label="periodo")

FIELDS: dict[ProgressKind, tuple[FieldSpec, ...]] = {
    ProgressKind.GRADES: (
        PHONE, COURSE, PERIOD,
        FieldSpec("assessment", ("actividad", "evaluacion", "evaluación", "assessment",
                                 "tarea", "titulo", "título"), required=True,
                  label="de la actividad"),
        FieldSpec("score", ("nota", "score", "calificacion", "calificación", "resultado"),
                  required=True, label="de la nota"),
        FieldSpec("max_score", ("nota_maxima", "nota máxima", "max_score", "maximo",
                                "máximo", "sobre"), label="nota máxima"),
        FieldSpec("weight", ("peso", "weight", "porcentaje", "%"), label="peso"),
        FieldSpec("due_date", ("fecha_entrega", "fecha de entrega", "due_date", "entrega",
                               "fecha limite", "fecha límite"), label="fecha de entrega"),
    ),
    ProgressKind.ATTENDANCE: (
        PHONE, COURSE, PERIOD,
        FieldSpec("day", ("fecha", "date", "dia", "día"), required=True, label="de la fecha"),
        FieldSpec("status", ("estado", "status", "asistencia"), required=True,
                  label="del estado"),
    ),
    ProgressKind.ENROLLMENTS: (
        PHONE, COURSE, PERIOD,
        FieldSpec("code", ("codigo", "código", "code", "codigo curso"), label="código"),
    ),
}

_ATTENDANCE_WORDS = {
    "presente": AttendanceStatus.PRESENT, "present": AttendanceStatus.PRESENT,
    "p": AttendanceStatus.PRESENT, "asistio": AttendanceStatus.PRESENT,
    "si": AttendanceStatus.PRESENT,
    "ausente": AttendanceStatus.ABSENT, "absent": AttendanceStatus.ABSENT,
    "a": AttendanceStatus.ABSENT, "falta": AttendanceStatus.ABSENT,
    "fallo": AttendanceStatus.ABSENT, "no": AttendanceStatus.ABSENT,
    "inasistencia": AttendanceStatus.ABSENT,
    "tarde": AttendanceStatus.LATE, "late": AttendanceStatus.LATE,
    "t": AttendanceStatus.LATE, "retardo": AttendanceStatus.LATE,
    "llegotarde": AttendanceStatus.LATE,
    "excusa": AttendanceStatus.EXCUSED, "excused": AttendanceStatus.EXCUSED,
    "e": AttendanceStatus.EXCUSED, "excusado": AttendanceStatus.EXCUSED,
    "justificada": AttendanceStatus.EXCUSED, "justificado": AttendanceStatus.EXCUSED,
}
_PENDING_WORDS = {"pendiente", "pending", "sinnota", "np", "-"}
_EXCUSED_WORDS = {"excusa", "excusado", "excused", "ex", "exento", "exenta", "justificado"}
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$")
_EXCEL_EPOCH = date(1899, 12, 30)


def detect_kind(headers: Sequence[object]) -> ProgressKind | None:
    keys = {header_key(h) for h in headers}

    def has(spec: FieldSpec) -> bool:
        return any(header_key(alias) in keys for alias in spec.aliases)

    grades, attendance_ = FIELDS[ProgressKind.GRADES], FIELDS[ProgressKind.ATTENDANCE]
    if has(grades[3]) or has(grades[4]):  # actividad or nota
        return ProgressKind.GRADES
    if has(attendance_[3]) and has(attendance_[4]):  # fecha and estado
        return ProgressKind.ATTENDANCE
    if has(PHONE) and has(COURSE):
        return ProgressKind.ENROLLMENTS
    return None


class ValidGrade(NamedTuple):
    row: int
    phone: str
    course: str
    period: str | None
    assessment: str
    max_score: float | None
    weight: float | None
    due_date: date | None
    score: float | None
    status: ResultStatus


class ValidAttendance(NamedTuple):
    row: int
    phone: str
    course: str
    period: str | None
    day: date
    status: AttendanceStatus


class ValidEnrollment(NamedTuple):
    row: int
    phone: str
    course: str
    period: str | None
    code: str | None


ValidRow = ValidGrade | ValidAttendance | ValidEnrollment


@attrs.frozen
class ProgressValidation:
    kind: ProgressKind
    mapping: HeaderMapping
    rows: tuple[ValidRow, ...]
    issues: tuple[RowIssue, ...]
    rows_read: int
    rejected_rows: frozenset[int]
    cells: dict[int, Sequence[object]]


class _Problem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_number(value: object) -> float:
    """4,5 / 4.5 / "45" / 4 → float; raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace(" ", "").rstrip("%")
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    return float(text)


def parse_date(value: object) -> date:
    """ISO (2026-03-02, 2026-03-02T00:00:00), dd/mm/yyyy, dd-mm-yy or an Excel serial."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 20000 <= value <= 80000:  # an Excel serial date (1954-2118)
            return _EXCEL_EPOCH + timedelta(days=int(value))
        raise ValueError(value)
    text = str(value).strip()
    match = _DMY.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        if year < 100:
            year += 2000
        return date(year, month, day)
    return date.fromisoformat(text[:10])


def _text(value: object, limit: int) -> str | None:
    if is_blank(value):
        return None
    text = " ".join(str(value).split())
    return text[:limit]


def _add(issues: list[RowIssue], row: int, column: str | None, raw: object, code: str,
         message: str) -> None:
    issues.append(RowIssue(row=row, column=column, value=json_safe(raw), normalized=None,
                           severity=Severity.ERROR, code=code, message=message))


def validate_progress_rows(
    sheet: Sheet,
    default_region: str,
    scale: GradingScale,
    *,
    kind: ProgressKind | None = None,
    progress: Callable[[int], None] | None = None,
) -> ProgressValidation:
    if kind is None:
        header_candidates = [cells for _n, cells in sheet.rows[:15]
                             if any(not is_blank(c) for c in cells)]
        detected = next((k for k in (detect_kind(c) for c in header_candidates) if k), None)
        if detected is None:
            raise ImportFileError(
                "No se reconoce el tipo de archivo: para notas use las columnas telefono, "
                "curso, actividad y nota; para asistencia telefono, curso, fecha y estado; "
                "para matrículas telefono y curso.", code="UNKNOWN_KIND")
        kind = detected
    mapping = map_headers(sheet, FIELDS[kind])
    issues: list[RowIssue] = unknown_column_issues(mapping)
    valid: list[ValidRow] = []
    rejected: set[int] = set()
    cells_by_row: dict[int, Sequence[object]] = {}
    seen: dict[tuple[object, ...], int] = {}
    col = mapping.columns
    labels = {name: mapping.column_label(name) for name in col}
    phones: dict[object, str | _Problem] = {}
    numbers: dict[object, float | _Problem] = {}
    dates: dict[object, date | _Problem] = {}
    rows_read = 0

    width = len(mapping.headers)
    at = {name: col.get(name) for name in (
        "phone", "course", "period", "assessment", "score", "max_score", "weight", "due_date",
        "day", "status", "code")}
    i_phone, i_course, i_period, i_assessment, i_max, i_weight, i_due, i_score, i_day, \
        i_status, i_code = (at[name] for name in (
            "phone", "course", "period", "assessment", "max_score", "weight", "due_date",
            "score", "day", "status", "code"))
    texts: dict[tuple[object, int], tuple[str, str] | None] = {}
    scores: dict[tuple[object, float | None], tuple[float | None, ResultStatus, _Problem | None]]
    scores = {}

    def text_of(raw: object, limit: int) -> tuple[str, str] | None:
        """(text, casefolded key), cached: courses, titles and periods repeat a lot."""
        key = (raw, limit)
        if key in texts:
            return texts[key]
        value = _text(raw, limit)
        found = None if value is None else (value, value.casefold())
        texts[key] = found
        return found

    def score_of(raw: object, max_score: float | None
                 ) -> tuple[float | None, ResultStatus, _Problem | None]:
        key = (raw, max_score)
        found = scores.get(key)
        if found is not None:
            return found
        word = header_key(raw) if isinstance(raw, str) else ""
        if is_blank(raw) or word in _PENDING_WORDS:
            found = (None, ResultStatus.PENDING, None)
        elif word in _EXCUSED_WORDS:
            found = (None, ResultStatus.EXCUSED, None)
        else:
            try:
                value = number_of(raw, "score")
                top = max_score if max_score is not None else scale.maximum
                if not 0 <= value <= top:
                    raise _Problem(
                        "SCORE_OUT_OF_RANGE",
                        f"La nota {raw} está fuera del rango 0–{top:g}. Revísela o "
                        "indique la nota máxima en la columna nota_maxima.")
                found = (value, ResultStatus.GRADED, None)
            except _Problem as exc:
                found = (None, ResultStatus.GRADED, exc)
        scores[key] = found
        return found

    def phone_of(raw: object) -> str:
        found = phones.get(raw)
        if found is None:
            try:
                found = PhoneNumber.parse(raw, default_region).e164
            except InvalidPhoneNumber as exc:
                found = _Problem(exc.code, exc.message)
            phones[raw] = found
        if isinstance(found, _Problem):
            raise found
        return found

    def number_of(raw: object, name: str) -> float:
        found = numbers.get(raw)
        if found is None:
            try:
                found = parse_number(raw)
            except (ValueError, TypeError):
                found = _Problem("INVALID_NUMBER",
                                 f"«{raw}» no es un número. Escriba, por ejemplo, 4,5 o 4.5.")
            numbers[raw] = found
        if isinstance(found, _Problem):
            raise _Problem(found.code, f"{labels[name]}: {found.message}")
        return found

    def date_of(raw: object, name: str) -> date:
        found = dates.get(raw)
        if found is None:
            try:
                found = parse_date(raw)
            except (ValueError, TypeError):
                found = _Problem("INVALID_DATE",
                                 f"«{raw}» no es una fecha válida. Use AAAA-MM-DD (2026-03-02) "
                                 "o DD/MM/AAAA (02/03/2026).")
            dates[raw] = found
        if isinstance(found, _Problem):
            raise found
        return found

    header_row = mapping.header_row
    for number, cells in sheet.rows:
        if number <= header_row:
            continue
        if len(cells) < width:
            cells = [*cells, *([None] * (width - len(cells)))]
        if (not cells[at["phone"] or 0] or not cells[at["course"] or 0]) and all(
                is_blank(c) for c in cells):
            continue
        rows_read += 1
        if progress is not None and rows_read % 20000 == 0:
            progress(rows_read)
        cells_by_row[number] = cells
        row_issues: list[RowIssue] = []

        raw_phone = cells[i_phone]  # type: ignore[index]  # a required column
        phone = phones.get(raw_phone)  # the cache first: phones repeat on every row
        if type(phone) is not str:
            phone = None
            try:
                phone = phone_of(raw_phone)
            except _Problem as exc:
                _add(row_issues, number, labels.get("phone"), raw_phone, exc.code, exc.message)
        raw_course = cells[i_course]  # type: ignore[index]  # a required column
        course_key = (raw_course, 200)
        course_text = texts[course_key] if course_key in texts else text_of(raw_course, 200)
        if course_text is None:
            _add(row_issues, number, labels.get("course"), None, "COURSE_REQUIRED",
                 "Falta el curso o materia de la fila.")
        period_text = text_of((None if i_period is None else cells[i_period]), 50)
        period = None if period_text is None else period_text[0]
        period_key = "" if period_text is None else period_text[1]

        row: ValidRow | None = None
        key: tuple[object, ...] = ()
        if kind is ProgressKind.GRADES:
            raw_title = cells[i_assessment]  # type: ignore[index]  # a required column
            title_key = (raw_title, 200)
            title_text = texts[title_key] if title_key in texts else text_of(raw_title, 200)
            if title_text is None:
                _add(row_issues, number, labels.get("assessment"), None, "ASSESSMENT_REQUIRED",
                        "Falta el nombre de la actividad (por ejemplo «Taller 1»).")
            max_score: float | None = None
            raw_max = (None if i_max is None else cells[i_max])
            if raw_max is not None and raw_max != "" and not is_blank(raw_max):
                try:
                    max_score = number_of(raw_max, "max_score")
                    if max_score <= 0:
                        raise _Problem("INVALID_MAX_SCORE", "La nota máxima debe ser mayor que 0.")
                except _Problem as exc:
                    _add(row_issues, number, labels.get("max_score"), raw_max, exc.code,
                         exc.message)
                    max_score = None
            weight: float | None = None
            raw_weight = (None if i_weight is None else cells[i_weight])
            if raw_weight is not None and raw_weight != "" and not is_blank(raw_weight):
                try:
                    weight = number_of(raw_weight, "weight")
                    if 0 < weight <= 1 and isinstance(raw_weight, float):
                        weight *= 100  # 0.3 from a cell formatted as percent
                    if not 0 <= weight <= 100:
                        raise _Problem("INVALID_WEIGHT",
                                       f"El peso {raw_weight} debe estar entre 0 y 100 (%).")
                except _Problem as exc:
                    _add(row_issues, number, labels.get("weight"), raw_weight, exc.code,
                         exc.message)
                    weight = None
            due: date | None = None
            raw_due = (None if i_due is None else cells[i_due])
            if raw_due is not None and raw_due != "" and not is_blank(raw_due):
                try:
                    cached_due = dates.get(raw_due)
                    due = cached_due if type(cached_due) is date else date_of(raw_due,
                                                                              "due_date")
                except _Problem as exc:
                    _add(row_issues, number, labels.get("due_date"), raw_due, exc.code, exc.message)
            raw_score = cells[i_score]  # type: ignore[index]  # a required column
            scored = scores.get((raw_score, max_score))
            score, status, score_problem = (scored if scored is not None
                                            else score_of(raw_score, max_score))
            if score_problem is not None:
                _add(row_issues, number, labels.get("score"), raw_score, score_problem.code,
                     score_problem.message)
            if phone and course_text and title_text:
                key = (phone, course_text[1], title_text[1], period_key)
                row = ValidGrade(number, phone, course_text[0], period, title_text[0],
                                 max_score, weight, due, score, status)
        elif kind is ProgressKind.ATTENDANCE:
            raw_day = (None if i_day is None else cells[i_day])
            day: date | None = None
            try:
                day = date_of(raw_day, "day") if not is_blank(raw_day) else None
                if day is None:
                    raise _Problem("DATE_REQUIRED", "Falta la fecha de la clase.")
            except _Problem as exc:
                _add(row_issues, number, labels.get("day"), raw_day, exc.code, exc.message)
            raw_status = (None if i_status is None else cells[i_status])
            attendance_status = _ATTENDANCE_WORDS.get(header_key(raw_status))
            if attendance_status is None:
                _add(row_issues, number, labels.get("status"), raw_status, "INVALID_STATUS",
                        f"«{raw_status}» no es un estado de asistencia. Use presente, ausente, "
                        "tarde o excusa.")
            if phone and course_text and day and attendance_status:
                key = (phone, course_text[1], day, period_key)
                row = ValidAttendance(number, phone, course_text[0], period, day, attendance_status)
        else:
            code = _text((None if i_code is None else cells[i_code]), 50)
            if phone and course_text:
                key = (phone, course_text[1], period_key)
                row = ValidEnrollment(number, phone, course_text[0], period, code)

        if row is not None and not row_issues:
            first = seen.get(key)
            if first is not None:
                _add(row_issues, number, labels.get("phone"), raw_phone, "DUPLICATE_IN_FILE",
                        f"Fila repetida: es igual a la fila {first} (mismo estudiante, curso"
                        f"{', actividad' if kind is ProgressKind.GRADES else ''} y periodo). "
                        f"Se conserva la fila {first}.")
            else:
                seen[key] = number
        if row_issues:
            issues.extend(row_issues)
            rejected.add(number)
        elif row is not None:
            valid.append(row)
    return ProgressValidation(kind=kind, mapping=mapping, rows=tuple(valid),
                              issues=tuple(issues), rows_read=rows_read,
                              rejected_rows=frozenset(rejected), cells=cells_by_row)
