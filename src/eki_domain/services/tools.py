"""The student's tools: plain functions bound to one student id.

The rule-based responder and the LLM both answer through these, and because no tool
takes a student id or a phone, neither can reach another student's data.

``get_my_profile`` is always there. Given a :class:`ProgressService`, four more are
registered: ``get_my_progress(course=None, period=None)``, ``get_my_grades(course=None)``,
``get_my_attendance(course=None)`` and ``get_my_pending_assignments()``. They return compact
JSON-able dicts in the shapes :mod:`eki_domain.services.responder` documents (numbers rounded,
dates ISO, optional keys left out when empty). A course that matches nothing gives
``{"courses": [], "available_courses": [...]}``. :data:`TOOL_SCHEMAS` holds their specs
(:class:`~eki_domain.ports.llm.ToolSpec`, strict; the model adapter renders its provider's
shape).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any, Final

from eki_domain.model.progress import (
    CourseProgress,
    GradeLine,
    GradingScale,
    PendingItem,
    ProgressReport,
    ResultStatus,
)
from eki_domain.ports.assistant import JsonDict
from eki_domain.ports.llm import ToolSpec
from eki_domain.ports.repositories import UnitOfWorkFactory
from eki_domain.services.progress import ProgressService

__all__ = ["TOOL_SCHEMAS", "StudentTools", "Tool"]

Tool = Callable[..., Awaitable[JsonDict]]

#: Without a course, get_my_grades lists only the latest graded activities of each course.
GRADES_PER_COURSE: Final = 10
#: get_my_pending_assignments lists at most this many (the count says how many there are).
PENDING_SHOWN: Final = 15


class StudentTools:
    """The toolbox of one student. Register more tools with :meth:`register`."""

    def __init__(
        self, student_id: int, uow: UnitOfWorkFactory, progress: ProgressService | None = None
    ) -> None:
        self._student_id = student_id
        self._uow = uow
        self._progress = progress
        self._tools: dict[str, Tool] = {"get_my_profile": self.get_my_profile}
        if progress is not None:
            self.register("get_my_progress", self.get_my_progress)
            self.register("get_my_grades", self.get_my_grades)
            self.register("get_my_attendance", self.get_my_attendance)
            self.register("get_my_pending_assignments", self.get_my_pending_assignments)

    def register(self, name: str, tool: Tool) -> None:
        self._tools[name] = tool

    def names(self) -> tuple[str, ...]:
        return tuple(self._tools)

    def schemas(self) -> list[ToolSpec]:
        """The specs of the registered tools that have one."""
        return [TOOL_SCHEMAS[name] for name in self._tools if name in TOOL_SCHEMAS]

    async def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> JsonDict:
        tool = self._tools.get(name)
        if tool is None:
            raise ValueError(f"unknown tool {name!r}; available: {', '.join(self._tools)}")
        try:
            return await tool(**dict(arguments or {}))
        except TypeError as exc:
            raise ValueError(f"bad arguments for {name}: {exc}") from None

    async def get_my_profile(self) -> JsonDict:
        """The student's own record: name, phone (masked), active, tags."""
        async with self._uow() as uow:
            student = await uow.students.get(self._student_id)
        if student is None:
            return {"found": False}
        return {
            "found": True,
            "name": student.name,
            "first_name": student.first_name,
            "phone": student.phone.masked,
            "active": student.active,
            "tags": sorted(student.tags),
            "registered_on": student.registered_at.date().isoformat(),
        }

    # -- progress ------------------------------------------------------------------------

    async def _report(self, course: object = None, period: object = None) -> ProgressReport:
        if self._progress is None:  # pragma: no cover - the tools are only registered with it
            raise ValueError("progress is not available")
        return await self._progress.report(
            self._student_id,
            course=_optional_text("course", course),
            period=_optional_text("period", period),
        )

    async def get_my_progress(
        self, course: str | None = None, period: str | None = None
    ) -> JsonDict:
        """Averages per course on the school scale, band, passing, graded/total; overall."""
        report = await self._report(course, period)
        missing = _not_found(report, course, period)
        if missing is not None:
            return missing
        out: JsonDict = {
            "courses": [_progress_item(c) for c in report.courses],
            "overall_average": report.overall_average,
            "scale": _scale(report.scale),
        }
        _add_filters(out, report)
        return out

    async def get_my_grades(self, course: str | None = None) -> JsonDict:
        """Every activity of a course (or the latest graded ones of each course)."""
        report = await self._report(course)
        missing = _not_found(report, course, None)
        if missing is not None:
            return missing
        courses: list[JsonDict] = []
        for c in report.courses:
            lines = list(c.grades)
            item = _progress_item(c)
            if report.course is None:
                graded = [g for g in lines if g.status is ResultStatus.GRADED]
                graded.sort(key=lambda g: g.due_date or date.min, reverse=True)
                lines = graded[:GRADES_PER_COURSE]
                if len(graded) > len(lines):
                    item["more_graded"] = len(graded) - len(lines)
            item["grades"] = [_grade(g, report.scale) for g in lines]
            courses.append(item)
        out: JsonDict = {"courses": courses, "scale": _scale(report.scale)}
        _add_filters(out, report)
        return out

    async def get_my_attendance(self, course: str | None = None) -> JsonDict:
        """Absences ("fallas"), late arrivals and excused absences per course, with rates.

        ``absences`` counts every missed session, excused ones included ("3 fallas, 1 con
        excusa"); ``excused`` says how many of them had an excuse and ``unexcused`` the rest.
        ``rate`` is the share of sessions attended, late arrivals counting as attended and
        excused sessions left out. Without a course, only courses with attendance taken.
        """
        report = await self._report(course)
        missing = _not_found(report, course, None)
        if missing is not None:
            return missing
        shown = list(report.courses)
        if report.course is None:  # all courses: only those with attendance taken
            shown = [c for c in shown if c.sessions]
            if not shown:
                return {"courses": []}  # nothing loaded yet
        courses = [_attendance_item(c) for c in shown]
        sessions = sum(c.sessions - c.excused for c in shown)
        attended = sum(c.sessions - c.absences - c.excused for c in shown)
        out: JsonDict = {
            "courses": courses,
            "total_absences": sum(c.absences + c.excused for c in shown),
            "total_unexcused": sum(c.absences for c in shown),
            "total_late": sum(c.late for c in shown),
            "total_excused": sum(c.excused for c in shown),
            "rate": round(attended / sessions, 3) if sessions > 0 else None,
        }
        _add_filters(out, report)
        return out

    async def get_my_pending_assignments(self) -> JsonDict:
        """Activities without a grade yet: upcoming first, then undated, then overdue."""
        report = await self._report()
        items = [p for c in report.courses for p in c.pending]
        items.sort(key=lambda p: _pending_order(p, report.as_of))
        total = sum(c.pending_count for c in report.courses)
        return {
            "pending": [_pending(p) for p in items[:PENDING_SHOWN]],
            "total": max(total, len(items)),
        }


