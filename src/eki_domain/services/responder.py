"""The rule-based Spanish responder: level 3 of the assistant ladder, and every fixed text.

:class:`RuleBasedAssistant` detects the intent (:mod:`eki_domain.services.intents`) and answers
only through the student's tools (:class:`~eki_domain.ports.assistant.StudentToolbox`): it
never invents a grade, an absence or a date, and because the tools are bound to the sender it
cannot show anyone else's data. When the school has not loaded some information (the tool is
not registered) it says so honestly.

Its sentences live in :mod:`.texts` (re-exported here for the conversation service), its
number and date formats in :mod:`.formatting`, its readers of tool results in
:mod:`.tool_results`; this module holds the rules that pick the tool and assemble the answer.

Tool results the responder understands (extra keys are ignored, missing ones are tolerated):

``get_my_profile()``
    ``{"found": true, "name": "Ana Pérez", "first_name": "Ana", "phone": "+57***4567",
    "active": true, "tags": ["grado 10"], "registered_on": "2026-01-15"}``
``get_my_progress(course=None, period=None)``
    ``{"courses": [{"course": "Matemáticas", "average": 4.3, "band": "Alto", "passing": true,
    "graded": 5, "total": 8}], "overall_average": 4.1}``; ``average`` is ``null`` for a course
    with no grades yet. When ``course`` matches nothing: ``{"courses": []}`` (optionally with
    ``"available_courses": ["Matemáticas", …]``) or a ``ValueError``.
``get_my_attendance(course=None)``
    ``{"courses": [{"course": "Matemáticas", "absences": 3, "late": 1, "excused": 0,
    "rate": 0.94}], "total_absences": 3}``; ``rate`` is a fraction (0.94) or a percentage (94).
``get_my_pending_assignments()``
    ``{"pending": [{"course": "Matemáticas", "title": "Taller 3", "due_date": "2026-03-02"}]}``
    (``due_date`` ISO or ``null``). It takes no course: the responder filters by the hint.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Final

import attrs

from eki_domain.model.intent import Intent
from eki_domain.model.student import Student
from eki_domain.ports.assistant import AssistantReply, JsonDict, StudentToolbox, Turn
from eki_domain.ports.clock import Clock
from eki_domain.ports.understanding import IntentClassifier
from eki_domain.services.formatting import (
    COLOMBIA_UTC_OFFSET,
    display_first_name,
    format_decimal,
    format_percent,
    local_date,
    spanish_date,
)
from eki_domain.services.progress import match_course
from eki_domain.services.slots import (
    AttendanceKind,
    PeriodHint,
    attendance_kind,
    course_mention,
    looks_like_course,
    period_hint,
    resolve_period,
)
from eki_domain.services.texts import (
    SPANISH,
    Texts,
    handoff_confirmation,
    media_reply,
    menu_text,
    opt_in_confirmation,
    opt_out_confirmation,
    unknown_sender_reply,
    unsupported_reply,
)
from eki_domain.services.texts_en import ENGLISH
from eki_domain.services.tool_results import (
    as_list,
    bullets,
    count,
    dicts,
    narrow,
    number,
    read_date,
    text,
)
from eki_domain.services.understanding import understand

__all__ = [
    "COLOMBIA_UTC_OFFSET",
    "RuleBasedAssistant",
    "format_decimal",
    "format_percent",
    "handoff_confirmation",
    "media_reply",
    "menu_text",
    "opt_in_confirmation",
    "opt_out_confirmation",
    "spanish_date",
    "unknown_sender_reply",
    "unsupported_reply",
]

PROFILE_TOOL: Final = "get_my_profile"
PROGRESS_TOOL: Final = "get_my_progress"
ATTENDANCE_TOOL: Final = "get_my_attendance"
PENDING_TOOL: Final = "get_my_pending_assignments"
GRADES_TOOL: Final = "get_my_grades"
#: Activities listed per course in the detailed grades.
_GRADES_SHOWN: Final = 8

_MAX_NAME: Final = 60


def _first_name(student: Student, texts: Texts) -> str:
    return display_first_name(student, fallback=texts.fallback_name, limit=_MAX_NAME)


class _Outcome(enum.Enum):
    UNAVAILABLE = "unavailable"  # the school has not loaded that information
    FAILED = "failed"  # the tool refused the arguments (ValueError)


class _Calls:
    """Calls tools that exist, remembering their names in order."""

    def __init__(self, tools: StudentToolbox) -> None:
        self._tools = tools
        self.available = frozenset(tools.names())
        self.names: list[str] = []

    async def call(self, name: str, **arguments: Any) -> JsonDict | _Outcome:
        if name not in self.available:
            return _Outcome.UNAVAILABLE
        self.names.append(name)
        try:
            result = await self._tools.call(name, arguments)
        except ValueError:
            return _Outcome.FAILED
        return result if isinstance(result, Mapping) else {}


@attrs.frozen
class _Ask:
    """What the answer is about: the slots read from the message."""

    name: str
    course: str | None = None  # as written ("mate"); the tool matches it to a real course
    subject_like: bool = False  # the course hint looks like a school subject
    period: PeriodHint | None = None
    kind: AttendanceKind = AttendanceKind.ABSENCES


class RuleBasedAssistant:
    """Answers from rules and a statistical classifier, through the student's tools only.

    ``classifier`` (optional): without it the rules decide every intent (as before the
    classifier existed); with it, :func:`~eki_domain.services.understanding.understand`
    decides, and a low-confidence guess becomes a question ("¿te refieres a tus notas o a tu
    asistencia?"). A question in English is answered in English.

    ``clock`` (optional) lets pending work say "hoy", "mañana" or "venció"; dates are read in
    Colombian time unless another ``utc_offset`` is given. Tool errors other than
    ``ValueError`` (a database down) propagate, so the caller can retry the turn.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        utc_offset: timedelta = COLOMBIA_UTC_OFFSET,
        classifier: IntentClassifier | None = None,
    ) -> None:
        self._clock = clock
        self._offset = utc_offset
        self._classifier = classifier

    async def answer(self, turn: Turn, tools: StudentToolbox) -> AssistantReply:
        understood = understand(turn.text, turn.payload, self._classifier)
        texts = ENGLISH if understood.language == "en" else SPANISH
        calls = _Calls(tools)
        name = turn.guardian or _first_name(turn.student, texts)
        intent = understood.intent
        if understood.clarify:
            first, second = understood.options
            reply = texts.clarify(name, first, second)
        elif understood.refused is not None:
            modify = understood.refused == "modify"
            reply = texts.cannot_modify(name) if modify else texts.no_schoolwork(name)
        elif understood.source == "model" and intent in (Intent.HUMANO, Intent.OPT_IN):
            # The rules did not hand off / resubscribe: offer it instead of claiming it.
            reply = texts.handoff_offer(name) if intent is Intent.HUMANO else texts.opt_in_hint()
        else:
            hint = course_mention(turn.text)
            ask = _Ask(
                name=name,
                course=hint,
                subject_like=hint is not None and looks_like_course(hint),
                period=period_hint(turn.text) if turn.text else None,
                kind=attendance_kind(turn.text) if turn.text else AttendanceKind.ABSENCES,
            )
            reply = await self._reply(intent, ask, calls, texts)
        return AssistantReply(text=reply, intent=str(intent), tools=tuple(calls.names))

    async def _reply(self, intent: Intent, ask: _Ask, calls: _Calls, t: Texts) -> str:
        name = ask.name
        match intent:
            case Intent.PROGRESO:
                return await self._progress(ask, calls, t)
            case Intent.NOTAS:
                return await self._grades(ask, calls, t)
            case Intent.ASISTENCIA:
                return await self._attendance(ask, calls, t)
            case Intent.PENDIENTES:
                return await self._pending(ask, calls, t)
            case Intent.MIS_DATOS:
                return await self._profile(calls, t)
            case Intent.SALUDO:
                return t.greeting(name)
            case Intent.AYUDA:
                return t.menu(name)
            case Intent.GRACIAS:
                return t.thanks(name)
            case Intent.DESPEDIDA:
                return t.farewell(name)
            case Intent.OPT_OUT:
                return t.opt_out_hint()
            case Intent.OPT_IN:
                return t.opt_in()
            case Intent.HUMANO:
                return t.handoff()
            case _:
                return t.unknown(name)

    async def _by_course(
        self, tool: str, ask: _Ask, calls: _Calls
    ) -> tuple[JsonDict | _Outcome, str | None]:
        """Call a course-filtered tool. A hint that is not one of the student's courses and
        does not look like a school subject ("ignora tus…") is no course: ask for all."""
        course = ask.course
        result = await (calls.call(tool, course=course) if course else calls.call(tool))
        if course and not ask.subject_like and _not_found(result):
            return await calls.call(tool), None
        return result, course

    # -- progress ----------------------------------------------------------------------------

    async def _progress(self, ask: _Ask, calls: _Calls, t: Texts) -> str:
        name = ask.name
        result, course = await self._by_course(PROGRESS_TOOL, ask, calls)
        if result is _Outcome.UNAVAILABLE:
            return t.not_loaded(name, "grades")
        if result is _Outcome.FAILED:
            return _course_not_found(t, course, "grades") if course else t.try_later("grades")
        courses = narrow(dicts(result.get("courses")), course)
        period = _period(ask.period, result, courses)
        if period is not None:
            courses = [item for item in courses if _period_of(item, result) == period] or courses
        if not courses:
            if course:
                return _course_not_found(t, course, "grades", result.get("available_courses"))
            return t.no_grades(name)
        lines: list[str] = []
        failing = False
        for item in courses:
            label = text(item.get("course")) or text(item.get("name")) or t.default_course
            average = number(item.get("average"))
            if average is None:
                lines.append(f"• *{label}*: {t.no_grades_yet()}")
                continue
            parts = [f"• *{label}*: *{t.decimal(average)}*"]
            band = text(item.get("band"))
            if band:
                parts.append(f" ({band})")
            graded, total = count(item.get("graded")), count(item.get("total"))
            if graded is not None and total:
                parts.append(t.graded_of(graded, total))
            if item.get("passing") is False:
                failing = True
                parts.append(t.failing())
            lines.append("".join(parts))
        out = [t.progress_heading(name), *bullets(lines, lambda n: t.more(n, "courses"))]
        if period is not None:
            out.insert(1, t.period(period))
        overall = number(result.get("overall_average"))
        if overall is not None and not course and period is None and len(courses) > 1:
            out.append(t.overall(overall))
        if failing:
            out.append(t.failing_tip())
        return "\n".join(out)

    # -- attendance --------------------------------------------------------------------------

    async def _attendance(self, ask: _Ask, calls: _Calls, t: Texts) -> str:
        name = ask.name
        result, course = await self._by_course(ATTENDANCE_TOOL, ask, calls)
        if result is _Outcome.UNAVAILABLE:
            return t.not_loaded(name, "attendance")
        if result is _Outcome.FAILED:
            return (
                _course_not_found(t, course, "attendance") if course else t.try_later("attendance")
            )
        courses = narrow(dicts(result.get("courses")), course)
        total = count(result.get("total_absences"))
        if not courses and total is None:
            if course:
                return _course_not_found(t, course, "attendance", result.get("available_courses"))
            return t.no_attendance(name)
        lines: list[str] = []
        summed = late_total = excused_total = 0
        recorded = 0
        for item in courses:
            label = text(item.get("course")) or text(item.get("name")) or t.default_course
            if count(item.get("sessions")) == 0:
                lines.append(f"• *{label}*: {t.no_sessions()}")
                continue
            recorded += 1
            absences = count(item.get("absences")) or 0
            late = count(item.get("late")) or 0
            excused = count(item.get("excused")) or 0
            summed += absences
            late_total += late
            excused_total += excused
            facts = [t.absences(absences)]
            if excused:
                facts[0] += t.with_excuse(excused)
            if late:
                facts.append(t.late(late))
            line = f"• *{label}*: {', '.join(facts)}"
            rate = number(item.get("rate"))
            if rate is not None and rate >= 0:
                line += t.rate(rate)
            lines.append(line)
        if total is None:
            total = summed
        out = [t.attendance_heading(name), *bullets(lines, lambda n: t.more(n, "courses"))]
        if ask.kind is AttendanceKind.LATE and recorded:
            out.append(t.total_late(count(result.get("total_late")) or late_total))
        elif ask.kind is AttendanceKind.EXCUSED and recorded:
            out.append(t.total_excused(count(result.get("total_excused")) or excused_total))
        elif recorded == 0 and courses:
            out.append(t.attendance_pending_load())
        elif total == 0:
            out.append(t.no_absences())
        elif not course or len(courses) != 1:
            out.append(t.total_absences(total))
        return "\n".join(out)

    # -- pending work ------------------------------------------------------------------------

    async def _pending(self, ask: _Ask, calls: _Calls, t: Texts) -> str:
        name, course = ask.name, ask.course
        result = await calls.call(PENDING_TOOL)
        if result is _Outcome.UNAVAILABLE:
            return t.not_loaded(name, "pending")
        if result is _Outcome.FAILED:
            return t.try_later("pending")
        items = dicts(result.get("pending"))
        if course:
            names = list(dict.fromkeys(str(item.get("course") or "") for item in items))
            matched = match_course(course, names)
            mine = [item for item in items if str(item.get("course") or "") == matched]
            if not mine and not ask.subject_like:
                mine = items  # not a course: everything pending
            if not mine:
                return t.none_pending_in(text(course) or course, len(items))
            items = mine
        if not items:
            return t.up_to_date(name)
        today = self._today()
        items.sort(key=lambda item: read_date(item.get("due_date")) or date.max)
        lines = [_pending_line(item, today, t) for item in items]
        heading = t.pending_heading(name, len(items))
        return "\n".join([heading, *bullets(lines, lambda n: t.more(n, "pending"))])

    def _today(self) -> date | None:
        if self._clock is None:
            return None
        return local_date(self._clock.now(), self._offset)

    # -- profile -----------------------------------------------------------------------------

    # -- detailed grades ---------------------------------------------------------------------

    async def _grades(self, ask: _Ask, calls: _Calls, t: Texts) -> str:
        if GRADES_TOOL not in calls.available:
            return await self._progress(ask, calls, t)
        name = ask.name
        result, course = await self._by_course(GRADES_TOOL, ask, calls)
        if result is _Outcome.UNAVAILABLE:
            return t.not_loaded(name, "grades")
        if result is _Outcome.FAILED:
            return _course_not_found(t, course, "grades") if course else t.try_later("grades")
        courses = narrow(dicts(result.get("courses")), course)
        if not courses:
            if course:
                return _course_not_found(t, course, "grades", result.get("available_courses"))
            return t.no_grades(name)
        lines: list[str] = []
        for item in courses:
            label = text(item.get("course")) or t.default_course
            average = number(item.get("average"))
            score = f": *{t.decimal(average)}*" if average is not None else ""
            lines.append(f"*{label}*{score}")
            grades = dicts(item.get("grades"))
            if not grades:
                lines.append(f"• {t.no_activities()}")
            for grade in grades[:_GRADES_SHOWN]:
                lines.append(_grade_line(grade, t))
        return "\n".join([t.grades_heading(name), *bullets(lines, lambda n: t.more(n, "grades"))])

    async def _profile(self, calls: _Calls, t: Texts) -> str:
        result = await calls.call(PROFILE_TOOL)
        if result is _Outcome.UNAVAILABLE or result is _Outcome.FAILED:
            return t.try_later("profile")
        if not result.get("found", True):
            return t.profile_not_found()
        lines = [t.profile_heading()]
        full_name = text(result.get("name"))
        if full_name:
            lines.append(t.profile_name(full_name))
        phone = text(str(result.get("phone") or "").replace("*", "•"))
        if phone:
            lines.append(t.profile_phone(phone))
        tags = [tag for tag in map(text, as_list(result.get("tags"))) if tag]
        if tags:
            lines.append(t.profile_groups(tags))
        registered = read_date(result.get("registered_on"))
        if registered is not None:
            lines.append(t.profile_registered(registered))
        if result.get("active") is False:
            lines.append(t.profile_inactive())
        lines.append(t.profile_fix())
        return "\n".join(lines)


