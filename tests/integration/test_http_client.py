"""The aiohttp-backed httpx2 client raises httpx2's own exception for each failure."""

from __future__ import annotations

import httpx2
import pytest

from eki_adapters.http_client import provider_client, sdk_client
from eki_testing.graph import FakeGraphAPI
from eki_testing.http import DROP, slow
from tests.integration.processes import free_port


async def test_refused_dropped_and_slow_are_told_apart(graph: FakeGraphAPI) -> None:
    async with provider_client(timeout=0.3) as client:
        with pytest.raises(httpx2.ConnectError) as refused:
            await client.post(f"http://127.0.0.1:{free_port()}/x", json={})
        assert isinstance(refused.value.__cause__, ConnectionRefusedError | OSError)

        graph.script.append(DROP)
        with pytest.raises(httpx2.RemoteProtocolError):
            await client.post(f"{graph.url}/1/messages", json={})

        graph.script.append(slow(2.0))
        with pytest.raises(httpx2.TimeoutException):
            await client.post(f"{graph.url}/1/messages", json={})


async def test_the_sdk_client_keeps_the_sdks_defaults() -> None:
    async with sdk_client(timeout=7.0) as client:
        assert client.timeout.read == 7.0 and client.follow_redirects is True
    async with provider_client(timeout=3.0) as client:
        assert client.follow_redirects is False
