"""In-memory templates, 24-hour windows and hand-off assignments (same contracts as
:mod:`eki_adapters.sql.outbound`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from eki_adapters.memory.messaging import MessagingState
from eki_adapters.memory.staging import Staged
from eki_domain.model.templates import MessageTemplate


@attrs.define
class TemplatesState:
    by_key: dict[tuple[str, str], MessageTemplate] = attrs.Factory(dict)


class InMemoryTemplates:
    def __init__(self, staged: Staged[TemplatesState]) -> None:
        self._s = staged

    async def upsert(self, template: MessageTemplate) -> bool:
        key = (template.name, template.language)
        new = key not in self._s.state.by_key
        self._s.state.by_key[key] = template
        return new

    async def get(self, name: str, language: str) -> MessageTemplate | None:
        return self._s.state.by_key.get((name, language))

    async def list(self) -> list[MessageTemplate]:
        return [t for _, t in sorted(self._s.state.by_key.items())]


class InMemoryServiceWindows:
    def __init__(self, staged: Staged[MessagingState]) -> None:
        self._s = staged

    async def last_inbound_at(self, wa_ids: Sequence[str]) -> dict[str, datetime]:
        wanted = set(wa_ids)
        newest: dict[str, datetime] = {}
        for row in self._s.state.inbox.values():
            wa_id, at = row.message.wa_id, row.message.sent_at
            if wa_id in wanted and (wa_id not in newest or at > newest[wa_id]):
                newest[wa_id] = at
        return newest

    async def last_contact(self, student_id: int) -> tuple[str, str] | None:
        rows = [r for r in self._s.state.inbox.values() if r.student_id == student_id]
        if not rows:
            return None
        row = max(rows, key=lambda r: (r.received_at, r.id))
        return row.message.wa_id, row.message.channel


class InMemoryHandoffAssignments:
    def __init__(self, staged: Staged[MessagingState]) -> None:
        self._s = staged

    def _open(self, student_id: int) -> list[dict[str, object]]:
        return [h for h in self._s.state.handoffs
                if h["student_id"] == student_id and h["released_at"] is None]

    async def assign(self, student_id: int, staff: str, at: datetime) -> bool:
        found = self._open(student_id)
        for handoff in found:
            handoff.update(assigned_to=staff, assigned_at=at, last_staff_at=at)
        return bool(found)

    async def touch(self, student_id: int, at: datetime) -> None:
        for handoff in self._open(student_id):
            handoff["last_staff_at"] = at

    async def assignee(self, student_id: int) -> str | None:
        for handoff in self._open(student_id):
            value = handoff.get("assigned_to")
            return value if isinstance(value, str) else None
        return None

    async def open_with_assignees(self) -> list[tuple[int, str, datetime, str | None]]:
        return [(int(h["student_id"]), str(h["wa_id"]), h["requested_at"],
                 h.get("assigned_to"))
                for h in sorted((h for h in self._s.state.handoffs if h["released_at"] is None),
                                key=lambda h: h["requested_at"])]

    async def idle_since(self, cutoff: datetime) -> list[int]:
        idle = []
        for h in sorted((h for h in self._s.state.handoffs if h["released_at"] is None),
                        key=lambda h: h["requested_at"]):
            last = h.get("last_staff_at") or h["requested_at"]
            if last < cutoff:
                idle.append(int(h["student_id"]))
        return idle
