"""Live events: what staff screens and integrators see happen, as it happens (issue #15).

A :class:`LiveEvent` is the public, JSON-shaped projection of a domain event
(:mod:`eki_domain.model.events`) about one conversation: ``{"type", "phone" (E.164),
"at" (ISO-8601), "student_id", ...}``. The live bridge
(:mod:`eki_domain.services.live`) builds them after commit and publishes them on the live
feed (:mod:`eki_domain.ports.live`): in process on SQLite/memory, through PostgreSQL
``NOTIFY`` across processes. They never carry message texts: a screen that wants the text
reads the conversation again.

``tags`` (the student's tags) decide who may see an event (:func:`visible_to`) and are never
sent to clients.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs

from eki_domain.model.permissions import Action, Principal, can

#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; ours stay far below.
MAX_WIRE_BYTES = 7900
#: Extra fields are scalars with short keys and values.
MAX_EXTRA_FIELDS = 12
MAX_EXTRA_CHARS = 300

Scalar = str | int | float | bool | None


class LiveEventType(StrEnum):
    MESSAGE_RECEIVED = "message.received"
    MESSAGE_SENT = "message.sent"
    MESSAGE_STATUS = "message.status"
    HANDOFF_OPENED = "handoff.opened"
    HANDOFF_TAKEN = "handoff.taken"
    HANDOFF_ASSIGNED = "handoff.assigned"
    HANDOFF_RELEASED = "handoff.released"
    NOTE_ADDED = "note.added"


#: Keys of the envelope; extra fields may not reuse them.
ENVELOPE = frozenset({"type", "phone", "at", "student_id", "tags"})


def _extra(value: Mapping[str, Scalar]) -> Mapping[str, Scalar]:
    if len(value) > MAX_EXTRA_FIELDS:
        raise ValueError("too many fields in a live event")
    clean: dict[str, Scalar] = {}
    for key, item in value.items():
        if not isinstance(key, str) or key in ENVELOPE or not 0 < len(key) <= 40:
            raise ValueError(f"bad live event field {key!r}")
        if isinstance(item, str):
            item = item[:MAX_EXTRA_CHARS]
        elif not isinstance(item, int | float | bool) and item is not None:
            raise ValueError(f"live event field {key!r} is not a scalar")
        clean[key] = item
    return clean


@attrs.frozen(hash=False)
class LiveEvent:
    """One thing that happened in one conversation. Build with :meth:`of`."""

    type: LiveEventType
    #: The person's phone, E.164 (``+57…``).
    phone: str
    at: datetime
    student_id: int | None = None
    #: The student's tags: who may see the event. Never sent to clients.
    tags: frozenset[str] = frozenset()
    #: The type's own fields (``status``, ``outbound_id``, ``by``…): scalars only.
    extra: Mapping[str, Scalar] = attrs.field(factory=dict, converter=_extra)

    @classmethod
    def of(cls, type: LiveEventType, phone: str, at: datetime, *,
           student_id: int | None = None, tags: frozenset[str] = frozenset(),
           **extra: Scalar) -> LiveEvent:
        return cls(type=type, phone=phone, at=at, student_id=student_id, tags=tags,
                   extra=extra)

    def public(self) -> dict[str, Any]:
        """What a client receives (no tags)."""
        return {"type": self.type.value, "phone": self.phone, "at": self.at.isoformat(),
                "student_id": self.student_id, **self.extra}

    def to_json(self) -> str:
        """The client's JSON (one SSE ``data:`` line: no newlines)."""
        return json.dumps(self.public(), ensure_ascii=False, separators=(",", ":"))

    def to_wire(self) -> str:
        """The JSON carried between processes (with the tags), at most
        :data:`MAX_WIRE_BYTES` bytes: the tags are dropped when too many (the event is
        then shown only to those who see every student) and, failing that, the extra
        fields."""
        body = {**self.public(), "tags": sorted(self.tags)}
        text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
        if len(text) > MAX_WIRE_BYTES:
            body["tags"] = []
            body["tags_dropped"] = True
            text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
        if len(text) > MAX_WIRE_BYTES:
            text = json.dumps({k: body[k] for k in ("type", "phone", "at", "student_id",
                                                    "tags", "tags_dropped")},
                              ensure_ascii=True, separators=(",", ":"))
        return text

    @classmethod
    def from_wire(cls, text: str) -> LiveEvent:
        """Parse :meth:`to_wire`'s JSON; ``ValueError`` when it is not one."""
        if len(text) > MAX_WIRE_BYTES * 2:
            raise ValueError("live event too large")
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a live event is a JSON object")
        student_id, tags = data.pop("student_id", None), data.pop("tags", [])
        phone, at = data.pop("phone", None), data.pop("at", None)
        if not isinstance(phone, str) or not isinstance(at, str):
            raise ValueError("a live event has a phone and a time")
        if student_id is not None and (not isinstance(student_id, int)
                                       or isinstance(student_id, bool)):
            raise ValueError("bad student id")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError("bad tags")
        return cls(type=LiveEventType(data.pop("type", None)), phone=phone,
                   at=datetime.fromisoformat(at), student_id=student_id,
                   tags=frozenset(tags), extra=data)


def visible_to(principal: Principal, event: LiveEvent) -> bool:
    """May ``principal`` see ``event``? The conversation rule: admins and coordinators see
    every event, teachers those of students carrying one of their tags (an event about
    an unknown sender carries no tags: only those who see everyone get it), viewers
    nothing."""
    return can(principal, Action.VIEW_CONVERSATION, event.tags)
