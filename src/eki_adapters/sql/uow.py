"""``SqlUnitOfWork``: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

import asyncio
import importlib
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Final, Generic, Self, TypeVar, overload

from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

if TYPE_CHECKING:
    from eki_adapters.sql.alerts import SqlAlertFacts, SqlAlertLog, SqlAlertOptOuts, SqlAlertRules
    from eki_adapters.sql.broadcasts import SqlAudiences, SqlBroadcasts
    from eki_adapters.sql.codes import SqlVerificationCodes
    from eki_adapters.sql.consent import SqlConsents
    from eki_adapters.sql.conversations import SqlHandoffs, SqlHistory, SqlOptOuts, SqlWebhookLog
    from eki_adapters.sql.guardians import SqlGuardians
    from eki_adapters.sql.imports import SqlImportRepository, SqlRosterRepository
    from eki_adapters.sql.inbox import SqlInbox
    from eki_adapters.sql.operations import SqlOperationsStats
    from eki_adapters.sql.outbound import SqlHandoffAssignments, SqlServiceWindows, SqlTemplates
    from eki_adapters.sql.outbox import SqlNoWhatsApp, SqlOutbox
    from eki_adapters.sql.privacy import SqlPersonalData, SqlPrivacyRequests, SqlRetention
    from eki_adapters.sql.progress import SqlProgressRepository
    from eki_adapters.sql.staff import SqlApiTokens, SqlAuditLog, SqlSetupLinks, SqlStaffDirectory
    from eki_adapters.sql.staff_inbox import SqlInboxNotes, SqlInboxViews, SqlQuickReplies
    from eki_adapters.sql.students import SqlStudentRepository
    from eki_adapters.sql.usage import SqlUsageLedger


class FairGate:
    """At most ``capacity`` units of work hold a connection at once, served first come,
    first served (one ``asyncio.Semaphore`` per event loop).

    SQLAlchemy's asyncio pool hands a returned connection to whoever asks next, so a request
    arriving just then can take the connection a waiting one was woken for, and the waiter
    queues again at the back: under 100 concurrent webhooks on a pool of 40, most waited
    ~50 ms and a few over 500 ms. With the gate in front, the pool always has a connection
    for whoever passes, and waiters pass in arrival order. ``timeout`` seconds of waiting
    raise the pool's own ``TimeoutError``, as the pool would.
    """

    def __init__(self, capacity: int, timeout: float) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.timeout = timeout
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                 asyncio.Semaphore] = weakref.WeakKeyDictionary()

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = asyncio.Semaphore(self.capacity)
        return semaphore

    async def enter(self) -> asyncio.Semaphore:
        semaphore = self._semaphore()
        try:
            async with asyncio.timeout(self.timeout):
                await semaphore.acquire()
        except TimeoutError:
            raise PoolTimeoutError(
                f"no database connection free after {self.timeout:g} s ({self.capacity} in "
                "use): raise EKI_DB_POOL_SIZE or look for slow queries") from None
        return semaphore


R = TypeVar("R")


class _Repository(Generic[R]):
    """A repository of :class:`SqlUnitOfWork`, made on first use inside ``async with`` and
    kept in the instance until it exits (a non-data descriptor: later reads are plain
    attribute reads).

    Its class, ``name`` in ``eki_adapters.sql.<module>``, is imported at its first use in
    the process (or by :func:`load_repositories`): a command that uses two repositories
    (``eki students import``) does not load the other thirty-three."""

    def __init__(self, module: str, name: str) -> None:
        self._module = f"eki_adapters.sql.{module}"
        self._class = name
        self._make: Callable[[AsyncConnection], R] | None = None
        self._name = ""

    def load(self) -> Callable[[AsyncConnection], R]:
        """The repository's class (imported the first time)."""
        make = self._make
        if make is None:
            make = self._make = getattr(importlib.import_module(self._module), self._class)
        return make

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, uow: None, owner: type) -> Self: ...

    @overload
    def __get__(self, uow: SqlUnitOfWork, owner: type) -> R: ...

    def __get__(self, uow: SqlUnitOfWork | None, owner: type) -> R | Self:
        if uow is None:
            return self
        make = self._make or self.load()
        repository = uow.__dict__[self._name] = make(uow.connection)
        return repository


