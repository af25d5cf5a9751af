"""The providers' HTTP clients — the aiohttp-backed httpx2 client and the channels' lighter
:class:`ChannelClient` — raise httpx2's own exception for each failure; the channel client
sends JSON, forms and HTTP Basic as httpx2 would."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx2
import pytest

from eki_adapters.http_client import ChannelClient, channel_client, provider_client, sdk_client
from eki_testing.graph import FakeGraphAPI
from eki_testing.http import DROP, slow
from tests.integration.processes import free_port


@pytest.mark.parametrize("make", [provider_client, channel_client],
                         ids=["httpx2-on-aiohttp", "channel-client"])
async def test_refused_dropped_and_slow_are_told_apart(graph: FakeGraphAPI,
                                                       make: Callable[[float], Any]) -> None:
    client = make(0.3)
    try:
        with pytest.raises(httpx2.ConnectError) as refused:
            await client.post(f"http://127.0.0.1:{free_port()}/x", json={})
        assert isinstance(refused.value.__cause__, ConnectionRefusedError | OSError)

        graph.script.append(DROP)
        with pytest.raises(httpx2.RemoteProtocolError):
            await client.post(f"{graph.url}/1/messages", json={})

        graph.script.append(slow(2.0))
        with pytest.raises(httpx2.TimeoutException):
            await client.post(f"{graph.url}/1/messages", json={})
        # Every failure is a transport error: the channels turn it into a retry.
        assert issubclass(httpx2.TimeoutException, httpx2.TransportError)
    finally:
        await client.aclose()


async def test_the_channel_client_sends_what_httpx2_would(graph: FakeGraphAPI) -> None:
    async with ChannelClient(timeout=5.0) as client:
        answer = await client.post(f"{graph.url}/1/messages",
                                   json={"text": {"body": "¿Cómo voy en mate? 🙏"}},
                                   headers={"Authorization": "Bearer t0k"}, timeout=2.0)
        form = await client.post(f"{graph.url}/1/messages", data={"Body": "hola & adiós"},
                                 auth=("AC123", "s3cret"))
    first, second = graph.requests
    assert first.json == {"text": {"body": "¿Cómo voy en mate? 🙏"}}
    assert first.headers["content-type"] == "application/json"
    assert first.headers["authorization"] == "Bearer t0k"
    assert answer.is_success and answer.status_code == 200
    assert answer.json()["messages"][0]["id"]  # the fake Graph API's id
    assert answer.headers.get("CONTENT-TYPE", "").startswith("application/json")
    assert parse_qs(second.body.decode()) == {"Body": ["hola & adiós"]}
    assert second.headers["authorization"] == "Basic " + base64.b64encode(
        b"AC123:s3cret").decode()
    assert form.is_success


async def test_the_sdk_client_keeps_the_sdks_defaults() -> None:
    async with sdk_client(timeout=7.0) as client:
        assert client.timeout.read == 7.0 and client.follow_redirects is True
    async with provider_client(timeout=3.0) as client:
        assert client.follow_redirects is False
    assert ChannelClient.follow_redirects is False


async def test_a_compressed_answer_is_bounded_once_unpacked() -> None:
    """A gzip answer of 3 KB that unpacks to 1 MB: its Content-Length says nothing of its
    size, so it is read in chunks and comes back empty (status kept), as a long plain one."""
    import asyncio
    import gzip

    packed = gzip.compress(b'{"messages": [{"id": "' + b"x" * 1024 * 1024 + b'"}]}')
    assert len(packed) < 8 * 1024

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed)
                     + packed)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with ChannelClient(timeout=5.0) as client:
            response = await client.post(f"http://127.0.0.1:{port}/1/messages", json={})
        assert response.status_code == 200 and response.content == b""
    finally:
        server.close()
        await server.wait_closed()
