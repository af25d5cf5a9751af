"""``SqlUnitOfWork``: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eki_adapters.sql.imports import SqlImportRepository, SqlRosterRepository
from eki_adapters.sql.messaging import SqlConversationStore, SqlInbox, SqlOutbox
from eki_adapters.sql.operations import SqlOperationsStats
from eki_adapters.sql.progress import SqlProgressRepository
from eki_adapters.sql.students import SqlStudentRepository
from eki_adapters.sql.usage import SqlUsageLedger


class SqlUnitOfWork:
    students: SqlStudentRepository
    roster: SqlRosterRepository
    imports: SqlImportRepository
    inbox: SqlInbox
    outbox: SqlOutbox
    conversations: SqlConversationStore
    progress: SqlProgressRepository
    usage: SqlUsageLedger
    operations: SqlOperationsStats

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside 'async with'")
        return self._conn

    async def __aenter__(self) -> Self:
        self._conn = await self._engine.connect()
        self.students = SqlStudentRepository(self._conn)
        self.roster = SqlRosterRepository(self._conn)
        self.imports = SqlImportRepository(self._conn)
        self.inbox = SqlInbox(self._conn)
        self.outbox = SqlOutbox(self._conn)
        self.conversations = SqlConversationStore(self._conn)
        self.progress = SqlProgressRepository(self._conn)
        self.usage = SqlUsageLedger(self._conn)
        self.operations = SqlOperationsStats(self._conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()

    async def commit(self) -> None:
        await self.connection.commit()

    async def rollback(self) -> None:
        await self.connection.rollback()


class SqlUnitOfWorkFactory:
    """Callable that makes a fresh :class:`SqlUnitOfWork` on the shared engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)
