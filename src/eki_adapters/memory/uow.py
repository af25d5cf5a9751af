"""The in-memory unit of work: it really rolls back.

Changes made inside ``async with uow:`` are staged and only reach the shared
:class:`InMemoryStore` on ``commit()``; an asyncio lock serialises units of work
so two concurrent ones behave like two database transactions would.
"""

from __future__ import annotations

import asyncio
import itertools
from types import TracebackType
from typing import Self

from eki_adapters.memory.imports import InMemoryImportRepository, InMemoryRosterRepository
from eki_adapters.memory.messaging import (
    InMemoryConversationStore,
    InMemoryInbox,
    InMemoryOutbox,
    MessagingState,
)
from eki_adapters.memory.operations import InMemoryOperationsStats
from eki_adapters.memory.progress import InMemoryProgressRepository, SchoolState
from eki_adapters.memory.staff import (
    InMemoryApiTokens,
    InMemoryAuditLog,
    InMemorySetupLinks,
    InMemoryStaffDirectory,
    StaffState,
)
from eki_adapters.memory.staging import Staged
from eki_adapters.memory.students import InMemoryStudentRepository
from eki_adapters.memory.usage import InMemoryUsageLedger
from eki_domain.model.student import Student
from eki_domain.ports.imports import FailedRows, ImportRecord
from eki_domain.ports.llm import UsageRecord


class InMemoryStore:
    """The committed state shared by every unit of work made from it."""

    def __init__(self) -> None:
        self.students: dict[int, Student] = {}
        self.by_phone: dict[str, int] = {}
        self.next_id = 1
        self.lock = asyncio.Lock()
        self.import_history: list[ImportRecord] = []
        self.import_failed_rows: dict[int, FailedRows] = {}
        self.import_ids = itertools.count(1)
        self.messaging = [MessagingState()]  # a one-item list: commits swap the state
        self.school = [SchoolState()]
        self.usage_records: list[UsageRecord] = []
        self.staff_state = [StaffState()]

    def uow(self) -> InMemoryUnitOfWork:
        """A unit-of-work factory: pass ``store.uow`` where a factory is expected."""
        return InMemoryUnitOfWork(self)


class InMemoryUnitOfWork:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.students = InMemoryStudentRepository(store)
        self.roster = InMemoryRosterRepository(self.students)
        self.imports = InMemoryImportRepository(
            store.import_history, store.import_failed_rows, store.import_ids
        )
        self._messaging = Staged(store.messaging)
        self.inbox = InMemoryInbox(self._messaging)
        self.outbox = InMemoryOutbox(self._messaging)
        self.conversations = InMemoryConversationStore(self._messaging)
        self._school = Staged(store.school)
        self.progress = InMemoryProgressRepository(self._school)
        self.usage = InMemoryUsageLedger(store.usage_records)
        self._staff = Staged(store.staff_state)
        self.staff = InMemoryStaffDirectory(self._staff)
        self.api_tokens = InMemoryApiTokens(self._staff)
        self.setup_links = InMemorySetupLinks(self._staff)
        self.audit = InMemoryAuditLog(self._staff)
        self.operations = InMemoryOperationsStats(
            self._messaging, lambda: self.students._current().values(), store.usage_records)

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()  # whatever was staged after the last commit
        finally:
            self._store.lock.release()

    async def commit(self) -> None:
        self.students.apply()
        self.imports.apply()
        self._messaging.apply()
        self._school.apply()
        self._staff.apply()

    async def rollback(self) -> None:
        self.students.discard()
        self.imports.discard()
        self._messaging.discard()
        self._school.discard()
        self._staff.discard()
