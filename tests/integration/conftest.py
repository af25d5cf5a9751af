"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.graph_stub import GraphStub


@pytest.fixture(scope="session")
def graph_server() -> Iterator[GraphStub]:
    stub = GraphStub()
    stub.thread.start()
    try:
        yield stub
    finally:
        stub.server.shutdown()
        stub.server.server_close()
        stub.thread.join(timeout=5)


@pytest.fixture
def graph(graph_server: GraphStub) -> GraphStub:
    """The shared server with an empty script and no requests seen yet."""
    with graph_server.lock:
        graph_server.script.clear()
        graph_server.requests.clear()
    return graph_server


