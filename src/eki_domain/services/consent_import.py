"""Importing paper consents (``eki consent import``): the authorisations schools collect at
enrolment, with the same flow, report, dry run, strict mode and errors file as the student
import. Each row adds granted decisions to the ledger (one per child for a guardian); a
person already consenting under that version is left unchanged, so a file can be imported
twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from eki_domain.model.consent import ConsentDecision
from eki_domain.model.consent_rows import ConsentValidation, validate_consent_rows
from eki_domain.model.imports import ImportMode, RowIssue, Severity, Sheet, row_issue
from eki_domain.model.progress import WriteCounts
from eki_domain.ports.repositories import UnitOfWork
from eki_domain.services.consent import consent_records
from eki_domain.services.imports import (
    ImportResult,
    ImportService,
    Progress,
    Resolution,
    Validation,
)

__all__ = ["ConsentImportService", "paper_moment"]


def paper_moment(day: date) -> datetime:
    """When a paper authorisation dated ``day`` is recorded as decided: 12:00 UTC of that
    day (the same calendar day all over the Americas)."""
    return datetime.combine(day, time(12), tzinfo=UTC)


class ConsentImportService(ImportService):
    """Paper (or other) consents from a spreadsheet: ``telefono, fecha, version, medio``."""

    kind = "consents"

    async def import_sheet(self, sheet: Sheet, *, version: str, recorded_by: str,
                           mode: ImportMode = ImportMode.DEFAULT, dry_run: bool = False,
                           region: str | None = None,
                           progress: Progress | None = None) -> ImportResult:
        """``version``: the current policy version (rows without one get it)."""
        today = self._clock.now().date()
        known: set[str] = set()
        superseded: set[int] = set()  # rows older than a later refusal or withdrawal

        def validate() -> Validation:
            return validate_consent_rows(sheet, region or self._region, version=version,
                                         today=today)

        async def resolve(uow: UnitOfWork, validation: Validation) -> Resolution:
            assert isinstance(validation, ConsentValidation)
            issues: list[RowIssue] = []
            rejected: set[int] = set()
            label = validation.mapping.column_label("phone")
            students = await uow.students.find_each_by_phones(
                [record.phone.match_candidates() for record in validation.records])
            for record, student in zip(validation.records, students, strict=True):
                guardian = await uow.guardians.find_by_phones(record.phone.match_candidates())
                if student is None and guardian is None:
                    issues.append(row_issue(
                        record.row, label, record.phone.e164, "PERSON_NOT_FOUND",
                        f"Ningún estudiante ni acudiente tiene el teléfono {record.phone.e164}. "
                        "Impórtelo primero."))
                    rejected.add(record.row)
                    continue
                known.add(record.phone.e164)
                phones = {p.phone.e164 for p in (student, guardian) if p is not None}
                history = [r for phone in sorted(phones)
                           for r in await uow.consents.history(phone)
                           if r.policy_version == record.version]
                latest = max(history, key=lambda r: r.id or 0, default=None)
                if (latest is not None and not latest.granted
                        and latest.decided_at > paper_moment(record.day)):
                    superseded.add(record.row)
                    what = ("no aceptó" if latest.decision is ConsentDecision.REFUSED
                            else "revocó")
                    issues.append(row_issue(
                        record.row, label, record.phone.e164, "LATER_DECISION",
                        f"Esta persona {what} después ({latest.decided_at:%Y-%m-%d}): esa "
                        "decisión se mantiene y esta fila no se importa.", Severity.WARNING))
            return Resolution(tuple(issues), frozenset(rejected))

        async def write(uow: UnitOfWork, validation: Validation,
                        rejected: frozenset[int]) -> WriteCounts:
            assert isinstance(validation, ConsentValidation)
            created = unchanged = 0
            now = self._clock.now()
            for record in validation.records:
                if record.row in rejected or record.phone.e164 not in known:
                    continue
                if record.row in superseded:
                    unchanged += 1
                    continue
                rows = await consent_records(
                    uow, record.phone.match_candidates(), decision=ConsentDecision.GRANTED,
                    medium=record.medium, version=record.version,
                    decided_at=paper_moment(record.day), recorded_at=now,
                    recorded_by=recorded_by)
                phones = sorted({row.phone for row in rows})
                current = await uow.consents.current_among(phones, record.version)
                if phones and all(current.get(p) is ConsentDecision.GRANTED for p in phones):
                    unchanged += 1
                    continue
                await uow.consents.append(*rows)
                created += 1
            return WriteCounts(created, 0, unchanged)

        return await self._run(sheet, mode=mode, dry_run=dry_run, validate=validate,
                               resolve=resolve, write=write, progress=progress,
                               label=lambda _: "Autorizaciones")
