"""Reading and writing the audit log outside another use case's unit of work.

Use cases that change data append their entry in their own unit of work (so the entry and
the change commit together); :meth:`AuditTrail.record` is for events that change nothing
else (a profile viewed, a file downloaded)."""

from __future__ import annotations

from collections.abc import Callable

from eki_domain.model.audit import AuditEntry, AuditFilter
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.permissions import Action, require
from eki_domain.ports.clock import Clock
from eki_domain.ports.staff import StaffUnitOfWork
from eki_domain.services.staff import Caller


class AuditTrail:
    def __init__(self, uow_factory: Callable[[], StaffUnitOfWork], clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    async def record(self, caller: Caller, action: str, *, target_type: str | None = None,
                     target_id: str | None = None,
                     **details: str | int | bool | None) -> AuditEntry:
        entry = caller.entry(self._clock.now(), action, target_type=target_type,
                             target_id=target_id, **details)
        async with self._uow_factory() as uow:
            await uow.audit.append(entry)
            await uow.commit()
        return entry

    async def list(self, caller: Caller, where: AuditFilter,
                   page: PageRequest) -> Page[AuditEntry]:
        """Newest first; admins only (:data:`Action.VIEW_AUDIT`)."""
        require(caller.principal, Action.VIEW_AUDIT)
        async with self._uow_factory() as uow:
            return await uow.audit.list(where, page)
