"""Academic alerts over SQL (issue 16): the facts rules fire on, the alert log, the rules'
stored switches and the per-rule opt-outs.

The fact queries scan ``results`` and ``attendance`` by ``updated_at`` without an index of
their own (a full scan every 15 minutes costs less than one more index maintained on
every import of a million results; docs/alerts.md).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.dialect import upsert_into
from eki_adapters.sql.tables import (
    alert_opt_outs,
    alert_rules,
    alerts,
    assessments,
    attendance,
    courses,
    enrollments,
    guardian_links,
    guardians,
    results,
    students,
)
from eki_domain.model.alerts import (
    AbsenceFact,
    AlertRule,
    DueFact,
    GradeFact,
    GuardianContact,
    RecipientKind,
    RuleOverride,
    SentAlert,
    StudentAudience,
)

_CHUNK = 500


def _chunks(values: Collection[Any]) -> list[list[Any]]:
    ordered = sorted(values)
    return [ordered[i : i + _CHUNK] for i in range(0, len(ordered), _CHUNK)]


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class SqlAlertFacts:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def absences(self, *, since: datetime, first_day: date) -> list[AbsenceFact]:
        rows = await self._conn.execute(
            sa.select(attendance.c.student_id, attendance.c.course_id, courses.c.name,
                      attendance.c.day, attendance.c.updated_at)
            .join(courses, courses.c.id == attendance.c.course_id)
            .where(attendance.c.status == "ausente", attendance.c.updated_at >= since,
                   attendance.c.day >= first_day)
            .order_by(attendance.c.student_id, attendance.c.day, attendance.c.course_id))
        return [AbsenceFact(int(r[0]), int(r[1]), r[2], _as_date(r[3]), r[4]) for r in rows]

    async def graded_since(self, since: datetime, *, below: float, scale_max: float
                           ) -> list[GradeFact]:
        rescaled = (results.c.score * scale_max
                    / sa.func.coalesce(sa.func.nullif(assessments.c.max_score, 0), scale_max))
        rows = await self._conn.execute(
            sa.select(results.c.student_id, results.c.assessment_id, courses.c.name,
                      assessments.c.title, results.c.score, assessments.c.max_score,
                      results.c.updated_at)
            .join(assessments, assessments.c.id == results.c.assessment_id)
            .join(courses, courses.c.id == assessments.c.course_id)
            .where(results.c.status == "graded", results.c.score.is_not(None),
                   results.c.updated_at >= since, rescaled < below)
            .order_by(results.c.student_id, results.c.assessment_id))
        return [GradeFact(int(r[0]), int(r[1]), r[2], r[3], float(r[4]),
                          None if r[5] is None else float(r[5]), r[6]) for r in rows]

    async def due_between(self, first_day: date, last_day: date) -> list[DueFact]:
        graded = (sa.select(results.c.student_id)
                  .where(results.c.assessment_id == assessments.c.id,
                         results.c.student_id == enrollments.c.student_id,
                         results.c.status != "pending"))
        rows = await self._conn.execute(
            sa.select(enrollments.c.student_id, assessments.c.id, courses.c.name,
                      assessments.c.title, assessments.c.due_date)
            .select_from(assessments)
            .join(courses, courses.c.id == assessments.c.course_id)
            .join(enrollments, enrollments.c.course_id == assessments.c.course_id)
            .where(assessments.c.due_date >= first_day, assessments.c.due_date <= last_day,
                   ~graded.exists())
            .order_by(enrollments.c.student_id, assessments.c.due_date, assessments.c.id))
        return [DueFact(int(r[0]), int(r[1]), r[2], r[3], _as_date(r[4])) for r in rows]

    async def audiences(self, student_ids: Collection[int]) -> dict[int, StudentAudience]:
        found: dict[int, StudentAudience] = {}
        links: dict[int, list[GuardianContact]] = {}
        for chunk in _chunks(set(student_ids)):
            for sid, name, phone, active in await self._conn.execute(
                    sa.select(students.c.id, students.c.name, students.c.phone,
                              students.c.active).where(students.c.id.in_(chunk))):
                found[int(sid)] = StudentAudience(int(sid), name, phone, bool(active))
            for row in await self._conn.execute(
                    sa.select(guardian_links.c.student_id, guardians.c.id, guardians.c.name,
                              guardians.c.phone, guardians.c.active,
                              guardian_links.c.may_receive_alerts, guardian_links.c.priority)
                    .join(guardians, guardians.c.id == guardian_links.c.guardian_id)
                    .where(guardian_links.c.student_id.in_(chunk))
                    .order_by(guardian_links.c.priority, guardians.c.id)):
                links.setdefault(int(row[0]), []).append(GuardianContact(
                    int(row[1]), row[2], row[3], bool(row[4]), bool(row[5]), int(row[6])))
        return {sid: StudentAudience(a.student_id, a.name, a.phone, a.active,
                                     tuple(links.get(sid, ())))
                for sid, a in found.items()}


class SqlAlertLog:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(self, alert: SentAlert) -> int | None:
        insert = upsert_into(self._conn.dialect.name, alerts).values(
            student_id=alert.student_id, rule=alert.rule.value, item=alert.item,
            recipient=alert.recipient, recipient_kind=alert.kind.value,
            guardian_id=alert.guardian_id, template=alert.template,
            created_at=alert.created_at)
        new_id = await self._conn.scalar(
            insert.on_conflict_do_nothing(
                index_elements=["student_id", "rule", "item", "recipient"])
            .returning(alerts.c.id))
        return None if new_id is None else int(new_id)

    async def attach(self, alert_id: int, outbound_id: int) -> None:
        await self._conn.execute(alerts.update().where(alerts.c.id == alert_id)
                                 .values(outbound_id=outbound_id))

    async def recorded(self, student_ids: Collection[int], rule: AlertRule
                       ) -> set[tuple[int, str, str]]:
        out: set[tuple[int, str, str]] = set()
        for chunk in _chunks(set(student_ids)):
            rows = await self._conn.execute(
                sa.select(alerts.c.student_id, alerts.c.item, alerts.c.recipient)
                .where(alerts.c.rule == rule.value, alerts.c.student_id.in_(chunk)))
            out |= {(int(sid), item, to) for sid, item, to in rows}
        return out

    async def counts_since(self, recipients: Collection[str], since: datetime
                           ) -> dict[str, int]:
        out: dict[str, int] = {}
        for chunk in _chunks(set(recipients)):
            rows = await self._conn.execute(
                sa.select(alerts.c.recipient, sa.func.count())
                .where(alerts.c.recipient.in_(chunk), alerts.c.created_at >= since)
                .group_by(alerts.c.recipient))
            out.update({to: int(n) for to, n in rows})
        return out

    async def list(self, *, since: datetime | None, limit: int) -> list[SentAlert]:
        query = sa.select(alerts).order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
        if since is not None:
            query = query.where(alerts.c.created_at >= since)
        rows = await self._conn.execute(query.limit(limit))
        return [SentAlert(student_id=int(r.student_id), rule=AlertRule(r.rule), item=r.item,
                          recipient=r.recipient, kind=RecipientKind(r.recipient_kind),
                          created_at=r.created_at, outbound_id=r.outbound_id,
                          template=r.template, guardian_id=r.guardian_id, id=int(r.id))
                for r in rows]


class SqlAlertRules:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def stored(self) -> dict[AlertRule, RuleOverride]:
        known = {rule.value: rule for rule in AlertRule}
        out: dict[AlertRule, RuleOverride] = {}
        for r in await self._conn.execute(sa.select(alert_rules)):
            rule = known.get(r.rule)
            if rule is not None:
                out[rule] = RuleOverride(
                    rule, enabled=None if r.enabled is None else bool(r.enabled),
                    template=r.template, language=r.language, enabled_since=r.enabled_since,
                    updated_at=r.updated_at, updated_by=r.updated_by)
        return out

    async def save(self, override: RuleOverride) -> None:
        values = {"enabled": override.enabled, "template": override.template,
                  "language": override.language, "enabled_since": override.enabled_since,
                  "updated_at": override.updated_at, "updated_by": override.updated_by}
        insert = upsert_into(self._conn.dialect.name, alert_rules).values(
            rule=override.rule.value, **values)
        await self._conn.execute(insert.on_conflict_do_update(index_elements=["rule"],
                                                              set_=values))


class SqlAlertOptOuts:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def rules_refused(self, phones: Sequence[str]) -> dict[str, frozenset[AlertRule]]:
        known = {rule.value: rule for rule in AlertRule}
        found: dict[str, set[AlertRule]] = {}
        for chunk in _chunks(set(phones)):
            rows = await self._conn.execute(
                sa.select(alert_opt_outs.c.phone, alert_opt_outs.c.rule)
                .where(alert_opt_outs.c.phone.in_(chunk)))
            for phone, rule in rows:
                if rule in known:
                    found.setdefault(phone, set()).add(known[rule])
        return {phone: frozenset(rules) for phone, rules in found.items()}

    async def refuse(self, phone: str, rules: Collection[AlertRule], at: datetime) -> None:
        if not rules:
            return
        insert = upsert_into(self._conn.dialect.name, alert_opt_outs)
        await self._conn.execute(
            insert.on_conflict_do_nothing(index_elements=["phone", "rule"]),
            [{"phone": phone, "rule": rule.value, "created_at": at} for rule in sorted(rules)])

    async def accept(self, phone: str, rules: Collection[AlertRule]) -> None:
        if rules:
            await self._conn.execute(alert_opt_outs.delete().where(
                alert_opt_outs.c.phone == phone,
                alert_opt_outs.c.rule.in_([rule.value for rule in rules])))
