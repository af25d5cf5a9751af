"""Progress reports: the pure computation, loose course matching and the cached service.

:func:`build_report` turns a :class:`~eki_domain.model.progress.StudentRecordBook` into a
:class:`~eki_domain.model.progress.ProgressReport` (pure and synchronous, no I/O). The rules:

* **Grades.** Each graded result is rescaled from its assessment's ``max_score`` onto the
  school scale (45 of 50 → 4.5 of 5.0) and kept on the scale (clamped to its minimum and
  maximum). Weights come from :func:`effective_weights` over the course's assessments that are
  *not excused* for this student (given percentages as they are, missing ones share the rest,
  none given → equal). The course average is Σ w·score / Σ w over the *graded* results only —
  the average "so far" — rounded half-up with ``scale.round``; band and passing are read from
  that rounded value. When every graded result weighs 0 the average is ``None``.
* **Counts.** ``total`` = the course's assessments minus the excused ones; ``graded`` = those
  with a score; ``total - graded`` are pending (no result, status pending, or a "graded" result
  without a score).
* **Pending work** (at most ``pending_limit`` per course): upcoming first (due today or later,
  soonest first), then undated ones, then overdue ones (most recently due first), each flagged
  ``overdue``. Without ``today`` nothing is overdue: dated ones by date, then undated.
* **Attendance.** rate = (present + late) / (sessions − excused); ``None`` with no sessions
  (or only excused ones). Absences, late arrivals and excused absences are counted apart.
* **Overall average** = the mean of the (rounded) course averages that exist, rounded.
* **Filters.** ``course`` matches loosely (:func:`match_course`; an exact course code works
  too) and keeps every course of that name (one per period). ``period`` is exact but
  case-insensitive: an assessment belongs to its own period, or to its course's period when
  it has none; a course is kept when its period is the one asked for, or when it has no period
  and some of its assessments are in that one (its attendance, which has no period, is then
  shown whole).
* **Orphans.** Results whose assessment is not in the book, or whose assessment's course is
  not in the book, and attendance of unknown courses are ignored. When one assessment has
  several results, the last one wins.

:class:`ProgressService` loads the record book through the unit of work and caches reports
per student and variant in a :class:`~eki_domain.ports.progress.ReportCache`.
"""

from __future__ import annotations

import difflib
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, Final

from eki_domain.model.progress import (
    DEFAULT_SCALE,
    Assessment,
    AttendanceRecord,
    AttendanceStatus,
    Course,
    CourseProgress,
    GradeLine,
    GradingScale,
    PendingItem,
    ProgressReport,
    Result,
    ResultStatus,
    StudentRecordBook,
    effective_weights,
)
from eki_domain.ports.clock import Clock
from eki_domain.ports.loaders import RecordBookLoader
from eki_domain.ports.progress import ReportCache
from eki_domain.ports.repositories import UnitOfWorkFactory
from eki_domain.services.formatting import COLOMBIA_UTC_OFFSET
from eki_domain.services.loaders import UowRecordBooks

__all__ = [
    "ProgressService",
    "build_report",
    "match_course",
    "normalize_course",
    "report_to_dict",
]

#: Dates are read in Colombian time (UTC-5 all year) unless the service is told otherwise.
DEFAULT_UTC_OFFSET: Final = COLOMBIA_UTC_OFFSET

# --------------------------------------------------------------------------------------------
# Course matching
# --------------------------------------------------------------------------------------------

_FUZZY_MIN: Final = 0.75
#: Words that carry nothing in a course hint or name ("la materia de inglés", "... y Biología").
_CONNECTORS: Final = frozenset({"de", "del", "la", "el", "los", "las", "y", "e", "en", "a"})
_LEADING: Final = _CONNECTORS | frozenset(
    {"mi", "mis", "materia", "asignatura", "clase", "curso", "area"}
)

