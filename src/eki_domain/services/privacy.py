"""Data requests and retention (issue 18): export and erase a person, the register of
consultas and reclamos, and the retention purge.

Only admins and coordinators (:data:`Action.MANAGE_PRIVACY`) export, erase or handle
requests. Every export and erasure is audited with the person's hashed reference
(:func:`~eki_domain.model.privacy.person_reference`), never the number; the erasure's
audit entry commits in the same transaction as the erasure.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, tzinfo

import attrs

from eki_domain.errors import EkiError
from eki_domain.model.audit import AuditAction
from eki_domain.model.permissions import Action, Principal, require
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.privacy import (
    ERASE_MAX_ROWS,
    PURGE_BATCH,
    ExportSection,
    Person,
    PrivacyRequest,
    PurgeReport,
    RequestKind,
    RequestNotFound,
    RetentionPolicy,
    TableCount,
    TooMuchToErase,
    person_reference,
)
from eki_domain.ports.clock import Clock
from eki_domain.ports.privacy import PrivacyUnitOfWork
from eki_domain.services.staff import Caller

log = logging.getLogger("eki.privacy")

PRIVACY_EXPORTED = AuditAction.PRIVACY_EXPORTED
PRIVACY_ERASED = AuditAction.PRIVACY_ERASED
PRIVACY_REQUEST_OPENED = AuditAction.PRIVACY_REQUEST_OPENED
PRIVACY_REQUEST_CLOSED = AuditAction.PRIVACY_REQUEST_CLOSED
PRIVACY_PURGED = AuditAction.PRIVACY_PURGED

INTRODUCTION = (
    "Este documento reúne todos los datos personales que EKI, el asistente de WhatsApp del "
    "colegio, guarda sobre el titular del número indicado, en cumplimiento de la Ley 1581 "
    "de 2012 (habeas data). Cada sección corresponde a un tipo de dato, explica para qué se "
    "guarda y contiene los registros tal como están almacenados. Una sección vacía significa "
    "que no hay datos de ese tipo.")


@attrs.frozen
class ExportDocument:
    generated_at: datetime
    phone: str
    reference: str
    sections: tuple[ExportSection, ...]

    def as_dict(self) -> dict[str, object]:
        return {"documento": "Datos personales guardados por EKI",
                "generado": self.generated_at.isoformat(), "telefono": self.phone,
                "referencia": self.reference, "explicacion": INTRODUCTION,
                "secciones": [s.as_dict() for s in self.sections]}

    def section(self, name: str) -> ExportSection | None:
        return next((s for s in self.sections if s.name == name), None)


@attrs.frozen
class ErasureReport:
    reference: str
    keep_academic: bool
    tables: tuple[TableCount, ...]
    #: Rows about the person left anywhere after the erasure (0 unless kept on purpose).
    remaining: int

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.tables)

    def as_dict(self) -> dict[str, object]:
        return {"reference": self.reference, "keep_academic": self.keep_academic,
                "deleted": self.deleted,
                "anonymised": sum(t.anonymised for t in self.tables),
                "remaining": self.remaining,
                "tables": [t.as_dict() for t in self.tables]}


class PrivacyDesk:
    """The use cases. ``key`` loads the secret key (EKI_SECRET_KEY or the stored one);
    ``zone`` is the school's time zone (deadlines count the school's days)."""

    def __init__(self, uow: Callable[[], PrivacyUnitOfWork], clock: Clock,
                 key: Callable[[], Awaitable[bytes]], *, zone: tzinfo,
                 retention: RetentionPolicy = RetentionPolicy()) -> None:  # noqa: B008
        self._uow = uow
        self._clock = clock
        self._key = key
        self._zone = zone
        self.retention = retention

    def today(self) -> date:
        return self._clock.now().astimezone(self._zone).date()

    @staticmethod
    def _sql_only(uow: object, port: str) -> None:
        """Export, erasure and the purge walk the database's tables: an in-memory store
        (tests, library demos) has none — say so instead of failing obscurely."""
        if getattr(uow, port, None) is None:
            raise EkiError("Exportar, borrar o purgar datos personales necesita la base de "
                           "datos de EKI (EKI_DATABASE_URL); el almacenamiento en memoria no "
                           "lo permite.", code="NEEDS_DATABASE")

    async def reference(self, phone: PhoneNumber) -> str:
        return person_reference(await self._key(), phone)

    # -- export and erasure ------------------------------------------------------------------

    async def export(self, caller: Caller, phone: PhoneNumber) -> ExportDocument:
        require(caller.principal, Action.MANAGE_PRIVACY)
        reference = await self.reference(phone)
        now = self._clock.now()
        async with self._uow() as uow:
            self._sql_only(uow, "personal_data")
            person = await uow.personal_data.find(phone)
            sections = await uow.personal_data.export(person)
            await uow.audit.append(caller.entry(
                now, PRIVACY_EXPORTED, target_type="person", target_id=reference,
                sections=sum(1 for s in sections if s.rows),
                rows=sum(len(s.rows) for s in sections)))
            await uow.commit()
        log.info("privacy export of %s: %d rows", reference,
                 sum(len(s.rows) for s in sections))
        return ExportDocument(generated_at=now, phone=phone.e164, reference=reference,
                              sections=tuple(sections))

    async def preview_erase(self, caller: Caller, phone: PhoneNumber) -> tuple[Person, int]:
        """Who would be erased and how many rows it touches (the confirmation step)."""
        require(caller.principal, Action.MANAGE_PRIVACY)
        async with self._uow() as uow:
            self._sql_only(uow, "personal_data")
            person = await uow.personal_data.find(phone)
            return person, await uow.personal_data.count(person)

    async def erase(self, caller: Caller, phone: PhoneNumber, *,
                    keep_academic: bool = False) -> ErasureReport:
        """One transaction: everything about the person goes, or nothing does."""
        require(caller.principal, Action.MANAGE_PRIVACY)
        reference = await self.reference(phone)
        async with self._uow() as uow:
            self._sql_only(uow, "personal_data")
            person = await uow.personal_data.find(phone)
            rows = await uow.personal_data.count(person)
            if rows > ERASE_MAX_ROWS:
                raise TooMuchToErase(
                    f"Ese número tiene {rows} registros (el límite de un borrado es "
                    f"{ERASE_MAX_ROWS}). Ejecute primero «eki privacy purge» y vuelva a "
                    "intentarlo.")
            tables = await uow.personal_data.erase(person, keep_academic=keep_academic,
                                                   reference=reference)
            requests = TableCount(
                "privacy_requests",
                anonymised=await uow.privacy_requests.forget_phone(person.e164s),
                note="las solicitudes se conservan con la referencia, sin el número")
            tables = [t for t in tables if t.table != requests.table] + [requests]
            # What is still found under the number (0: the academic rows kept are no
            # longer anyone's).
            remaining = await uow.personal_data.count(await uow.personal_data.find(phone))
            await uow.audit.append(caller.entry(
                self._clock.now(), PRIVACY_ERASED, target_type="person", target_id=reference,
                keep_academic=keep_academic, deleted=sum(t.deleted for t in tables),
                anonymised=sum(t.anonymised for t in tables)))
            await uow.commit()
        log.info("privacy erasure of %s: %d rows deleted", reference,
                 sum(t.deleted for t in tables))
        return ErasureReport(reference=reference, keep_academic=keep_academic,
                             tables=tuple(tables), remaining=remaining)

    # -- the register of requests ------------------------------------------------------------

    async def open_request(self, caller: Caller, phone: PhoneNumber, kind: RequestKind,
                           note: str = "") -> PrivacyRequest:
        require(caller.principal, Action.MANAGE_PRIVACY)
        reference = await self.reference(phone)
        now = self._clock.now()
        request = PrivacyRequest.open(kind, phone, reference, at=now, today=self.today(),
                                      note=note, by=caller.principal.actor)
        async with self._uow() as uow:
            stored = await uow.privacy_requests.add(request)
            await uow.audit.append(caller.entry(
                now, PRIVACY_REQUEST_OPENED, target_type="privacy_request",
                target_id=str(stored.id), kind=kind.value, person=reference,
                due_on=stored.due_on.isoformat()))
            await uow.commit()
        return stored

    async def close_request(self, caller: Caller, request_id: int) -> PrivacyRequest:
        require(caller.principal, Action.MANAGE_PRIVACY)
        now = self._clock.now()
        async with self._uow() as uow:
            request = await uow.privacy_requests.get(request_id)
            if request is None:
                raise RequestNotFound(f"No existe la solicitud {request_id}.")
            request.close(now, caller.principal.actor)
            await uow.privacy_requests.save(request)
            await uow.audit.append(caller.entry(
                now, PRIVACY_REQUEST_CLOSED, target_type="privacy_request",
                target_id=str(request_id), kind=request.kind.value,
                on_time=request.due_on >= self.today()))
            await uow.commit()
        return request

    async def requests(self, caller: Caller, *, open_only: bool = False,
                       limit: int = 500) -> list[PrivacyRequest]:
        require(caller.principal, Action.MANAGE_PRIVACY)
        async with self._uow() as uow:
            return await uow.privacy_requests.list(open_only=open_only, limit=limit)

    async def due_soon(self) -> list[PrivacyRequest]:
        """Open requests due within :data:`DUE_SOON_DAYS` (or late): the dashboard's list.
        Counts only, no person: any dashboard viewer may see it."""
        today = self.today()
        async with self._uow() as uow:
            found = await uow.privacy_requests.list(open_only=True, limit=100)
        return [r for r in found if r.due_soon(today)]

    # -- retention -----------------------------------------------------------------------------

    async def purge(self, *, dry_run: bool = False, batch: int = PURGE_BATCH,
                    max_batches: int | None = None, caller: Caller | None = None
                    ) -> PurgeReport:
        """Delete what is past its retention, ``batch`` rows per transaction (each table
        until none is left, or ``max_batches`` in all). A dry run only counts."""
        if caller is not None:
            require(caller.principal, Action.MANAGE_PRIVACY)
        batch = max(1, min(batch, PURGE_BATCH))
        cutoffs = self.retention.cutoffs(self._clock.now())
        counts: dict[str, int] = {}
        batches = 0
        async with self._uow() as uow:
            self._sql_only(uow, "retention")
            kinds = list(uow.retention.kinds())
        for table, kind in kinds:
            cutoff = cutoffs[kind]
            if dry_run:
                async with self._uow() as uow:
                    counts[table] = await uow.retention.count_older(table, cutoff)
                continue
            counts[table] = 0
            while max_batches is None or batches < max_batches:
                async with self._uow() as uow:
                    deleted = await uow.retention.purge_older(table, cutoff, batch)
                    await uow.commit()
                batches += 1
                counts[table] += deleted
                if deleted < batch:
                    break
        report = PurgeReport(dry_run=dry_run, counts=counts, batches=batches)
        if not dry_run and report.total:
            who = caller or Caller(Principal.service())
            per_table = ", ".join(f"{table}={n}" for table, n in counts.items() if n)
            async with self._uow() as uow:
                await uow.audit.append(who.entry(
                    self._clock.now(), PRIVACY_PURGED, target_type="retention",
                    deleted=report.total, tables=per_table))
                await uow.commit()
            log.info("retention purge: %d rows in %d batch(es)", report.total, batches)
        return report
