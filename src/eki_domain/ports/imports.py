"""Ports used by imports: the bulk student store and the import history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

from eki_domain.model.imports import FailedRow, ImportReport, Sheet
from eki_domain.model.roster import ExistingStudent, RosterPlan

#: (the file's headers, its rejected rows)
FailedRows = tuple[tuple[str, ...], tuple[FailedRow, ...]]


class SpreadsheetReader(Protocol):
    """Turns an uploaded file into a :class:`Sheet`; raises ImportFileError when it cannot."""

    def read(self, data: bytes, filename: str) -> Sheet: ...


class RosterRepository(Protocol):
    """Bulk access to students for imports (many rows, one round trip where possible)."""

    async def existing(self, phones: Sequence[str]) -> dict[str, ExistingStudent]:
        """What is stored for each of these E.164 phones (missing ones are absent)."""
        ...

    async def existing_all(self, at_most: int) -> dict[str, ExistingStudent] | None:
        """What is stored for every student, by E.164 phone, when there are at most
        ``at_most`` of them; None (having read none of them) when there are more."""
        ...

    async def write(self, plan: RosterPlan, now: datetime) -> None:
        """Create and update the planned students (and their tags)."""
        ...


@attrs.frozen
class ImportRecord:
    """One line of the import history."""

    id: int
    kind: str
    file: str
    sha256: str
    mode: str
    dry_run: bool
    status: str
    rows_read: int
    created: int
    updated: int
    unchanged: int
    errors: int
    warnings: int
    duration_ms: int
    message: str
    finished_at: datetime


class ImportRepository(Protocol):
    async def try_lock(self, kind: str) -> bool:
        """Take the database-wide import lock until this unit of work ends; False if taken."""
        ...

    async def record(
        self,
        report: ImportReport,
        finished_at: datetime,
        failed: FailedRows | None = None,
    ) -> int:
        """Append to the history (with the rejected rows, for the errors file); return its id."""
        ...

    async def failed_rows(self, job_id: int) -> FailedRows | None:
        """The headers and rejected rows kept with import ``job_id`` (None: none kept)."""
        ...

    async def recent(self, *, kind: str | None = None, limit: int = 20) -> list[ImportRecord]: ...