# -- compact dicts --------------------------------------------------------------------------


def _optional_text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text or null")
    return value.strip() or None


def _not_found(report: ProgressReport, course: str | None, period: str | None) -> JsonDict | None:
    """The answer for a course or period that matches nothing, else None."""
    if course and course.strip() and report.course is None:
        return {"courses": [], "available_courses": list(report.available_courses)}
    if period and period.strip() and not report.courses:
        out: JsonDict = {"courses": [], "period": report.period}
        out["available_periods"] = list(report.available_periods)
        return out
    return None


def _add_filters(out: JsonDict, report: ProgressReport) -> None:
    if report.course is not None:
        out["course"] = report.course
    if report.period is not None:
        out["period"] = report.period
    _hoist_period(out)


def _hoist_period(out: JsonDict) -> None:
    """When every course is of one period, say it once (fewer tokens for the model)."""
    courses = out.get("courses")
    if not isinstance(courses, list) or not courses:
        return
    periods = {item.get("period") for item in courses if isinstance(item, dict)}
    if len(periods) != 1 or None in periods:
        return
    (period,) = periods
    for item in courses:
        item.pop("period", None)
    out.setdefault("period", period)


def _scale(scale: GradingScale) -> JsonDict:
    return {"min": scale.minimum, "max": scale.maximum, "passing": scale.passing}


def _progress_item(c: CourseProgress) -> JsonDict:
    item: JsonDict = {
        "course": c.course,
        "average": c.average,
        "band": c.band,
        "passing": c.passing,
        "graded": c.graded,
        "total": c.total,
    }
    if c.period is not None:
        item["period"] = c.period
    return item


def _grade(g: GradeLine, scale: GradingScale) -> JsonDict:
    item: JsonDict = {"title": g.title, "status": str(g.status)}
    if g.status is ResultStatus.GRADED:
        item["score"] = g.score
        if g.max_score is not None and g.max_score != scale.maximum:
            item["raw_score"] = _number(g.raw_score)
            item["max_score"] = _number(g.max_score)
    if g.status is not ResultStatus.EXCUSED:
        item["weight"] = round(g.weight, 1)
    if g.due_date is not None:
        item["due_date"] = g.due_date.isoformat()
    return item


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    rounded = round(float(value), 2)
    return int(rounded) if rounded.is_integer() else rounded


