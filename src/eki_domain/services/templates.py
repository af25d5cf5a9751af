"""The template registry: local definitions, the provider's catalogue, and the one check
every send goes through (the template exists and WhatsApp approved it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import attrs

from eki_domain.model.permissions import Action, require
from eki_domain.model.templates import (
    MessageTemplate,
    TemplateNotApproved,
    TemplateNotFound,
    TemplateStatus,
    TemplateSyncError,
    check_language,
    check_name,
)
from eki_domain.ports.clock import Clock
from eki_domain.ports.outbound import TemplateCatalog, Templates
from eki_domain.ports.repositories import Transaction
from eki_domain.ports.staff import AuditLog
from eki_domain.services.staff import Caller

log = logging.getLogger("eki.templates")


class TemplatesUnitOfWork(Transaction, Protocol):
    @property
    def templates(self) -> Templates: ...

    @property
    def audit(self) -> AuditLog: ...


@attrs.frozen
class SyncReport:
    source: str
    added: int
    updated: int
    #: Templates of this source the provider no longer lists (now ``disabled``).
    gone: int
    approved: int


async def resolve_sendable(templates: Templates, name: str, language: str) -> MessageTemplate:
    """The approved template ``name`` in ``language``; raises :class:`TemplateNotFound`
    or :class:`TemplateNotApproved` (both 422 through the API)."""
    template = await templates.get(check_name(name), check_language(language))
    if template is None:
        raise TemplateNotFound(name, language)
    if not template.sendable:
        raise TemplateNotApproved(name, language, template.status.value)
    return template


class TemplateService:
    def __init__(self, uow: Callable[[], TemplatesUnitOfWork], clock: Clock,
                 catalog: TemplateCatalog | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._catalog = catalog

    async def add(self, caller: Caller, name: str, language: str, category: str, body: str, *,
                  status: TemplateStatus = TemplateStatus.APPROVED) -> MessageTemplate:
        """Define (or redefine) a template locally, e.g. one already approved at Meta
        before a sync can run. ``eki templates sync`` later replaces it with what the
        provider says."""
        require(caller.principal, Action.MANAGE_SETTINGS)
        now = self._clock.now()
        template = MessageTemplate.create(name, language, category, body, status=status,
                                          source="local", updated_at=now)
        async with self._uow() as uow:
            await uow.templates.upsert(template)
            await uow.audit.append(caller.entry(
                now, "templates.added", target_type="template",
                target_id=f"{template.name}:{template.language}",
                status=template.status.value))
            await uow.commit()
        return template

    async def list(self) -> list[MessageTemplate]:
        async with self._uow() as uow:
            return await uow.templates.list()

    async def sync(self, caller: Caller) -> SyncReport:
        """Replace the provider's templates with its current list (statuses included)."""
        require(caller.principal, Action.MANAGE_SETTINGS)
        if self._catalog is None:
            raise TemplateSyncError(
                "No hay proveedor configurado para sincronizar plantillas: defina "
                "EKI_WHATSAPP_BUSINESS_ACCOUNT_ID y EKI_WHATSAPP_ACCESS_TOKEN (Meta) o las "
                "credenciales de Twilio con EKI_CHANNEL=twilio.")
        fetched = await self._catalog.fetch()
        now = self._clock.now()
        source = self._catalog.source
        added = updated = gone = 0
        async with self._uow() as uow:
            seen = set()
            for template in fetched:
                seen.add((template.name, template.language))
                if await uow.templates.upsert(attrs.evolve(template, updated_at=now)):
                    added += 1
                else:
                    updated += 1
            for old in await uow.templates.list():
                if (old.source == source and (old.name, old.language) not in seen
                        and old.status is not TemplateStatus.DISABLED):
                    await uow.templates.upsert(attrs.evolve(
                        old, status=TemplateStatus.DISABLED, updated_at=now))
                    gone += 1
            report = SyncReport(source, added, updated, gone,
                                sum(1 for t in fetched if t.sendable))
            await uow.audit.append(caller.entry(
                now, "templates.synced", target_type="templates", target_id=source,
                added=added, updated=updated, gone=gone))
            await uow.commit()
        log.info("templates synced from %s: %d new, %d updated, %d gone, %d approved",
                 source, added, updated, gone, report.approved)
        return report