class SqlUnitOfWork:
    """One connection and one transaction; its 35 repositories are made when first used
    (a unit of work uses one to three of them: making them all cost ~25 µs each time)."""

    students: _Repository[SqlStudentRepository] = _Repository("students", "SqlStudentRepository")
    roster: _Repository[SqlRosterRepository] = _Repository("imports", "SqlRosterRepository")
    imports: _Repository[SqlImportRepository] = _Repository("imports", "SqlImportRepository")
    inbox: _Repository[SqlInbox] = _Repository("inbox", "SqlInbox")
    outbox: _Repository[SqlOutbox] = _Repository("outbox", "SqlOutbox")
    no_whatsapp: _Repository[SqlNoWhatsApp] = _Repository("outbox", "SqlNoWhatsApp")
    broadcasts: _Repository[SqlBroadcasts] = _Repository("broadcasts", "SqlBroadcasts")
    audiences: _Repository[SqlAudiences] = _Repository("broadcasts", "SqlAudiences")
    webhook_log: _Repository[SqlWebhookLog] = _Repository("conversations", "SqlWebhookLog")
    opt_outs: _Repository[SqlOptOuts] = _Repository("conversations", "SqlOptOuts")
    handoffs: _Repository[SqlHandoffs] = _Repository("conversations", "SqlHandoffs")
    history: _Repository[SqlHistory] = _Repository("conversations", "SqlHistory")
    progress: _Repository[SqlProgressRepository] = _Repository("progress", "SqlProgressRepository")
    usage: _Repository[SqlUsageLedger] = _Repository("usage", "SqlUsageLedger")
    operations: _Repository[SqlOperationsStats] = _Repository("operations", "SqlOperationsStats")
    staff: _Repository[SqlStaffDirectory] = _Repository("staff", "SqlStaffDirectory")
    api_tokens: _Repository[SqlApiTokens] = _Repository("staff", "SqlApiTokens")
    setup_links: _Repository[SqlSetupLinks] = _Repository("staff", "SqlSetupLinks")
    audit: _Repository[SqlAuditLog] = _Repository("staff", "SqlAuditLog")
    guardians: _Repository[SqlGuardians] = _Repository("guardians", "SqlGuardians")
    codes: _Repository[SqlVerificationCodes] = _Repository("codes", "SqlVerificationCodes")
    templates: _Repository[SqlTemplates] = _Repository("outbound", "SqlTemplates")
    windows: _Repository[SqlServiceWindows] = _Repository("outbound", "SqlServiceWindows")
    assignments: _Repository[SqlHandoffAssignments] = _Repository(
        "outbound", "SqlHandoffAssignments")
    consents: _Repository[SqlConsents] = _Repository("consent", "SqlConsents")
    personal_data: _Repository[SqlPersonalData] = _Repository("privacy", "SqlPersonalData")
    retention: _Repository[SqlRetention] = _Repository("privacy", "SqlRetention")
    privacy_requests: _Repository[SqlPrivacyRequests] = _Repository("privacy", "SqlPrivacyRequests")
    inbox_notes: _Repository[SqlInboxNotes] = _Repository("staff_inbox", "SqlInboxNotes")
    quick_replies: _Repository[SqlQuickReplies] = _Repository("staff_inbox", "SqlQuickReplies")
    inbox_views: _Repository[SqlInboxViews] = _Repository("staff_inbox", "SqlInboxViews")
    alerts: _Repository[SqlAlertLog] = _Repository("alerts", "SqlAlertLog")
    alert_rules: _Repository[SqlAlertRules] = _Repository("alerts", "SqlAlertRules")
    alert_opt_outs: _Repository[SqlAlertOptOuts] = _Repository("alerts", "SqlAlertOptOuts")
    alert_facts: _Repository[SqlAlertFacts] = _Repository("alerts", "SqlAlertFacts")

    def __init__(self, engine: AsyncEngine, gate: FairGate | None = None) -> None:
        self._engine = engine
        self._gate = gate
        self._held: asyncio.Semaphore | None = None
        self._conn: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside 'async with'")
        return self._conn

    async def __aenter__(self) -> Self:
        if self._gate is not None:
            self._held = await self._gate.enter()
        try:
            self._conn = await self._engine.connect()
        except BaseException:
            self._release()
            raise
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
        for name in _REPOSITORIES.intersection(self.__dict__):
            del self.__dict__[name]  # bound to this connection: made again next time
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            try:
                await conn.close()
            finally:
                self._release()

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.release()

    async def commit(self) -> None:
        await self.connection.commit()

    async def rollback(self) -> None:
        await self.connection.rollback()


#: The names of :class:`SqlUnitOfWork`'s repositories (dropped from an instance as it exits).
_REPOSITORIES: Final = frozenset(
    name for name, value in vars(SqlUnitOfWork).items() if isinstance(value, _Repository))


def load_repositories() -> None:
    """Import every repository class now: a long-running process (``eki serve``, the
    worker) pays for them at start-up rather than in its first requests."""
    for name in sorted(_REPOSITORIES):
        vars(SqlUnitOfWork)[name].load()


class SqlUnitOfWorkFactory:
    """Callable that makes a fresh :class:`SqlUnitOfWork` on the shared engine.

    ``max_connections`` (the application passes the pool's size, leaving the overflow to
    connections taken outside units of work) puts a :class:`FairGate` in front of the pool:
    units of work wait for a connection in arrival order (``pool_timeout`` seconds at
    most). Without it, the pool's own queue decides."""

    def __init__(self, engine: AsyncEngine, *, max_connections: int | None = None,
                 pool_timeout: float = 30.0) -> None:
        self.engine = engine
        self.gate = (FairGate(max_connections, pool_timeout)
                     if max_connections is not None else None)

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.gate)
