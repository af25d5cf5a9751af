"""In-memory adapters: for tests and for library users who bring no database."""

from __future__ import annotations

from eki_adapters.memory.imports import InMemoryImportRepository, InMemoryRosterRepository
from eki_adapters.memory.students import InMemoryStudentRepository
from eki_adapters.memory.uow import InMemoryStore, InMemoryUnitOfWork

__all__ = [
    "InMemoryImportRepository",
    "InMemoryRosterRepository",
    "InMemoryStore",
    "InMemoryStudentRepository",
    "InMemoryUnitOfWork",
]
