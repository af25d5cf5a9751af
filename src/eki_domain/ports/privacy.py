"""Privacy ports (issue 18): a person's data across every table, the retention purge and
the register of data requests.

:class:`PersonalData` is implemented from ONE registry of "tables holding a person's data
and how their rows are found" (``eki_adapters.sql.privacy_registry``): export and erasure
read the same list, so a new table is one entry, and a test that scans every text column
of every table after an erasure catches a table left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from eki_domain.model.phone import PhoneNumber
from eki_domain.model.privacy import ExportSection, Person, PrivacyRequest, TableCount
from eki_domain.ports.repositories import Transaction
from eki_domain.ports.staff import AuditLog


class PersonalData(Protocol):
    async def find(self, phone: PhoneNumber) -> Person:
        """The person stored under any form of ``phone`` (students and guardians found)."""
        ...

    async def export(self, person: Person) -> list[ExportSection]:
        """Every registered table's rows about ``person`` (empty sections included)."""
        ...

    async def count(self, person: Person) -> int:
        """Rows an erasure of ``person`` would touch (to bound it before it starts)."""
        ...

    async def erase(self, person: Person, *, keep_academic: bool,
                    reference: str) -> list[TableCount]:
        """Delete (or, for academic records with ``keep_academic``, anonymise) every row
        about ``person``; occurrences of the number in kept text become ``reference``."""
        ...


class Retention(Protocol):
    """The purge, one bounded batch at a time (each in its own unit of work)."""

    def kinds(self) -> Sequence[tuple[str, str]]:
        """``(table, kind)`` pairs the purge walks, kind ∈ webhooks|messages|audit."""
        ...

    async def count_older(self, table: str, cutoff: datetime) -> int: ...

    async def purge_older(self, table: str, cutoff: datetime, limit: int) -> int:
        """Delete up to ``limit`` rows of ``table`` older than ``cutoff`` (rolling their
        counts into the daily aggregates first when the dashboard needs them); the number
        deleted."""
        ...


class PrivacyRequests(Protocol):
    async def add(self, request: PrivacyRequest) -> PrivacyRequest: ...

    async def get(self, request_id: int) -> PrivacyRequest | None: ...

    async def save(self, request: PrivacyRequest) -> None: ...

    async def list(self, *, open_only: bool = False, due_by: date | None = None,
                   limit: int = 500) -> list[PrivacyRequest]:
        """Oldest deadline first; ``due_by``: open requests due on or before that day."""
        ...

    async def forget_phone(self, phones: Sequence[str]) -> int:
        """Erasure: requests of these E.164 numbers keep their reference only."""
        ...


class PrivacyUnitOfWork(Transaction, Protocol):
    @property
    def personal_data(self) -> PersonalData: ...

    @property
    def retention(self) -> Retention: ...

    @property
    def privacy_requests(self) -> PrivacyRequests: ...

    @property
    def audit(self) -> AuditLog: ...

