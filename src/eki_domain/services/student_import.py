"""Importing students from a spreadsheet (or rows the caller already has)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eki_domain.model.guardian_rows import GuardianRecord, guardians_of_student_sheet
from eki_domain.model.imports import ImportMode, Sheet, sheet_from_records
from eki_domain.model.progress import WriteCounts
from eki_domain.model.roster import RosterValidation, plan_roster, validate_student_rows
from eki_domain.ports.repositories import UnitOfWork
from eki_domain.services.guardian_import import link_student_sheet_guardians
from eki_domain.services.imports import (
    ImportResult,
    ImportService,
    Progress,
    Resolution,
    Validation,
)

__all__ = ["ImportResult", "StudentImportService"]

#: An import reads every stored student at once when there are at most this many times as
#: many as the file has valid rows (else it looks up the file's phones).
LOOK_UP_ALL_FACTOR = 2


class StudentImportService(ImportService):
    """Create or update students keyed by phone, with exact counts (see docs/imports.md)."""

    kind = "students"

    async def import_records(
        self, records: Sequence[Mapping[str, object]], *, filename: str = "api.json",
        mode: ImportMode = ImportMode.DEFAULT, dry_run: bool = False,
        region: str | None = None,
    ) -> ImportResult:
        """Import rows given as dicts with the same column names a spreadsheet would use."""
        return await self.import_sheet(sheet_from_records(records, filename), mode=mode,
                                       dry_run=dry_run, region=region)

    async def import_sheet(
        self,
        sheet: Sheet,
        *,
        mode: ImportMode = ImportMode.DEFAULT,
        dry_run: bool = False,
        region: str | None = None,
        progress: Progress | None = None,
        within: UnitOfWork | None = None,
    ) -> ImportResult:
        total_rows = len(sheet.rows)

        def validate() -> Validation:
            return validate_student_rows(
                sheet, region or self._region,
                progress=None if progress is None
                else (lambda done: progress("validating", done, total_rows)),
            )

        links: list[GuardianRecord] = []

        async def resolve(uow: UnitOfWork, validation: Validation) -> Resolution:
            found, issues = guardians_of_student_sheet(
                sheet, validation.mapping, region or self._region, validation.rejected_rows)
            links.extend(found)
            return Resolution(issues=tuple(issues))

        async def write(uow: UnitOfWork, validation: Validation,
                        rejected: frozenset[int]) -> WriteCounts:
            assert isinstance(validation, RosterValidation)
            records = validation.records
            # Every stored student in one read when the file could hold most of them (a
            # re-import: a plain scan, no per-phone join), else only the file's phones.
            existing = await uow.roster.existing_all(at_most=LOOK_UP_ALL_FACTOR * len(records))
            if existing is None:
                existing = await uow.roster.existing([r.phone.e164 for r in records])
            plan = plan_roster(records, existing)
            if plan.creates or plan.updates:
                await uow.roster.write(plan, self._clock.now())
            if links:  # the guardian columns (docs/families.md)
                await link_student_sheet_guardians(uow, links, self._clock.now())
            return WriteCounts(len(plan.creates), len(plan.updates), plan.unchanged)

        return await self._run(sheet, mode=mode, dry_run=dry_run, validate=validate,
                               resolve=resolve, write=write, progress=progress,
                               within=within)
