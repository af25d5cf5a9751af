"""In-memory academic alerts (same contracts as :mod:`eki_adapters.sql.alerts`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import date, datetime

import attrs

from eki_adapters.memory.guardians import GuardianState
from eki_adapters.memory.progress import SchoolState
from eki_adapters.memory.staging import Staged
from eki_domain.model.alerts import (
    AbsenceFact,
    AlertRule,
    DueFact,
    GradeFact,
    GuardianContact,
    RuleOverride,
    SentAlert,
    StudentAudience,
)
from eki_domain.model.progress import AttendanceStatus, ResultStatus
from eki_domain.model.student import Student


@attrs.define
class AlertsState:
    rules: dict[AlertRule, RuleOverride] = attrs.Factory(dict)
    sent: dict[int, SentAlert] = attrs.Factory(dict)
    opt_outs: dict[tuple[str, AlertRule], datetime] = attrs.Factory(dict)
    next_id: int = 1


class InMemoryAlertFacts:
    def __init__(self, school: Staged[SchoolState], families: Staged[GuardianState],
                 students: Callable[[], Iterable[Student]]) -> None:
        self._school = school
        self._families = families
        self._students = students

    def _course_names(self) -> dict[int, str]:
        return {c.id: c.name for c in self._school.state.courses.values()}

    async def absences(self, *, since: datetime, first_day: date) -> list[AbsenceFact]:
        state = self._school.state
        names = self._course_names()
        return sorted((AbsenceFact(sid, cid, names[cid], day, state.attendance_at[key])
                       for key, status in state.attendance.items()
                       for sid, cid, day in (key,)
                       if status is AttendanceStatus.ABSENT and day >= first_day
                       and key in state.attendance_at and state.attendance_at[key] >= since),
                      key=lambda a: (a.student_id, a.day, a.course_id))

    async def graded_since(self, since: datetime, *, below: float, scale_max: float
                           ) -> list[GradeFact]:
        state = self._school.state
        names = self._course_names()
        by_id = {a.id: a for a in state.assessments.values()}
        out = []
        for (aid, sid), (score, status) in state.results.items():
            assessment = by_id[aid]
            at = state.results_at.get((aid, sid))
            if status is not ResultStatus.GRADED or score is None or at is None or at < since:
                continue
            if score * scale_max / (assessment.max_score or scale_max) >= below:
                continue
            out.append(GradeFact(sid, aid, names[assessment.course_id], assessment.title,
                                 score, assessment.max_score, at))
        return sorted(out, key=lambda g: (g.student_id, g.assessment_id))

    async def due_between(self, first_day: date, last_day: date) -> list[DueFact]:
        state = self._school.state
        names = self._course_names()
        out = []
        for assessment in state.assessments.values():
            due = assessment.due_date
            if due is None or not first_day <= due <= last_day:
                continue
            for sid, cid in state.enrollments:
                if cid != assessment.course_id:
                    continue
                result = state.results.get((assessment.id, sid))
                if result is not None and result[1] is not ResultStatus.PENDING:
                    continue
                out.append(DueFact(sid, assessment.id, names[cid], assessment.title, due))
        return sorted(out, key=lambda d: (d.student_id, d.due_date, d.assessment_id))

    async def audiences(self, student_ids: Collection[int]) -> dict[int, StudentAudience]:
        wanted = set(student_ids)
        families = self._families.state
        out: dict[int, StudentAudience] = {}
        for student in self._students():
            if student.id is None or student.id not in wanted:
                continue
            contacts = []
            for link in families.links.values():
                guardian = families.guardians.get(link.guardian_id)
                if link.student_id == student.id and guardian is not None:
                    contacts.append(GuardianContact(
                        link.guardian_id, guardian.name, guardian.phone.e164, guardian.active,
                        link.may_receive_alerts, link.priority))
            contacts.sort(key=lambda c: (c.priority, c.guardian_id))
            out[student.id] = StudentAudience(student.id, student.name, student.phone.e164,
                                              student.active, tuple(contacts))
        return out


class InMemoryAlertLog:
    def __init__(self, staged: Staged[AlertsState]) -> None:
        self._s = staged

    async def claim(self, alert: SentAlert) -> int | None:
        state = self._s.state
        key = (alert.student_id, alert.rule, alert.item, alert.recipient)
        if any((a.student_id, a.rule, a.item, a.recipient) == key
               for a in state.sent.values()):
            return None
        alert_id = state.next_id
        state.next_id += 1
        state.sent[alert_id] = attrs.evolve(alert, id=alert_id)
        return alert_id

    async def attach(self, alert_id: int, outbound_id: int) -> None:
        state = self._s.state
        state.sent[alert_id] = attrs.evolve(state.sent[alert_id], outbound_id=outbound_id)

    async def recorded(self, student_ids: Collection[int], rule: AlertRule
                       ) -> set[tuple[int, str, str]]:
        wanted = set(student_ids)
        return {(a.student_id, a.item, a.recipient) for a in self._s.state.sent.values()
                if a.rule is rule and a.student_id in wanted}

    async def counts_since(self, recipients: Collection[str], since: datetime
                           ) -> dict[str, int]:
        wanted = set(recipients)
        out: dict[str, int] = {}
        for a in self._s.state.sent.values():
            if a.recipient in wanted and a.created_at >= since:
                out[a.recipient] = out.get(a.recipient, 0) + 1
        return out

    async def list(self, *, since: datetime | None, limit: int) -> list[SentAlert]:
        rows = [a for a in self._s.state.sent.values()
                if since is None or a.created_at >= since]
        rows.sort(key=lambda a: (a.created_at, a.id or 0), reverse=True)
        return rows[:limit]


class InMemoryAlertRules:
    def __init__(self, staged: Staged[AlertsState]) -> None:
        self._s = staged

    async def stored(self) -> dict[AlertRule, RuleOverride]:
        return dict(self._s.state.rules)

    async def save(self, override: RuleOverride) -> None:
        self._s.state.rules[override.rule] = override


class InMemoryAlertOptOuts:
    def __init__(self, staged: Staged[AlertsState]) -> None:
        self._s = staged

    async def rules_refused(self, phones: Sequence[str]) -> dict[str, frozenset[AlertRule]]:
        wanted = set(phones)
        found: dict[str, set[AlertRule]] = {}
        for phone, rule in self._s.state.opt_outs:
            if phone in wanted:
                found.setdefault(phone, set()).add(rule)
        return {phone: frozenset(rules) for phone, rules in found.items()}

    async def refuse(self, phone: str, rules: Collection[AlertRule], at: datetime) -> None:
        for rule in rules:
            self._s.state.opt_outs.setdefault((phone, rule), at)

    async def accept(self, phone: str, rules: Collection[AlertRule]) -> None:
        for rule in rules:
            self._s.state.opt_outs.pop((phone, rule), None)
