"""Importing guardian links from a spreadsheet (``eki guardians import``): the same flow,
report, dry run, strict mode and errors file as the student import."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from eki_domain.model.guardian import Guardian, GuardianLink
from eki_domain.model.guardian_rows import (
    GuardianRecord,
    GuardianValidation,
    validate_guardian_rows,
)
from eki_domain.model.imports import HeaderMapping, ImportMode, RowIssue, Severity, Sheet
from eki_domain.model.progress import WriteCounts
from eki_domain.ports.repositories import UnitOfWork
from eki_domain.services.imports import (
    ImportResult,
    ImportService,
    Progress,
    Resolution,
    Validation,
)

__all__ = ["GuardianImportService", "link_student_sheet_guardians", "write_links"]


async def write_links(uow: UnitOfWork, validation: GuardianValidation,
                      rejected: frozenset[int], students: dict[str, int],
                      now: datetime) -> WriteCounts:
    """Create guardians as needed and create or update each link; returns the counts of
    links created, updated and unchanged."""
    created = updated = unchanged = 0
    by_phone: dict[str, Guardian] = {}
    for record in validation.records:
        if record.row in rejected:
            continue
        student_id = students.get(record.student_phone.e164)
        if student_id is None:
            continue
        guardian = by_phone.get(record.phone.e164)
        if guardian is None:
            guardian = await uow.guardians.find_by_phones(record.phone.match_candidates())
            if guardian is None:
                guardian = await uow.guardians.add(Guardian.register(
                    record.name, record.phone, created_at=now))
            by_phone[record.phone.e164] = guardian
        assert guardian.id is not None
        links = await uow.guardians.links_of_guardian(guardian.id)
        current = next((k for k in links if k.student_id == student_id), None)
        if current is not None:
            if current.relationship is record.relationship:
                unchanged += 1
                continue
            await uow.guardians.link(GuardianLink(
                guardian.id, student_id, record.relationship, current.may_see_grades,
                current.may_receive_alerts, current.priority))
            updated += 1
            continue
        others = await uow.guardians.links_of_student(student_id)
        await uow.guardians.link(GuardianLink(
            guardian.id, student_id, record.relationship,
            priority=1 + max((k.priority for k in others), default=0)))
        created += 1
    return WriteCounts(created, updated, unchanged)


async def link_student_sheet_guardians(uow: UnitOfWork, records: Sequence[GuardianRecord],
                                       now: datetime) -> WriteCounts:
    """The student import's guardian columns: link each to the (now written) student."""
    found = await uow.students.find_each_by_phones(
        [r.student_phone.match_candidates() for r in records])
    students = {r.student_phone.e164: s.id for r, s in zip(records, found, strict=True)
                if s is not None and s.id is not None}
    validation = GuardianValidation(mapping=HeaderMapping(0, (), {}, ()),
                                    records=tuple(records), issues=(), rows_read=len(records),
                                    rejected_rows=frozenset(), cells={})
    return await write_links(uow, validation, frozenset(), students, now)


class GuardianImportService(ImportService):
    """Link guardians to registered students, one row per link (docs/families.md)."""

    kind = "guardians"

    async def import_sheet(self, sheet: Sheet, *, mode: ImportMode = ImportMode.DEFAULT,
                           dry_run: bool = False, region: str | None = None,
                           progress: Progress | None = None) -> ImportResult:
        students: dict[str, int] = {}

        def validate() -> Validation:
            return validate_guardian_rows(sheet, region or self._region)

        async def resolve(uow: UnitOfWork, validation: Validation) -> Resolution:
            assert isinstance(validation, GuardianValidation)
            wanted = [r for r in validation.records if r.row not in validation.rejected_rows]
            found = await uow.students.find_each_by_phones(
                [r.student_phone.match_candidates() for r in wanted])
            issues: list[RowIssue] = []
            rejected: set[int] = set()
            label = validation.mapping.column_label("student_phone")
            for record, student in zip(wanted, found, strict=True):
                if student is None or student.id is None:
                    issues.append(RowIssue(
                        row=record.row, column=label, value=record.student_phone.e164,
                        normalized=None, severity=Severity.ERROR, code="STUDENT_NOT_FOUND",
                        message=f"No hay ningún estudiante con el teléfono "
                        f"{record.student_phone.e164}. Impórtelo primero."))
                    rejected.add(record.row)
                else:
                    students[record.student_phone.e164] = student.id
            return Resolution(tuple(issues), frozenset(rejected))

        async def write(uow: UnitOfWork, validation: Validation,
                        rejected: frozenset[int]) -> WriteCounts:
            assert isinstance(validation, GuardianValidation)
            return await write_links(uow, validation, rejected, students, self._clock.now())

        return await self._run(sheet, mode=mode, dry_run=dry_run, validate=validate,
                               resolve=resolve, write=write, progress=progress,
                               label=lambda _: "Acudientes")
