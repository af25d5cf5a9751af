"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from eki_testing.graph import FakeGraphAPI
from eki_testing.twilio import FakeTwilioServer


@pytest.fixture(scope="session")
def graph_server(eki_graph_server: FakeGraphAPI) -> FakeGraphAPI:
    """The session's fake Graph API (the harness plugin's ``eki_graph_server``)."""
    return eki_graph_server


@pytest.fixture
def graph(eki_graph: FakeGraphAPI) -> FakeGraphAPI:
    """The shared fake Graph API with an empty script and no requests seen yet."""
    return eki_graph


@pytest.fixture(scope="session")
def twilio_server(eki_twilio_server: FakeTwilioServer) -> FakeTwilioServer:
    """The session's fake Twilio API (the harness plugin's ``eki_twilio_server``)."""
    return eki_twilio_server


@pytest.fixture
def twilio(eki_twilio: FakeTwilioServer) -> FakeTwilioServer:
    """The shared fake Twilio API with an empty script and nothing seen yet."""
    return eki_twilio


CliCall = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> CliCall:
    """Run `eki ARGS…` in-process against the test database: (exit code, stdout, stderr).
    As the `eki` script does, a file import's file is read ahead (cli/readahead.py)."""
    from eki_entrypoints.cli import run
    from eki_entrypoints.cli.readahead import start_read_ahead

    monkeypatch.setenv("EKI_DATABASE_URL", database_url)

    def call(*argv: str) -> tuple[int, str, str]:
        code = run(list(argv), read_ahead=start_read_ahead(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return call
