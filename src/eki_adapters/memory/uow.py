"""The in-memory unit of work: it really rolls back.

Changes made inside ``async with uow:`` are staged and only reach the shared
:class:`InMemoryStore` on ``commit()``; an asyncio lock serialises units of work
so two concurrent ones behave like two database transactions would.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from eki_adapters.memory.alerts import (
    InMemoryAlertFacts,
    InMemoryAlertLog,
    InMemoryAlertOptOuts,
    InMemoryAlertRules,
)
from eki_adapters.memory.broadcasts import InMemoryAudiences, InMemoryBroadcasts
from eki_adapters.memory.consent import InMemoryConsents
from eki_adapters.memory.guardians import InMemoryGuardians, InMemoryVerificationCodes
from eki_adapters.memory.imports import InMemoryImportRepository, InMemoryRosterRepository
from eki_adapters.memory.messaging import (
    InMemoryHandoffs,
    InMemoryHistory,
    InMemoryInbox,
    InMemoryNoWhatsApp,
    InMemoryOptOuts,
    InMemoryOutbox,
    InMemoryWebhookLog,
)
from eki_adapters.memory.operations import InMemoryOperationsStats
from eki_adapters.memory.outbound import (
    InMemoryHandoffAssignments,
    InMemoryServiceWindows,
    InMemoryTemplates,
)
from eki_adapters.memory.privacy import InMemoryPrivacyRequests
from eki_adapters.memory.progress import InMemoryProgressRepository
from eki_adapters.memory.staff import (
    InMemoryApiTokens,
    InMemoryAuditLog,
    InMemorySetupLinks,
    InMemoryStaffDirectory,
)
from eki_adapters.memory.staff_inbox import (
    InMemoryInboxNotes,
    InMemoryInboxViews,
    InMemoryQuickReplies,
)
from eki_adapters.memory.staging import Staged
from eki_adapters.memory.store import StoreState
from eki_adapters.memory.students import InMemoryStudentRepository
from eki_adapters.memory.usage import InMemoryUsageLedger


class InMemoryStore(StoreState):
    """The committed state shared by every unit of work made from it."""

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
        self.no_whatsapp = InMemoryNoWhatsApp(self._messaging)
        self.webhook_log = InMemoryWebhookLog(self._messaging)
        self.opt_outs = InMemoryOptOuts(self._messaging)
        self.handoffs = InMemoryHandoffs(self._messaging)
        self.history = InMemoryHistory(self._messaging)
        self._school = Staged(store.school)
        self.progress = InMemoryProgressRepository(self._school)
        self.usage = InMemoryUsageLedger(store.usage_records)  # staged, like the rest
        self._staff = Staged(store.staff_state)
        self.staff = InMemoryStaffDirectory(self._staff)
        self.api_tokens = InMemoryApiTokens(self._staff)
        self.setup_links = InMemorySetupLinks(self._staff)
        self.audit = InMemoryAuditLog(self._staff)
        self._families = Staged(store.guardian_state)
        self.guardians = InMemoryGuardians(self._families,
                                           students=lambda: self.students._current())
        self.codes = InMemoryVerificationCodes(self._families)
        self._templates = Staged(store.templates_state)
        self.templates = InMemoryTemplates(self._templates)
        self._consent = Staged(store.consent_state)
        self.consents = InMemoryConsents(self._consent)
        self._privacy = Staged(store.privacy_state)
        self.privacy_requests = InMemoryPrivacyRequests(self._privacy)
        self.windows = InMemoryServiceWindows(self._messaging)
        self.assignments = InMemoryHandoffAssignments(self._messaging)
        self._staff_inbox = Staged(store.staff_inbox_state)
        self.inbox_notes = InMemoryInboxNotes(self._staff_inbox)
        self.quick_replies = InMemoryQuickReplies(self._staff_inbox)
        self.inbox_views = InMemoryInboxViews(self._staff_inbox, self._messaging,
                                              lambda: self.students._current().values())
        self._broadcasts = Staged(store.broadcasts_state)
        self.broadcasts = InMemoryBroadcasts(self._broadcasts, self._messaging,
                                             self.students._current)
        self.audiences = InMemoryAudiences(self.students._current, self._families,
                                           self._messaging)
        self._alerts = Staged(store.alerts_state)  # issue 16
        self.alerts = InMemoryAlertLog(self._alerts)
        self.alert_rules = InMemoryAlertRules(self._alerts)
        self.alert_opt_outs = InMemoryAlertOptOuts(self._alerts)
        self.alert_facts = InMemoryAlertFacts(self._school, self._families,
                                              lambda: self.students._current().values())
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
        self.usage.apply()
        self._messaging.apply()
        self._school.apply()
        self._staff.apply()
        self._families.apply()
        self._templates.apply()
        self._consent.apply()
        self._privacy.apply()
        self._staff_inbox.apply()
        self._broadcasts.apply()
        self._alerts.apply()

    async def rollback(self) -> None:
        self.students.discard()
        self.imports.discard()
        self.usage.discard()
        self._messaging.discard()
        self._school.discard()
        self._staff.discard()
        self._families.discard()
        self._templates.discard()
        self._consent.discard()
        self._privacy.discard()
        self._staff_inbox.discard()
        self._broadcasts.discard()
        self._alerts.discard()
