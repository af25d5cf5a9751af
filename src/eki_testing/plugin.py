"""EKI's pytest plugin (entry point ``pytest11: eki``): EKI end to end in a few lines.

Fixtures (all prefixed ``eki_`` so they never clash with a project's own):

``eki_harness``
    EKI running in-process (web app + pipeline worker) on a fresh database, with the
    WhatsApp channel on ``eki_graph`` (or on ``eki_twilio`` when the test asks for that
    fixture), signed webhooks, and the LLM on ``eki_openai`` when the test asks for that
    fixture too (rule-based replies otherwise).
    See :class:`~eki_testing.harness.EkiHarness`.
``eki_graph``
    The fake Graph API (:class:`~eki_testing.graph.FakeGraphAPI`), with an
    empty script and no requests, shared across the session (``eki_graph_server``).
``eki_twilio``
    The fake Twilio Messages API (:class:`~eki_testing.twilio.FakeTwilioServer`),
    reset for each test, shared across the session (``eki_twilio_server``). **Asking for
    it switches EKI to the Twilio channel** (``EKI_CHANNEL=twilio``): the harness then
    posts signed Twilio forms to ``/webhooks/twilio`` and reads replies from this fake.
``eki_openai``
    A fake OpenAI-compatible server
    (:class:`~eki_testing.openai.FakeOpenAIServer`) for this test.
``eki_database_url``
    A migrated, empty database: a SQLite file in ``tmp_path`` by default, or the database
    given by ``--eki-database-url`` / ``EKI_TEST_DATABASE_URL`` (migrated once, **emptied
    before every test**: never point it at real data).
``eki_settings``
    The :class:`~eki_entrypoints.settings.Settings` EKI runs with; override this fixture
    (``attrs.evolve(...)``) to change the country, grading scale, budgets…

Nothing is read from the process environment except ``EKI_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from eki_entrypoints.settings import Settings
from eki_testing.database import empty_database, migrate, sqlite_copy, sqlite_url
from eki_testing.graph import FakeGraphAPI
from eki_testing.harness import EkiHarness, harness_settings
from eki_testing.openai import FakeOpenAIServer
from eki_testing.twilio import FakeTwilioServer

DATABASE_ENV = "EKI_TEST_DATABASE_URL"
_migrated: set[str] = set()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("eki", "EKI integration-test harness")
    group.addoption(
        "--eki-database-url", default=None, metavar="URL",
        help=f"database for the eki_harness fixture (default: ${DATABASE_ENV}, else a "
             "SQLite file per test). It is migrated and EMPTIED before every test.")


def _given_database_url(config: pytest.Config) -> str | None:
    value = config.getoption("--eki-database-url") or os.environ.get(DATABASE_ENV, "")
    return value.strip() or None


@pytest.fixture(scope="session")
def eki_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("eki-template") / "eki.db"
    migrate(sqlite_url(path))
    return path


@pytest.fixture
def eki_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    given = _given_database_url(request.config)
    if given is None:
        template: Path = request.getfixturevalue("eki_sqlite_template")
        return sqlite_copy(template, tmp_path / "eki.db")
    if given not in _migrated:
        migrate(given)
        _migrated.add(given)
    empty_database(given)
    return given


@pytest.fixture(scope="session")
def eki_graph_server() -> Iterator[FakeGraphAPI]:
    """The session's fake Graph API (prefer ``eki_graph``, which is reset per test)."""
    with FakeGraphAPI() as server:
        yield server


@pytest.fixture
def eki_graph(eki_graph_server: FakeGraphAPI) -> FakeGraphAPI:
    eki_graph_server.reset()
    return eki_graph_server


@pytest.fixture(scope="session")
def eki_twilio_server() -> Iterator[FakeTwilioServer]:
    """The session's fake Twilio API (prefer ``eki_twilio``, which is reset per test)."""
    with FakeTwilioServer() as server:
        yield server


@pytest.fixture
def eki_twilio(eki_twilio_server: FakeTwilioServer) -> FakeTwilioServer:
    return eki_twilio_server.reset()


@pytest.fixture
def eki_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def eki_settings(request: pytest.FixtureRequest, eki_database_url: str,
                 eki_graph: FakeGraphAPI) -> Settings:
    openai_url = None
    if "eki_openai" in request.fixturenames:  # the test wants the model: wire it in
        openai_url = request.getfixturevalue("eki_openai").url
    twilio = None
    if "eki_twilio" in request.fixturenames:  # the test wants Twilio: switch the channel
        twilio = request.getfixturevalue("eki_twilio")
    return harness_settings(eki_database_url, eki_graph, openai_url=openai_url,
                            twilio=twilio)


@pytest.fixture
def eki_harness(request: pytest.FixtureRequest, eki_settings: Settings,
                eki_graph: FakeGraphAPI) -> Iterator[EkiHarness]:
    twilio = None
    if eki_settings.channel == "twilio":
        twilio = request.getfixturevalue("eki_twilio")
    with EkiHarness(eki_settings, eki_graph, twilio=twilio, migrate_first=False) as harness:
        yield harness
