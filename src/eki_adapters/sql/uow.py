"""``SqlUnitOfWork``: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType
from typing import Self

from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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


class SqlUnitOfWork:
    students: SqlStudentRepository
    roster: SqlRosterRepository
    imports: SqlImportRepository
    inbox: SqlInbox
    outbox: SqlOutbox
    no_whatsapp: SqlNoWhatsApp
    broadcasts: SqlBroadcasts
    audiences: SqlAudiences
    webhook_log: SqlWebhookLog
    opt_outs: SqlOptOuts
    handoffs: SqlHandoffs
    history: SqlHistory
    progress: SqlProgressRepository
    usage: SqlUsageLedger
    operations: SqlOperationsStats
    staff: SqlStaffDirectory
    api_tokens: SqlApiTokens
    setup_links: SqlSetupLinks
    audit: SqlAuditLog
    guardians: SqlGuardians
    codes: SqlVerificationCodes
    templates: SqlTemplates
    windows: SqlServiceWindows
    assignments: SqlHandoffAssignments
    consents: SqlConsents
    personal_data: SqlPersonalData
    retention: SqlRetention
    privacy_requests: SqlPrivacyRequests
    inbox_notes: SqlInboxNotes
    quick_replies: SqlQuickReplies
    inbox_views: SqlInboxViews
    alerts: SqlAlertLog
    alert_rules: SqlAlertRules
    alert_opt_outs: SqlAlertOptOuts
    alert_facts: SqlAlertFacts

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
        self.students = SqlStudentRepository(self._conn)
        self.roster = SqlRosterRepository(self._conn)
        self.imports = SqlImportRepository(self._conn)
        self.inbox = SqlInbox(self._conn)
        self.outbox = SqlOutbox(self._conn)
        self.no_whatsapp = SqlNoWhatsApp(self._conn)
        self.broadcasts = SqlBroadcasts(self._conn)
        self.audiences = SqlAudiences(self._conn)
        self.webhook_log = SqlWebhookLog(self._conn)
        self.opt_outs = SqlOptOuts(self._conn)
        self.handoffs = SqlHandoffs(self._conn)
        self.history = SqlHistory(self._conn)
        self.progress = SqlProgressRepository(self._conn)
        self.usage = SqlUsageLedger(self._conn)
        self.operations = SqlOperationsStats(self._conn)
        self.staff = SqlStaffDirectory(self._conn)
        self.api_tokens = SqlApiTokens(self._conn)
        self.setup_links = SqlSetupLinks(self._conn)
        self.audit = SqlAuditLog(self._conn)
        self.guardians = SqlGuardians(self._conn)
        self.codes = SqlVerificationCodes(self._conn)
        self.templates = SqlTemplates(self._conn)
        self.windows = SqlServiceWindows(self._conn)
        self.assignments = SqlHandoffAssignments(self._conn)
        self.consents = SqlConsents(self._conn)
        self.personal_data = SqlPersonalData(self._conn)
        self.retention = SqlRetention(self._conn)
        self.privacy_requests = SqlPrivacyRequests(self._conn)
        self.inbox_notes = SqlInboxNotes(self._conn)
        self.quick_replies = SqlQuickReplies(self._conn)
        self.inbox_views = SqlInboxViews(self._conn)
        self.alerts = SqlAlertLog(self._conn)  # issue 16
        self.alert_rules = SqlAlertRules(self._conn)
        self.alert_opt_outs = SqlAlertOptOuts(self._conn)
        self.alert_facts = SqlAlertFacts(self._conn)
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
