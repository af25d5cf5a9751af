"""Shared fixtures: throwaway databases (SQLite per test, one PostgreSQL database per run).

PostgreSQL comes from ``EKI_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``): a database named
``eki_test_<random>`` is created for the run and dropped at the end. When the
server is unreachable the Postgres cases are skipped, unless
``EKI_REQUIRE_POSTGRES=1`` (CI), which turns that into a failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.memory import InMemoryStore
from eki_adapters.sql import SqlUnitOfWorkFactory, create_engine, upgrade
from eki_adapters.sql.engine import connections_in_use
from eki_adapters.sql.tables import metadata
from eki_domain.ports import UnitOfWorkFactory

#: pytester drives EKI's pytest plugin from throwaway projects (test_harness_plugin.py).
pytest_plugins = ["pytester"]

ADMIN_URL = os.environ.get(
    "EKI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("EKI_REQUIRE_POSTGRES") == "1"

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
]
SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine to completion from sync code, even inside a running event loop
    (session fixtures may first be needed by an async fixture)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(autouse=True)
def _consent_off_unless_marked(request: pytest.FixtureRequest,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Consent before data is on in production (EKI_CONSENT_REQUIRED=1): a known student's
    first message gets the consent notice. Tests about something else run as a school that
    collects consent elsewhere (EKI_CONSENT_REQUIRED=0, in this process and in the processes
    it starts); a test marked ``consent`` gets the production default."""
    if request.node.get_closest_marker("consent") is not None:
        monkeypatch.delenv("EKI_CONSENT_REQUIRED", raising=False)
        return
    from eki_entrypoints.settings import Settings

    policy = Settings.consent_policy
    monkeypatch.setattr(Settings, "consent_policy",
                        lambda self: attrs.evolve(policy(self), required=False))
    monkeypatch.setenv("EKI_CONSENT_REQUIRED", "0")


@pytest.fixture(scope="session", autouse=True)
def _intent_model() -> None:
    """Load (or train) the intent classifier once, before any test: ``bootstrap`` warms it in a
    background thread, and a message answered before it is ready gets the rules alone."""
    from eki_adapters.understanding import trained_model

    trained_model()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh, migrated PostgreSQL database for this test run."""
    try:
        admin = psycopg.connect(_conninfo(ADMIN_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL not reachable at {make_url(ADMIN_URL).render_as_string()}: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (EKI_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(message)
    name = f"eki_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        _run(_migrate(url))
        yield url
    finally:
        with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _run(_migrate(f"sqlite:///{path}"))
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "eki.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


#: Every table but the fixed import-lock row (derived, so new tables are never forgotten).
TABLES_TO_CLEAN = tuple(t.name for t in metadata.sorted_tables if t.name != "import_locks")


async def _truncate(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.text(f"TRUNCATE {', '.join(TABLES_TO_CLEAN)} RESTART IDENTITY CASCADE")
        )


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """The URL of a clean, migrated database of the parametrised backend."""
    backend = request.param
    if backend == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    url = str(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)

    async def clean() -> None:
        try:
            await _truncate(engine)
        finally:
            await engine.dispose()

    _run(clean())
    return url


def _nothing_checked_out(engine: AsyncEngine) -> None:
    """Fail the test that leaves a pooled connection out (a task still holding one, or a
    connection never closed): found here, not when the garbage collector frees it during
    some later test (see pyproject.toml's filterwarnings)."""
    in_use = connections_in_use(engine)
    assert in_use == 0, f"{in_use} database connection(s) still in use"


async def _dispose_checked(engine: AsyncEngine) -> None:
    """A fixture's engine at the end of its test: checked (above), then disposed."""
    try:
        _nothing_checked_out(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(database_url)
    yield eng
    await _dispose_checked(eng)


@pytest.fixture
async def uow_factory(request: pytest.FixtureRequest) -> AsyncIterator[UnitOfWorkFactory]:
    """A unit-of-work factory over memory, SQLite or PostgreSQL (parametrised)."""
    backend = request.param
    if backend == "memory":
        yield InMemoryStore().uow
        return
    url = str(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "postgres_url"))
    eng = create_engine(url)
    if backend == "postgres":
        await _truncate(eng)
    yield SqlUnitOfWorkFactory(eng)
    await _dispose_checked(eng)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "uow_factory" in metafunc.fixturenames:
        metafunc.parametrize("uow_factory", BACKENDS, indirect=True)
    elif "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", SQL_BACKENDS, indirect=True)


class _ClosedInUse(logging.Handler):
    """Records ``eki.bootstrap``'s warning that an Eki closed with database connections
    still in use (a task that outlived it: the connection is then freed by the garbage
    collector, in some later test)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def take(self) -> list[str]:
        """The warnings so far, forgotten (for a test that causes one on purpose)."""
        taken, self.messages = self.messages, []
        return taken


_CLOSED_IN_USE = _ClosedInUse()
logging.getLogger("eki.bootstrap").addHandler(_CLOSED_IN_USE)


@pytest.fixture
def closed_in_use() -> _ClosedInUse:
    return _CLOSED_IN_USE


@pytest.fixture(autouse=True)
def _no_eki_closed_with_connections_in_use() -> Iterator[None]:
    """Fail the test that closes an Eki while one of its tasks still holds a database
    connection (set up before, so torn down after, the test's own fixtures)."""
    _CLOSED_IN_USE.take()
    yield
    assert not (left := _CLOSED_IN_USE.take()), "; ".join(left)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands run in-process configure logging (``configure_logging``): undo it."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
