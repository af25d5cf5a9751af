"""Ports of what staff send: the template registry, the providers' template catalogues,
WhatsApp's 24-hour window and who owns a conversation a person took over.

Each is a property of the unit of work (``uow.templates``, ``uow.windows``,
``uow.assignments``) except :class:`TemplateCatalog`, which talks to the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from eki_domain.model.templates import MessageTemplate


class Templates(Protocol):
    async def upsert(self, template: MessageTemplate) -> bool:
        """Add or replace the template (name, language); True when it was new."""
        ...

    async def get(self, name: str, language: str) -> MessageTemplate | None: ...

    async def list(self) -> list[MessageTemplate]:
        """Every template, by name then language."""
        ...


class TemplateCatalog(Protocol):
    """The provider's own list of templates (Meta's WABA, Twilio's Content API)."""

    @property
    def source(self) -> str:
        """"meta" or "twilio"."""
        ...

    async def fetch(self) -> list[MessageTemplate]:
        """Every template the provider holds, whatever its status (all pages)."""
        ...


class ServiceWindows(Protocol):
    async def last_inbound_at(self, wa_ids: Sequence[str]) -> dict[str, datetime]:
        """The ``timestamp`` of each person's newest inbound message (absent: never wrote)."""
        ...

    async def last_contact(self, student_id: int) -> tuple[str, str] | None:
        """(wa_id, channel) of the student's newest inbound message; None: never wrote."""
        ...


class HandoffAssignments(Protocol):
    async def assign(self, student_id: int, staff: str, at: datetime) -> bool:
        """Give the open hand-off of the student to ``staff``; False when none is open."""
        ...

    async def touch(self, student_id: int, at: datetime) -> None:
        """Staff acted in the conversation (replied, took it)."""
        ...

    async def assignee(self, student_id: int) -> str | None:
        """Who owns the student's open hand-off (None: unassigned or none open)."""
        ...

    async def open_with_assignees(self) -> list[tuple[int, str, datetime, str | None]]:
        """(student id, wa_id, requested at, assigned to) of every open hand-off, oldest
        first."""
        ...

    async def idle_since(self, cutoff: datetime) -> list[int]:
        """Students whose open hand-off had no staff activity since ``cutoff`` (counting
        from the request when nobody acted yet)."""
        ...

