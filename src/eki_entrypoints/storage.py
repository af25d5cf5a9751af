"""The database side of the application: the engine and the unit-of-work factory built from
settings, and the schema brought up to date.

:func:`eki_entrypoints.bootstrap.bootstrap` builds everything else on top of them; a file
import on the command line (``eki students import``, :mod:`eki_entrypoints.cli.importing`)
needs nothing else, and imports nothing else: this module loads SQLAlchemy and the unit
of work, whose repositories are imported when first used, but none of EKI's services.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.sql.engine import create_engine
from eki_adapters.sql.migrate import upgrade
from eki_adapters.sql.uow import SqlUnitOfWorkFactory
from eki_entrypoints.settings import Settings


def database_engine(settings: Settings) -> AsyncEngine:
    """The engine ``EKI_DATABASE_URL`` names, with the ``EKI_DB_POOL_*`` settings."""
    return create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
    )


def unit_of_work(settings: Settings, engine: AsyncEngine, *,
                 owns_engine: bool) -> SqlUnitOfWorkFactory:
    """The units of work over ``engine``.

    On an engine of our own on PostgreSQL, our own pool: waiters for a connection are
    served in arrival order, at most EKI_DB_POOL_SIZE units of work at once. The overflow is
    left to what bypasses the gate (worker heartbeats, live-event NOTIFY): gating at size +
    overflow opened and closed the overflow connections over and over under load (93
    connections opened per 18 s of webhooks at 100 connections; docs/capacity.md)."""
    fair = owns_engine and engine.dialect.name == "postgresql"
    return SqlUnitOfWorkFactory(
        engine, pool_timeout=settings.db_pool_timeout,
        max_connections=settings.db_pool_size if fair else None)


async def upgrade_schema(engine: AsyncEngine, *, owns_engine: bool) -> None:
    """Migrate the database to the latest schema; an engine of our own is disposed of if
    that fails or is interrupted (nobody else would close it)."""
    try:
        await upgrade(engine)
    except BaseException:
        if owns_engine:
            await engine.dispose()
        raise
