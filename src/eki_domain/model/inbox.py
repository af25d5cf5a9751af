"""The staff inbox (issue #15): internal notes and system events of a conversation, quick
replies, one line of a thread, and the figures of the inbox list.

A *note* is written by a person of the school and is never sent to anyone; an *event* is
written by EKI (a hand-off taken, assigned, released for inactivity) so the thread tells the
whole story. Quick replies are saved answers a person expands by typing ``/atajo``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

import attrs

from eki_domain.errors import InvalidInput
from eki_domain.model.messages import MAX_MESSAGE_CHARS

NOTE_MAX_CHARS = 2000
SHORTCUT_MAX_CHARS = 30
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
#: ``/atajo`` at the start of the text or after a space.
_SHORTCUT_USE = re.compile(r"(?<!\S)/([a-z0-9][a-z0-9_-]{0,29})(?!\S)")


class NoteKind(StrEnum):
    NOTE = "note"  # written by a person, never sent
    EVENT = "event"  # written by EKI: the thread's system events


class ThreadEvent(StrEnum):
    """System events of a thread (the ``event`` of an :class:`InboxNote` or derived)."""

    OPENED = "handoff.opened"
    TAKEN = "handoff.taken"
    ASSIGNED = "handoff.assigned"
    RELEASED = "handoff.released"
    IDLE_RELEASED = "handoff.idle_released"
    OPTED_OUT = "opt_out"


def _clean(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t").strip()


@attrs.frozen
class InboxNote:
    student_id: int
    kind: NoteKind
    body: str
    at: datetime
    author: str | None = None
    event: str | None = None
    id: int | None = None

    @classmethod
    def note(cls, student_id: int, body: str, author: str, at: datetime) -> InboxNote:
        text = _clean(body)
        if not text or len(text) > NOTE_MAX_CHARS:
            raise InvalidInput(f"La nota debe tener entre 1 y {NOTE_MAX_CHARS} caracteres "
                               f"(tiene {len(text)}).")
        return cls(student_id=student_id, kind=NoteKind.NOTE, body=text, at=at,
                   author=author[:254])

    @classmethod
    def system(cls, student_id: int, event: ThreadEvent, body: str, at: datetime, *,
               author: str | None = None) -> InboxNote:
        return cls(student_id=student_id, kind=NoteKind.EVENT, body=body[:NOTE_MAX_CHARS],
                   at=at, author=None if author is None else author[:254], event=event.value)


def normalize_shortcut(raw: str) -> str:
    name = raw.strip().lstrip("/").lower()
    if not _SHORTCUT.match(name):
        raise InvalidInput("El atajo debe tener de 1 a 30 letras minúsculas sin tilde, "
                           "números, «-» o «_» (por ejemplo «horario»).")
    return name


@attrs.frozen
class QuickReply:
    shortcut: str
    body: str
    updated_by: str
    updated_at: datetime
    id: int | None = None

    @classmethod
    def create(cls, shortcut: str, body: str, by: str, at: datetime) -> QuickReply:
        text = _clean(body)
        if not text or len(text) > MAX_MESSAGE_CHARS:
            raise InvalidInput(f"La respuesta debe tener entre 1 y {MAX_MESSAGE_CHARS} "
                               f"caracteres (tiene {len(text)}).")
        return cls(shortcut=normalize_shortcut(shortcut), body=text, updated_by=by[:254],
                   updated_at=at)


def expand_shortcuts(text: str, replies: Mapping[str, str]) -> str:
    """Replace every ``/atajo`` that names a saved answer by its text (others stay)."""
    return _SHORTCUT_USE.sub(lambda m: replies.get(m.group(1), m.group(0)), text)


def used_shortcuts(text: str) -> set[str]:
    return {m.group(1) for m in _SHORTCUT_USE.finditer(text)}


@attrs.frozen
class ThreadItem:
    """One line of a conversation as the inbox shows it."""

    kind: str  # "in" | "out" | "note" | "event"
    at: datetime
    text: str | None
    author: str | None = None  # staff author (out: None means the bot), note author
    state: str | None = None  # delivery status (out) or inbox state (in)
    error_code: str | None = None
    error_title: str | None = None
    outbound_id: int | None = None
    template: str | None = None
    type: str | None = None  # message type (in)
    event: str | None = None


@attrs.frozen
class Activity:
    """What the inbox list needs of one student's conversation (read in one query)."""

    student_id: int
    last_at: datetime | None = None
    last_direction: str | None = None
    last_text: str | None = None
    #: ``timestamp`` of the newest inbound message (the 24-hour window).
    last_inbound_at: datetime | None = None
    #: Inbound messages after the reader last opened the conversation.
    unread: int = 0
    #: Newest message a person of the school sent.
    last_staff_at: datetime | None = None
    #: Oldest inbound message after ``last_staff_at`` (None: nothing unanswered).
    first_unanswered_at: datetime | None = None


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` 0..1) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-int(fraction * 100) * len(ordered) // 100))
    return ordered[min(rank, len(ordered)) - 1]


def window_badge(left: timedelta) -> tuple[str, str]:
    """(Spanish text, css level) of the time left in the 24-hour window."""
    seconds = int(left.total_seconds())
    if seconds <= 0:
        return "ventana cerrada", "closed"
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    text = f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
    return f"quedan {text}", ("low" if seconds < 2 * 3600 else "ok")
