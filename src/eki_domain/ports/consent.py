"""The consent ledger port (``uow.consents``): append-only decisions, and the question a
person asked before consenting (answered right after ACEPTO)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from eki_domain.model.consent import ConsentDecision, ConsentRecord


class ConsentLedger(Protocol):
    async def append(self, *records: ConsentRecord) -> None:
        """Add decisions (never changes a stored one)."""
        ...

    async def current_among(self, phones: Sequence[str], version: str
                            ) -> dict[str, ConsentDecision]:
        """The latest decision under ``version`` of each of ``phones`` (E.164) that has one:
        one look-up for the senders a worker claims together (and for audiences)."""
        ...

    async def history(self, phone: str) -> list[ConsentRecord]:
        """Every decision of ``phone``, oldest first."""
        ...

    async def keep_question(self, phone: str, text: str, at: datetime) -> None:
        """Remember what ``phone`` asked while their consent was missing (replaces an
        older question)."""
        ...

    async def kept_question(self, phone: str, since: datetime) -> str | None:
        """The question kept for ``phone`` at or after ``since`` (None: none)."""
        ...

    async def forget_question(self, phone: str) -> None: ...


class ConsentCheck(Protocol):
    """Who may not be written to for lack of consent (broadcasts and alerts ask it;
    :class:`eki_domain.services.consent.ConsentDesk` is it)."""

    async def lacking_consent(self, phones: Sequence[str],
                              ledger: ConsentLedger | None = None) -> set[str]:
        """The E.164 phones of ``phones`` with no current consent, read through ``ledger``
        (the caller's open unit of work) when given."""
        ...
