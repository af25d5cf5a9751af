"""Ports of academic alerts (issue 16): the facts rules fire on, the log of what went out,
the rules' stored switches, the per-rule opt-outs, and the pluggable consent check.

``AlertFacts``, ``AlertLog``, ``AlertRules`` and ``AlertOptOuts`` are properties of the unit
of work (``uow.alert_facts``, ``uow.alerts``, ``uow.alert_rules``, ``uow.alert_opt_outs``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Protocol

from eki_domain.model.alerts import (
    AbsenceFact,
    AlertRule,
    DueFact,
    GradeFact,
    RuleOverride,
    SentAlert,
    StudentAudience,
)


class AlertFacts(Protocol):
    async def absences(self, *, since: datetime, first_day: date) -> list[AbsenceFact]:
        """Unexcused absences (``ausente``) imported or changed at ``since`` or later, on
        ``first_day`` or later."""
        ...

    async def graded_since(self, since: datetime, *, below: float, scale_max: float
                           ) -> list[GradeFact]:
        """Graded results imported or changed at ``since`` or later whose score, rescaled
        to ``scale_max``, is below ``below`` (the caller rounds and checks exactly)."""
        ...

    async def due_between(self, first_day: date, last_day: date) -> list[DueFact]:
        """Assignments due between the two days (inclusive) for each student enrolled in
        their course who has no grade for them yet (no result, or a ``pending`` one)."""
        ...

    async def audiences(self, student_ids: Collection[int]) -> dict[int, StudentAudience]:
        """The students with their linked guardians (by priority)."""
        ...


class AlertLog(Protocol):
    async def claim(self, alert: SentAlert) -> int | None:
        """Record the alert unless (student, rule, item, recipient) is already recorded:
        its id, or None when it was (the caller then queues nothing)."""
        ...

    async def attach(self, alert_id: int, outbound_id: int) -> None:
        """The outbox row that carries the alert."""
        ...

    async def recorded(self, student_ids: Collection[int], rule: AlertRule
                       ) -> set[tuple[int, str, str]]:
        """(student id, item, recipient) of the alerts of ``rule`` already recorded for
        these students."""
        ...

    async def counts_since(self, recipients: Collection[str], since: datetime
                           ) -> dict[str, int]:
        """Alerts recorded per recipient since ``since`` (absent: none)."""
        ...

    async def list(self, *, since: datetime | None, limit: int) -> list[SentAlert]:
        """Newest first."""
        ...


class AlertRules(Protocol):
    async def stored(self) -> dict[AlertRule, RuleOverride]:
        """What the database holds about each rule (absent: nothing)."""
        ...

    async def save(self, override: RuleOverride) -> None:
        """Create or replace the rule's row."""
        ...


class AlertOptOuts(Protocol):
    async def rules_refused(self, phones: Sequence[str]) -> dict[str, frozenset[AlertRule]]:
        """The rules each person (E.164) asked not to receive (absent: none)."""
        ...

    async def refuse(self, phone: str, rules: Collection[AlertRule], at: datetime) -> None:
        ...

    async def accept(self, phone: str, rules: Collection[AlertRule]) -> None: ...
