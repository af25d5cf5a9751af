"""In-memory adapters: for tests and for library users who bring no database."""

from __future__ import annotations

from eki_adapters.memory.students import (
    InMemoryStore,
    InMemoryStudentRepository,
    InMemoryUnitOfWork,
)

__all__ = ["InMemoryStore", "InMemoryStudentRepository", "InMemoryUnitOfWork"]