#: Other names students use for a course, tried when nothing matches as written.
_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "espanol": ("castellano", "lenguaje", "lengua"),
    "castellano": ("espanol", "lenguaje"),
    "lenguaje": ("castellano", "espanol"),
    "lengua": ("castellano", "espanol"),
    "math": ("matematicas",),
    "maths": ("matematicas",),
    "english": ("ingles",),
    "compu": ("informatica", "computacion", "sistemas"),
    "computacion": ("informatica", "sistemas"),
    "sistemas": ("informatica", "computacion"),
    "informatica": ("computacion", "sistemas"),
    "deporte": ("educacion fisica",),
    "deportes": ("educacion fisica",),
    "gimnasia": ("educacion fisica",),
    "bio": ("biologia",),
}


def normalize_course(text: str) -> str:
    """Lower case, accents stripped, punctuation as spaces: "Educación Física" → "educacion
    fisica"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join("".join(ch if ch.isalnum() else " " for ch in folded).split())


def _content(words: Sequence[str]) -> list[str]:
    kept = [word for word in words if word not in _CONNECTORS]
    return kept or list(words)


def _prefix_in_order(hint: Sequence[str], words: Sequence[str]) -> bool:
    """Each hint word starts a distinct name word, in the name's order."""
    position = 0
    for part in hint:
        while position < len(words) and not words[position].startswith(part):
            position += 1
        if position == len(words):
            return False
        position += 1
    return True


def _prefix_any_order(hint: Sequence[str], words: Sequence[str]) -> bool:
    free = list(words)
    for part in sorted(hint, key=len, reverse=True):
        found = next((word for word in free if word.startswith(part)), None)
        if found is None:
            return False
        free.remove(found)
    return True


def _uncovered(hint: Sequence[str], words: Sequence[str]) -> int:
    """Content words of the name that no hint word starts (fewer: a closer match)."""
    return sum(1 for word in _content(words) if not any(word.startswith(p) for p in hint))


def _fuzzy(hint: str, name: str) -> tuple[float, float]:
    """(best ratio against the whole name or a run of its words, ratio against the name)."""
    whole = difflib.SequenceMatcher(None, hint, name, autojunk=False).ratio()
    best = whole
    words = name.split()
    size = max(1, len(hint.split()))
    for start in range(len(words)):
        for width in {size, 1}:
            piece = " ".join(words[start : start + width])
            if piece:
                ratio = difflib.SequenceMatcher(None, hint, piece, autojunk=False).ratio()
                best = max(best, ratio)
    return best, whole