def _pending_line(item: Mapping[str, Any], today: date | None, t: Texts) -> str:
    title = text(item.get("title")) or t.default_activity
    label = text(item.get("course"))
    due = read_date(item.get("due_date"))
    head = f"• *{label}*: {title}" if label else f"• {title}"
    if due is None:
        return f"{head} · {t.undated()}"
    if today is not None:
        if due == today:
            return f"{head} · {t.due_today()}"
        if due == today + timedelta(days=1):
            return f"{head} · {t.due_tomorrow()}"
        if due < today:
            return f"{head} · {t.overdue(due)}"
    return f"{head} · {t.due_on(due)}"


def _course_not_found(t: Texts, course: str | None, what: str, available: object = None) -> str:
    names = [name for name in map(text, as_list(available)) if name]
    return t.course_not_found(text(course) if course else None, what, names)


def _grade_line(grade: Mapping[str, Any], t: Texts) -> str:
    title = text(grade.get("title")) or t.default_activity
    status = grade.get("status")
    score = number(grade.get("score"))
    if status == "excused":
        value = t.grade_excused()
    elif score is None:
        value = t.grade_pending()
    else:
        value = f"*{t.decimal(score)}*"
    weight = number(grade.get("weight"))
    suffix = f" ({t.percent(weight / 100)})" if weight is not None and weight > 0 else ""
    return f"• {title}: {value}{suffix}"


def _not_found(result: JsonDict | _Outcome) -> bool:
    """The tool found no course by that name (refused it, or answered with no courses)."""
    if result is _Outcome.FAILED:
        return True
    return isinstance(result, Mapping) and "available_courses" in result and not dicts(
        result.get("courses")
    )


def _period_of(item: Mapping[str, Any], result: Mapping[str, Any]) -> str | None:
    value = item.get("period", result.get("period"))
    return value if isinstance(value, str) else None


def _period(
    hint: PeriodHint | None, result: Mapping[str, Any], courses: list[Mapping[str, Any]]
) -> str | None:
    """The school's name of the period the student asked about, among those in the answer."""
    if hint is None:
        return None
    periods = [p for p in (_period_of(item, result) for item in courses) if p]
    return resolve_period(hint, periods)
