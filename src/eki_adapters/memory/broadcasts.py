"""In-memory broadcasts and audiences (issue #16): the same behaviour as
:mod:`eki_adapters.sql.broadcasts`, for tests and library users."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from typing import Any

import attrs

from eki_adapters.memory.guardians import GuardianState
from eki_adapters.memory.messaging import MessagingState, OutboxRow
from eki_adapters.memory.staging import Staged
from eki_domain.model.broadcasts import (
    Audience,
    Broadcast,
    BroadcastState,
    Candidate,
    RecipientKind,
    RecipientResult,
)
from eki_domain.model.messages import DeliveryStatus
from eki_domain.model.student import Student


@attrs.define
class BroadcastsState:
    broadcasts: dict[int, Broadcast] = attrs.Factory(dict)
    next_id: int = 1


class InMemoryBroadcasts:
    def __init__(self, staged: Staged[BroadcastsState], messaging: Staged[MessagingState],
                 students: Callable[[], dict[int, Student]]) -> None:
        self._s = staged
        self._m = messaging
        self._students = students

    async def add(self, broadcast: Broadcast) -> Broadcast:
        state = self._s.state
        broadcast.id = state.next_id
        state.next_id += 1
        state.broadcasts[broadcast.id] = attrs.evolve(broadcast)
        return broadcast

    async def save(self, broadcast: Broadcast) -> None:
        assert broadcast.id is not None
        self._s.state.broadcasts[broadcast.id] = attrs.evolve(broadcast)

    async def get(self, broadcast_id: int) -> Broadcast | None:
        found = self._s.state.broadcasts.get(broadcast_id)
        return None if found is None else attrs.evolve(found)

    async def recent(self, limit: int = 50) -> list[Broadcast]:
        ordered = sorted(self._s.state.broadcasts.values(), key=lambda b: -(b.id or 0))
        return [attrs.evolve(b) for b in ordered[:limit]]

    async def pending(self, now: datetime) -> list[int]:
        return sorted(b.id for b in self._s.state.broadcasts.values() if b.id is not None and (
            b.state is BroadcastState.SENDING or (
                b.state is BroadcastState.SCHEDULED and b.scheduled_at is not None
                and b.scheduled_at <= now)))

    def _rows(self, broadcast_id: int) -> Iterable[OutboxRow]:
        rows = self._m.state.outbox.values()
        return sorted((r for r in rows if r.message.broadcast_id == broadcast_id),
                      key=lambda r: r.message.id or 0)

    async def status_counts(self, broadcast_ids: Collection[int]
                            ) -> dict[int, dict[str, int]]:
        counts: dict[int, dict[str, int]] = {}
        for broadcast_id in set(broadcast_ids):
            for row in self._rows(broadcast_id):
                of = counts.setdefault(broadcast_id, {})
                of[row.message.status.value] = of.get(row.message.status.value, 0) + 1
        return counts

    async def results(self, broadcast_id: int, limit: int) -> list[RecipientResult]:
        students = self._students()
        out = []
        for row in list(self._rows(broadcast_id))[:limit]:
            m = row.message
            student = students.get(m.student_id or 0)
            out.append(RecipientResult(
                to=m.to, student_id=m.student_id,
                student_name=student.name if student else None, status=m.status.value,
                error_code=m.error_code, error_title=m.error_title,
                updated_at=row.next_attempt_at))
        return out

    def _queued(self, broadcast_id: int) -> list[OutboxRow]:
        return [r for r in self._rows(broadcast_id)
                if r.message.status is DeliveryStatus.QUEUED]

    async def hold(self, broadcast_id: int, until: datetime) -> int:
        rows = self._queued(broadcast_id)
        for row in rows:
            row.next_attempt_at = until
        return len(rows)

    async def release(self, broadcast_id: int, now: datetime) -> int:
        return await self.hold(broadcast_id, now)

    async def cancel_rows(self, broadcast_id: int, code: str, now: datetime) -> int:
        rows = self._queued(broadcast_id)
        for row in rows:
            row.message.status = DeliveryStatus.FAILED
            row.message.error_code, row.message.error_title = code, "difusión cancelada"
        return len(rows)


class InMemoryAudiences:
    def __init__(self, students: Callable[[], dict[int, Student]],
                 families: Staged[GuardianState], messaging: Staged[MessagingState]) -> None:
        self._students = students
        self._families = families
        self._m = messaging

    def _flags(self, candidate: Candidate) -> Candidate:
        state = self._m.state
        return attrs.evolve(candidate, opted_out=candidate.phone in state.opt_outs,
                            no_whatsapp=candidate.wa_id in state.no_whatsapp)

    async def candidates(self, audience: Audience) -> list[Candidate]:
        chosen = {sid: s for sid, s in self._students().items() if audience.matches(s.tags)}
        out: list[Candidate] = []
        if audience.to in (RecipientKind.STUDENTS, RecipientKind.BOTH):
            out.extend(Candidate(
                kind="student", name=s.name, phone=s.phone.e164,
                wa_id=s.phone.e164.lstrip("+"), student_id=sid, student_name=s.name,
                student_tags=s.tags, active=s.active) for sid, s in chosen.items())
        if audience.to in (RecipientKind.GUARDIANS, RecipientKind.BOTH):
            state = self._families.state
            for (guardian_id, student_id), link in state.links.items():
                student = chosen.get(student_id)
                guardian: Any = state.guardians.get(guardian_id)
                if student is None or guardian is None:
                    continue
                out.append(Candidate(
                    kind="guardian", name=guardian.name, phone=guardian.phone.e164,
                    wa_id=guardian.phone.e164.lstrip("+"), student_id=student_id,
                    student_name=student.name, student_tags=student.tags,
                    active=guardian.active and student.active,
                    allowed=link.may_receive_alerts, priority=link.priority))
        return [self._flags(c) for c in out]