def match_course(hint: str, names: Sequence[str], *, aliases: bool = True) -> str | None:
    """The course name a student means, or None.

    Accent- and case-insensitive. In order of preference: the exact name; a name that starts
    with the hint ("mate" → "Matemáticas"); names where every hint word starts a name word
    ("edu fisica" → "Educación Física", "sociales" → "Ciencias Sociales", "biologia" →
    "Ciencias Naturales y Biología"); then :mod:`difflib` similarity ≥ 0.75 against the name or
    any of its words ("matematicsa"). Within the first level that matches, a single name wins,
    or else the only name whose every word the hint starts ("mate" prefers "Matemáticas" to
    "Matemáticas Financieras"); otherwise ("ciencias" with "Ciencias Sociales" and "Ciencias
    Naturales") it is ambiguous → None. Before the fuzzy level a few other names are tried
    ("español" → "Lengua Castellana", "compu" → "Informática"; ``aliases=False`` skips that).
    Fuzzy ties are ambiguous too.
    """
    wanted_words = normalize_course(hint).split()
    while len(wanted_words) > 1 and wanted_words[0] in _LEADING:
        wanted_words.pop(0)
    wanted = " ".join(wanted_words)
    if len(wanted) < 2:
        return None
    candidates: dict[str, str] = {}
    for name in names:
        key = normalize_course(name)
        if key:
            candidates.setdefault(key, name)
    if not candidates:
        return None
    if wanted in candidates:
        return candidates[wanted]
    hint_words = _content(wanted_words)

    # Levels 1-3: prefixes. Several names at one level: the one the hint covers completely.
    for level in range(3):
        found: list[tuple[int, str]] = []
        for key in candidates:
            words = key.split()
            if level == 0:
                ok = key.startswith(wanted)
            elif level == 1:
                ok = _prefix_in_order(hint_words, words)
            else:
                ok = _prefix_any_order(hint_words, words)
            if ok:
                found.append((_uncovered(hint_words, words), key))
        if len(found) == 1:
            return candidates[found[0][1]]
        complete = [key for uncovered, key in found if uncovered == 0]
        if found:
            return candidates[complete[0]] if len(complete) == 1 else None

    # Common other names ("español" for "Lengua Castellana"), before guessing.
    for alias in _ALIASES.get(wanted, ()) if aliases else ():
        found_alias = match_course(alias, names, aliases=False)
        if found_alias is not None:
            return found_alias

    # Level 4: fuzzy similarity.
    scored = sorted(
        ((_fuzzy(wanted, key), key) for key in candidates),
        key=lambda item: item[0],
        reverse=True,
    )
    (best, best_key), *rest = scored
    if best[0] < _FUZZY_MIN:
        return None
    if rest and math.isclose(rest[0][0][0], best[0]) and math.isclose(rest[0][0][1], best[1]):
        return None
    return candidates[best_key]


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _same_period(value: str | None, wanted: str) -> bool:
    return value is not None and value.strip().casefold() == wanted


def _select_courses(book: StudentRecordBook, course: str | None) -> tuple[list[Course], str | None]:
    """The courses the filter keeps, and the name it matched (None: no filter/no match)."""
    if course is None:
        return list(book.courses), None
    wanted = course.strip().casefold()
    by_code = [c for c in book.courses if c.code and c.code.strip().casefold() == wanted]
    if by_code:
        return by_code, by_code[0].name
    matched = match_course(course, [c.name for c in book.courses])
    if matched is None:
        return [], None
    return [c for c in book.courses if c.name == matched], matched


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for value in values:
        if value and value.strip():
            seen.setdefault(value.strip().casefold(), value.strip())
    return tuple(sorted(seen.values(), key=normalize_course))


def _pending_key(item: PendingItem, today: date | None) -> tuple[int, int, str]:
    if item.due_date is None:
        return (1, 0, item.title)
    ordinal = item.due_date.toordinal()
    if today is not None and item.due_date < today:
        return (2, -ordinal, item.title)  # overdue: the most recent first
    return (0, ordinal, item.title)


def _attended(records: Sequence[AttendanceRecord]) -> tuple[float | None, int, int, int]:
    counts = dict.fromkeys(AttendanceStatus, 0)
    for record in records:
        counts[record.status] += 1
    present, absences = counts[AttendanceStatus.PRESENT], counts[AttendanceStatus.ABSENT]
    late, excused = counts[AttendanceStatus.LATE], counts[AttendanceStatus.EXCUSED]
    counted = present + absences + late
    rate = (present + late) / counted if counted > 0 else None
    return rate, absences, late, excused


# Enum members bound once: attribute access on an enum class is slow on Python 3.11.
_GRADED: Final = ResultStatus.GRADED
_PENDING: Final = ResultStatus.PENDING
_EXCUSED: Final = ResultStatus.EXCUSED


