"""The composition root: build every adapter from settings, each one overridable.

    app = await bootstrap(Settings.from_env())          # SQL, real clock
    app = await bootstrap(settings, uow=store.uow)      # in-memory storage
"""

from __future__ import annotations

import attrs
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.spreadsheets import CalamineSpreadsheetReader
from eki_adapters.sql import SqlUnitOfWorkFactory, create_engine, is_at_head, upgrade
from eki_adapters.system import SystemClock
from eki_domain.ports import Clock, SpreadsheetReader, UnitOfWorkFactory
from eki_domain.services import RegistrationService, StudentImportService
from eki_entrypoints.settings import Settings


@attrs.define
class Eki:
    """Everything wired together. Close it (``await eki.aclose()``) when done."""

    settings: Settings
    uow: UnitOfWorkFactory
    clock: Clock
    registration: RegistrationService
    student_import: StudentImportService
    reader: SpreadsheetReader
    engine: AsyncEngine | None = None
    _owns_engine: bool = False

    async def aclose(self) -> None:
        if self.engine is not None and self._owns_engine:
            await self.engine.dispose()

    async def migrations_at_head(self) -> bool:
        return True if self.engine is None else await is_at_head(self.engine)


async def bootstrap(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    uow: UnitOfWorkFactory | None = None,
    clock: Clock | None = None,
    reader: SpreadsheetReader | None = None,
    auto_upgrade: bool = False,
) -> Eki:
    """Build the application. ``auto_upgrade`` migrates the database first."""
    owns_engine = False
    if uow is None:
        if engine is None:
            engine = create_engine(
                settings.database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
            )
            owns_engine = True
        uow = SqlUnitOfWorkFactory(engine)
    if engine is not None and auto_upgrade:
        await upgrade(engine)
    clock = clock or SystemClock()
    return Eki(
        settings=settings,
        uow=uow,
        clock=clock,
        registration=RegistrationService(uow, clock, default_region=settings.default_country),
        student_import=StudentImportService(uow, clock, default_region=settings.default_country),
        reader=reader or CalamineSpreadsheetReader(),
        engine=engine,
        owns_engine=owns_engine,
    )
