"""Engines: turn the URL a person writes into an async SQLAlchemy engine."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+psycopg",
}


class DatabaseUrlError(ValueError):
    """The database URL cannot be used; the message says why and what to write instead."""


def to_async_url(url: str) -> sa.URL:
    """``sqlite:///eki.db`` / ``postgresql://…`` → the async-driver URL EKI uses."""
    text = url.strip()
    if text.startswith("postgres://"):  # Heroku/Render style
        text = "postgresql://" + text[len("postgres://") :]
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise DatabaseUrlError(
            f"cannot parse database URL {text!r}: expected e.g. sqlite:///./eki.db "
            "or postgresql://user:password@host:5432/eki"
        ) from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise DatabaseUrlError(
            f"unsupported database {parsed.drivername!r} in URL "
            f"{parsed.render_as_string(hide_password=True)!r}: use sqlite:/// or postgresql://"
        )
    if driver.startswith("sqlite") and parsed.database in (None, "", ":memory:"):
        raise DatabaseUrlError(
            "an in-memory SQLite database would vanish between connections: "
            "use a file, e.g. sqlite:///./eki.db"
        )
    return parsed.set(drivername=driver)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(
    url: str | sa.URL,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    echo: bool = False,
    pre_ping: bool = False,
    pool_recycle: float = 1800.0,
) -> AsyncEngine:
    """An async engine for SQLite (aiosqlite) or PostgreSQL (psycopg 3)."""
    target = to_async_url(url) if isinstance(url, str) else url
    # Units of work always end their transactions, so the pool's extra ROLLBACK on every
    # return would only cost a round trip; connections closed mid-transaction are rolled
    # back by SQLAlchemy's Connection.close() anyway.
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": pre_ping, "hide_parameters": True,
                              "pool_reset_on_return": None}
    if target.get_backend_name() == "postgresql":
        kwargs.update(
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_recycle=pool_recycle,
        )
    engine = create_async_engine(target, **kwargs)
    if target.get_backend_name() == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def connections_in_use(engine: AsyncEngine) -> int:
    """Connections of ``engine``'s pool checked out now (0 for a pool that does not count
    them): a task still holding one when the engine is disposed keeps it open past that."""
    checked_out = getattr(engine.pool, "checkedout", None)
    return int(checked_out()) if checked_out is not None else 0