def _course_progress(
    course: Course,
    assessments: Sequence[Assessment],
    results: Mapping[int, Result],
    attendance: Sequence[AttendanceRecord],
    scale: GradingScale,
    today: date | None,
    pending_limit: int,
) -> CourseProgress:
    counted = [
        a for a in assessments if (r := results.get(a.id)) is None or r.status is not _EXCUSED
    ]
    weights = effective_weights(counted)
    lines: list[GradeLine] = []
    pending: list[PendingItem] = []
    weighted: list[float] = []
    weight_sum: list[float] = []
    name, minimum, maximum, to_scale = course.name, scale.minimum, scale.maximum, scale.round
    for assessment in sorted(assessments, key=lambda a: (a.due_date or date.max, a.title)):
        result = results.get(assessment.id)
        weight = weights.get(assessment.id, 0.0)
        due = assessment.due_date
        raw = score = None
        if result is None or result.status is _PENDING:
            status = _PENDING
        elif result.status is _EXCUSED:
            status, weight = _EXCUSED, 0.0
        elif result.score is None or not math.isfinite(result.score):
            status = _PENDING  # "graded" without a score: still to be graded
        else:
            status, raw = _GRADED, result.score
            out_of = assessment.max_score
            # rescaled onto the school scale (bad maxima: read as on the scale), kept on it
            exact = raw if out_of is None or out_of <= 0 else raw / out_of * maximum
            exact = min(maximum, max(minimum, exact))
            score = to_scale(exact)
            weighted.append(weight * exact)
            weight_sum.append(weight)
        if status is _PENDING:
            overdue = today is not None and due is not None and due < today
            pending.append(PendingItem(name, assessment.title, due, overdue))
        lines.append(
            GradeLine(name, assessment.title, status, score, raw, assessment.max_score, weight, due)
        )
    graded = len(weight_sum)
    total_weight = math.fsum(weight_sum)
    average = scale.round(math.fsum(weighted) / total_weight) if total_weight > 0 else None
    pending.sort(key=lambda item: _pending_key(item, today))
    rate, absences, late, excused = _attended(attendance)
    return CourseProgress(
        course_id=course.id,
        course=course.name,
        code=course.code,
        period=course.period,
        average=average,
        band=None if average is None else scale.band(average),
        passing=None if average is None else scale.is_passing(average),
        graded=graded,
        total=len(counted),
        pending=tuple(pending[: max(0, pending_limit)]),
        attendance_rate=rate,
        absences=absences,
        late=late,
        excused=excused,
        grades=tuple(lines),
        sessions=len(attendance),
    )


def build_report(
    book: StudentRecordBook,
    scale: GradingScale = DEFAULT_SCALE,
    *,
    course: str | None = None,
    period: str | None = None,
    today: date | None = None,
    pending_limit: int = 5,
) -> ProgressReport:
    """The student's progress (see the module docstring for every rule)."""
    course = course.strip() if course and course.strip() else None
    period = period.strip() if period and period.strip() else None
    courses, matched = _select_courses(book, course)
    by_course: dict[int, list[Assessment]] = {c.id: [] for c in book.courses}
    for assessment in book.assessments:
        by_course.setdefault(assessment.course_id, []).append(assessment)
    known = {a.id for c in book.courses for a in by_course[c.id]}
    results = {r.assessment_id: r for r in book.results if r.assessment_id in known}
    attendance: dict[int, list[AttendanceRecord]] = {}
    for record in book.attendance:
        attendance.setdefault(record.course_id, []).append(record)

    wanted_period = period.casefold() if period else None
    progress: list[CourseProgress] = []
    for c in sorted(courses, key=lambda c: (normalize_course(c.name), c.period or "", c.id)):
        assessments = by_course.get(c.id, [])
        if wanted_period is not None:
            if c.period is not None and not _same_period(c.period, wanted_period):
                continue
            assessments = [
                a for a in assessments if _same_period(a.period or c.period, wanted_period)
            ]
            if c.period is None and not assessments:
                continue
        progress.append(
            _course_progress(
                c, assessments, results, attendance.get(c.id, []), scale, today, pending_limit
            )
        )
    averages = [p.average for p in progress if p.average is not None]
    overall = scale.round(math.fsum(averages) / len(averages)) if averages else None
    return ProgressReport(
        courses=tuple(progress),
        overall_average=overall,
        scale=scale,
        period=period,
        course=matched,
        as_of=today,
        available_courses=_unique(c.name for c in book.courses),
        available_periods=_unique(
            [c.period for c in book.courses] + [a.period for a in book.assessments]
        ),
    )


