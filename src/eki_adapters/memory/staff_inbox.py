"""In-memory notes, quick replies and inbox read model (same contracts as
:mod:`eki_adapters.sql.staff_inbox`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

import attrs

from eki_adapters.memory.messaging import MessagingState
from eki_adapters.memory.staging import Staged
from eki_domain.model.inbox import Activity, InboxNote, QuickReply, ThreadItem
from eki_domain.model.student import Student


@attrs.define
class StaffInboxState:
    notes: list[InboxNote] = attrs.Factory(list)
    replies: dict[str, QuickReply] = attrs.Factory(dict)
    seen: dict[tuple[str, int], datetime] = attrs.Factory(dict)
    next_id: int = 1

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


class InMemoryInboxNotes:
    def __init__(self, staged: Staged[StaffInboxState]) -> None:
        self._s = staged

    async def add(self, note: InboxNote) -> int:
        note_id = self._s.state.new_id()
        self._s.state.notes.append(attrs.evolve(note, id=note_id))
        return note_id

    async def for_student(self, student_id: int, since: datetime | None = None
                          ) -> list[InboxNote]:
        return sorted((n for n in self._s.state.notes if n.student_id == student_id
                       and (since is None or n.at >= since)), key=lambda n: (n.at, n.id or 0))


class InMemoryQuickReplies:
    def __init__(self, staged: Staged[StaffInboxState]) -> None:
        self._s = staged

    async def list(self) -> list[QuickReply]:
        return [r for _, r in sorted(self._s.state.replies.items())]

    async def save(self, reply: QuickReply) -> bool:
        old = self._s.state.replies.get(reply.shortcut)
        self._s.state.replies[reply.shortcut] = attrs.evolve(
            reply, id=old.id if old else self._s.state.new_id())
        return old is None

    async def delete(self, shortcut: str) -> bool:
        return self._s.state.replies.pop(shortcut, None) is not None


class InMemoryInboxViews:
    def __init__(self, staged: Staged[StaffInboxState], messaging: Staged[MessagingState],
                 students: Callable[[], Iterable[Student]]) -> None:
        self._s = staged
        self._m = messaging
        self._students = students

    async def activity(self, student_ids: Sequence[int], reader: str) -> dict[int, Activity]:
        found: dict[int, Activity] = {}
        state = self._m.state
        for sid in dict.fromkeys(student_ids):
            inbound = sorted((r for r in state.inbox.values() if r.student_id == sid),
                             key=lambda r: (r.received_at, r.id))
            outbound = sorted((r.message for r in state.outbox.values()
                               if r.message.student_id == sid),
                              key=lambda m: (m.created_at, m.id or 0))
            seen = self._s.state.seen.get((reader, sid))
            staff = [m.created_at for m in outbound if m.author is not None]
            last_staff = staff[-1] if staff else None
            lines = [(r.received_at, 0, "in", r.message.text) for r in inbound] + [
                (m.created_at, 1, "out", m.body) for m in outbound]
            last = max(lines, key=lambda t: (t[0], t[1])) if lines else None
            unanswered = [r.received_at for r in inbound
                          if last_staff is None or r.received_at > last_staff]
            found[sid] = Activity(
                student_id=sid, last_at=last[0] if last else None,
                last_direction=last[2] if last else None, last_text=last[3] if last else None,
                last_inbound_at=max((r.message.sent_at for r in inbound), default=None),
                unread=sum(1 for r in inbound if seen is None or r.received_at > seen),
                last_staff_at=last_staff,
                first_unanswered_at=unanswered[0] if unanswered else None)
        return found

    async def recent_students(self, since: datetime, any_tags: frozenset[str] | None,
                              limit: int) -> list[int]:
        tags = {s.id: s.tags for s in self._students() if s.id is not None}
        newest: dict[int, datetime] = {}
        for row in self._m.state.inbox.values():
            sid = row.student_id
            if sid is None or row.received_at < since or sid not in tags:
                continue
            if any_tags is not None and not any_tags & tags[sid]:
                continue
            if sid not in newest or row.received_at > newest[sid]:
                newest[sid] = row.received_at
        return [sid for sid, _ in sorted(newest.items(), key=lambda t: (t[1], t[0]),
                                         reverse=True)][:limit]

    async def pending_inbound(self, since: datetime, limit: int
                              ) -> list[tuple[str, datetime, datetime, str | None, str]]:
        rows = sorted((r for r in self._m.state.inbox.values()
                       if r.student_id is None and r.received_at >= since
                       and str(r.state) in ("pending", "processing")),
                      key=lambda r: (r.received_at, r.id))
        return [(r.message.wa_id, r.received_at, r.message.sent_at, r.message.text,
                 str(r.message.type)) for r in rows[:limit]]

    async def opted_out_at(self, phone: str) -> datetime | None:
        return self._m.state.opt_outs.get(phone)

    async def mark_seen(self, reader: str, student_id: int, at: datetime) -> None:
        self._s.state.seen[(reader, student_id)] = at

    async def thread(self, student_id: int, limit: int) -> list[ThreadItem]:
        state = self._m.state
        items = [ThreadItem(kind="in", at=r.received_at, text=r.message.text,
                            state=str(r.state), type=str(r.message.type))
                 for r in state.inbox.values() if r.student_id == student_id]
        items += [ThreadItem(kind="out", at=m.created_at, text=m.body, author=m.author,
                             state=str(m.status), error_code=m.error_code,
                             error_title=m.error_title, outbound_id=m.id,
                             template=m.template)
                  for m in (r.message for r in state.outbox.values())
                  if m.student_id == student_id]
        items.sort(key=lambda i: (i.at, i.kind == "out", i.outbound_id or 0))
        return items[-limit:] if limit > 0 else []

    async def handoff_spans(self, student_id: int, since: datetime
                            ) -> list[tuple[datetime, datetime | None, str | None]]:
        return sorted((h["requested_at"], h["released_at"], h.get("released_by"))
                      for h in self._m.state.handoffs
                      if h["student_id"] == student_id and h["requested_at"] >= since)

    async def first_responses(self, since: datetime
                              ) -> list[tuple[int, datetime, datetime | None, datetime | None]]:
        state = self._m.state
        found = []
        for h in sorted(self._m.state.handoffs, key=lambda h: h["requested_at"]):
            if h["requested_at"] < since:
                continue
            start, end = h["requested_at"], h["released_at"]
            first = min((r.message.created_at for r in state.outbox.values()
                         if r.message.student_id == h["student_id"]
                         and r.message.author is not None and r.message.created_at >= start
                         and (end is None or r.message.created_at <= end)), default=None)
            found.append((int(h["student_id"]), start, end, first))
        return found