def _attendance_item(c: CourseProgress) -> JsonDict:
    item: JsonDict = {
        "course": c.course,
        "absences": c.absences + c.excused,
        "unexcused": c.absences,
        "excused": c.excused,
        "late": c.late,
        "sessions": c.sessions,
        "rate": None if c.attendance_rate is None else round(c.attendance_rate, 3),
    }
    if c.period is not None:
        item["period"] = c.period
    return item


def _pending_order(item: PendingItem, today: date | None) -> tuple[int, int, str, str]:
    if item.due_date is None:
        return (1, 0, item.course, item.title)
    if item.overdue or (today is not None and item.due_date < today):
        return (2, -item.due_date.toordinal(), item.course, item.title)
    return (0, item.due_date.toordinal(), item.course, item.title)


def _pending(item: PendingItem) -> JsonDict:
    out: JsonDict = {
        "course": item.course,
        "title": item.title,
        "due_date": None if item.due_date is None else item.due_date.isoformat(),
    }
    if item.overdue:
        out["overdue"] = True
    return out


# -- function-calling schemas -----------------------------------------------------------------


def _function(name: str, description: str, properties: Mapping[str, JsonDict]) -> ToolSpec:
    return ToolSpec(
        name=name,
        description=description,
        parameters={
            "type": "object",
            "properties": dict(properties),
            "required": list(properties),
            "additionalProperties": False,
        },
        strict=True,
    )


_COURSE: Final[JsonDict] = {
    "type": ["string", "null"],
    "description": (
        "A course name as the student wrote it, e.g. 'mate', 'inglés', 'sociales', "
        "'edu física' (matched loosely against the student's own courses). null: all courses."
    ),
}
_PERIOD: Final[JsonDict] = {
    "type": ["string", "null"],
    "description": "An academic period as the school names it, e.g. 'P1' or '2026-1'. "
    "null: every period.",
}

#: What the model is told about each tool (neutral specs, strict; the model adapter renders
#: its provider's shape). No tool takes a student id or a phone: every tool is bound to the
#: sender.
TOOL_SCHEMAS: Final[dict[str, ToolSpec]] = {
    "get_my_profile": _function(
        "get_my_profile",
        "The student's own record: name, masked phone, active, groups (tags), registration "
        "date. Use for 'mis datos', '¿con qué número estoy registrado?'.",
        {},
    ),
    "get_my_progress": _function(
        "get_my_progress",
        "The student's grade averages per course on the school scale (default 1.0-5.0, "
        "passing 3.0), with performance band (Superior, Alto, Básico, Bajo), whether it is "
        "passing, graded/total activities, and the overall average. Averages are weighted and "
        "cover only what has been graded so far. Use for '¿cómo voy?', '¿cuánto tengo en "
        "matemáticas?', '¿voy perdiendo algo?'. If the course is not found the answer lists "
        "available_courses.",
        {"course": _COURSE, "period": _PERIOD},
    ),
    "get_my_grades": _function(
        "get_my_grades",
        "The student's individual activity grades: per activity its score on the school "
        "scale (and the raw score and maximum when graded on another maximum), weight in "
        "percent, status (graded, pending, excused) and due date. With a course: every "
        "activity of it; without: the latest graded ones of each course. Use for '¿qué me "
        "saqué en el quiz?', 'mis notas de inglés'.",
        {"course": _COURSE},
    ),
    "get_my_attendance": _function(
        "get_my_attendance",
        "The student's attendance per course: absences ('fallas', 'faltas'; every missed "
        "session, excused ones included), how many were excused and unexcused, late arrivals, "
        "sessions and attendance rate (a fraction; late counts as attended, excused sessions "
        "are left out), with totals. Use for '¿cuántas fallas llevo?', '¿cuántas veces he "
        "llegado tarde?'.",
        {"course": _COURSE},
    ),
    "get_my_pending_assignments": _function(
        "get_my_pending_assignments",
        "The student's activities without a grade yet (tareas, talleres, exámenes), with "
        "course and due date: upcoming ones first, then undated ones, then overdue ones "
        "(flagged overdue). Use for '¿qué tengo pendiente?', '¿qué tengo que entregar?'.",
        {},
    ),
}