# --------------------------------------------------------------------------------------------
# JSON (the admin API)
# --------------------------------------------------------------------------------------------


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _rate(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)


def report_to_dict(report: ProgressReport) -> dict[str, Any]:
    """The whole report as JSON-able data (for ``GET /api/students/{phone}/progress``)."""
    scale = report.scale
    return {
        "as_of": _iso(report.as_of),
        "period": report.period,
        "course": report.course,
        "overall_average": report.overall_average,
        "scale": {
            "minimum": scale.minimum,
            "maximum": scale.maximum,
            "passing": scale.passing,
            "decimals": scale.decimals,
            "bands": [{"name": b.name, "low": b.low, "high": b.high} for b in scale.bands],
        },
        "courses": [
            {
                "course_id": c.course_id,
                "course": c.course,
                "code": c.code,
                "period": c.period,
                "average": c.average,
                "band": c.band,
                "passing": c.passing,
                "graded": c.graded,
                "total": c.total,
                "pending_count": c.pending_count,
                "pending": [
                    {"title": p.title, "due_date": _iso(p.due_date), "overdue": p.overdue}
                    for p in c.pending
                ],
                "attendance": {
                    "sessions": c.sessions,
                    "rate": _rate(c.attendance_rate),
                    "absences": c.absences,
                    "late": c.late,
                    "excused": c.excused,
                },
                "grades": [
                    {
                        "title": g.title,
                        "status": str(g.status),
                        "score": g.score,
                        "raw_score": g.raw_score,
                        "max_score": g.max_score,
                        "weight": round(g.weight, 2),
                        "due_date": _iso(g.due_date),
                    }
                    for g in c.grades
                ],
            }
            for c in report.courses
        ],
        "available_courses": list(report.available_courses),
        "available_periods": list(report.available_periods),
    }


# --------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------


class ProgressService:
    """Builds (and caches) a student's progress report from storage.

    ``today`` is the clock's date at ``utc_offset`` (Colombia, UTC-5, by default). A cached
    report from another day is rebuilt, so "overdue" never lags past midnight.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        scale: GradingScale = DEFAULT_SCALE,
        cache: ReportCache | None = None,
        utc_offset: timedelta = DEFAULT_UTC_OFFSET,
        pending_limit: int = 5,
        books: RecordBookLoader | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.scale = scale
        self._cache = cache
        self._offset = utc_offset
        self._pending_limit = pending_limit
        # ``bootstrap`` passes a batched loader: reports asked for at the same moment (the
        # assistant's tool calls of turns that started together) share one unit of work.
        self._books = books if books is not None else UowRecordBooks(uow)

    def today(self) -> date:
        return (self._clock.now() + self._offset).date()

    async def report(
        self, student_id: int, *, course: str | None = None, period: str | None = None
    ) -> ProgressReport:
        course = course.strip() if course and course.strip() else None
        period = period.strip() if period and period.strip() else None
        today = self.today()
        variant = (
            None if course is None else normalize_course(course),
            None if period is None else period.casefold(),
        )
        if self._cache is not None:
            cached = await self._cache.get(student_id, variant)
            if isinstance(cached, ProgressReport) and cached.as_of == today:
                return cached
        book = await self._books.load(student_id)
        report = build_report(
            book,
            self.scale,
            course=course,
            period=period,
            today=today,
            pending_limit=self._pending_limit,
        )
        if self._cache is not None:
            await self._cache.put(student_id, variant, report)
        return report

    async def invalidate(self, student_ids: Iterable[int]) -> None:
        """Forget the cached reports of these students (call after any import)."""
        if self._cache is not None:
            await self._cache.invalidate(student_ids)

    async def clear(self) -> None:
        if self._cache is not None:
            await self._cache.clear()
