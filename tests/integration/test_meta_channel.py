"""MetaCloudChannel against a real HTTP server on 127.0.0.1 scripted to fail and recover."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest

from eki_adapters.whatsapp import ConsoleChannel, MetaCloudChannel
from eki_domain.errors import DeliveryError
from eki_testing.graph import FakeGraphAPI, Reply, meta_error
from tests.integration.processes import free_port

TOKEN = "EAAG-test-token"
PHONE_ID = "106540352242922"
TO = "573001234567"


@pytest.fixture
async def channel(graph: FakeGraphAPI) -> AsyncIterator[MetaCloudChannel]:
    async with MetaCloudChannel(graph.url, PHONE_ID, TOKEN, timeout=2.0, max_attempts=4,
                                backoff_initial=0.01, backoff_max=0.05) as ch:
        yield ch


# -- success and transient failures ---------------------------------------------------


async def test_500_then_429_twice_then_success(graph: FakeGraphAPI,
                                               channel: MetaCloudChannel) -> None:
    graph.then(
        Reply(500, b"<html>oops</html>"),
        Reply(429, meta_error(130429, "Rate limit hit")),
        Reply(429, b"{}", headers={"Retry-After": "0"}),
        Reply(200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.FINAL"}]}),
    )
    receipt = await channel.send_text(TO, "Hola Ana, tu nota es 4.5 ✅", reply_to="wamid.IN1",
                                      idempotency_key="outbox-17")
    assert receipt.provider_id == "wamid.FINAL"
    assert len(graph.requests) == 4
    for seen in graph.requests:
        assert seen.path == f"/v25.0/{PHONE_ID}/messages"
        assert seen.headers["authorization"] == f"Bearer {TOKEN}"
        assert seen.headers["content-type"] == "application/json"
        assert seen.json == {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": TO,
            "type": "text",
            "text": {"preview_url": False, "body": "Hola Ana, tu nota es 4.5 ✅"},
            "context": {"message_id": "wamid.IN1"},
            "biz_opaque_callback_data": "outbox-17",
        }


async def test_plain_body_has_no_context_nor_callback_data(graph: FakeGraphAPI,
                                                           channel: MetaCloudChannel) -> None:
    receipt = await channel.send_text(TO, "hola")
    assert receipt.provider_id == "wamid.OK1"
    assert graph.requests[0].json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": TO,
        "type": "text", "text": {"preview_url": False, "body": "hola"},
    }


async def test_retry_after_is_honoured_but_capped(graph: FakeGraphAPI) -> None:
    graph.then(Reply(429, b"{}", headers={"Retry-After": "30"}))
    async with MetaCloudChannel(graph.url, PHONE_ID, TOKEN, backoff_initial=0.01,
                                backoff_max=0.3) as ch:
        started = time.monotonic()
        await ch.send_text(TO, "hola")
        elapsed = time.monotonic() - started
    assert len(graph.requests) == 2
    assert 0.3 <= elapsed < 2.0  # waited the cap, not 30 s, not the 10 ms backoff


async def test_pair_rate_limit_131056_is_retried(graph: FakeGraphAPI,
                                                 channel: MetaCloudChannel) -> None:
    graph.then(Reply(400, meta_error(131056, "(Business Account, Consumer Account) pair "
                                               "rate limit hit")))
    assert (await channel.send_text(TO, "hola")).provider_id == "wamid.OK2"
    assert len(graph.requests) == 2


async def test_exhausted_retries_raise_a_transient_error(graph: FakeGraphAPI,
                                                         channel: MetaCloudChannel) -> None:
    graph.then(*[Reply(503, b"unavailable", headers={"Retry-After": "7"})] * 4)
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, "hola")
    assert caught.value.permanent is False
    assert caught.value.code == "HTTP_503"
    assert caught.value.retry_after == 7.0  # the dispatcher may wait what Meta asked for
    assert len(graph.requests) == 4


async def test_exhausted_meta_throughput_keeps_the_meta_code(graph: FakeGraphAPI,
                                                             channel: MetaCloudChannel) -> None:
    graph.then(*[Reply(400, meta_error(130429, "Rate limit hit"))] * 4)
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, "hola")
    assert (caught.value.code, caught.value.permanent) == ("130429", False)
    assert len(graph.requests) == 4


async def test_timeout_is_transient_and_retried(graph: FakeGraphAPI) -> None:
    graph.then(Reply(delay=0.5))
    async with MetaCloudChannel(graph.url, PHONE_ID, TOKEN, timeout=0.1,
                                backoff_initial=0.01) as ch:
        receipt = await ch.send_text(TO, "hola")
    assert receipt.provider_id == "wamid.OK2"
    assert len(graph.requests) == 2


async def test_connection_refused_is_transient() -> None:
    url = f"http://127.0.0.1:{free_port()}/v25.0"
    async with MetaCloudChannel(url, PHONE_ID, TOKEN, max_attempts=3,
                                backoff_initial=0.01) as ch:
        with pytest.raises(DeliveryError) as caught:
            await ch.send_text(TO, "hola")
    assert (caught.value.code, caught.value.permanent) == ("NETWORK", False)
    assert isinstance(caught.value.__cause__, httpx2.TransportError)
    assert any(isinstance(e, ConnectionRefusedError) for e in causes(caught.value))


# -- permanent failures ---------------------------------------------------------------


@pytest.mark.parametrize(("status", "code", "message"), [
    (400, 131047, "Re-engagement message"),
    (401, 190, "Error validating access token: Session has expired"),
    (400, 100, "Invalid parameter"),
    (400, 131026, "Message Undeliverable"),
    (400, 131009, "Parameter value is not valid"),
    (400, 132001, "Template name does not exist in the translation"),
    (500, 131047, "Re-engagement message"),  # a known permanent code wins over the status
])
async def test_permanent_meta_errors_are_not_retried(
    graph: FakeGraphAPI, channel: MetaCloudChannel, status: int, code: int, message: str,
) -> None:
    graph.then(Reply(status, meta_error(code, message)))
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, "hola")
    error = caught.value
    assert (error.permanent, error.code, error.title) == (True, str(code), message)
    assert str(code) in error.message
    assert len(graph.requests) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 413])
async def test_other_4xx_are_permanent(graph: FakeGraphAPI, channel: MetaCloudChannel,
                                       status: int) -> None:
    graph.then(Reply(status, b"not json"))
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, "hola")
    assert (caught.value.permanent, caught.value.code) == (True, f"HTTP_{status}")
    assert len(graph.requests) == 1


async def test_success_without_an_id_is_not_retried(graph: FakeGraphAPI,
                                                    channel: MetaCloudChannel) -> None:
    graph.then(Reply(200, {"messages": []}))
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, "hola")
    assert (caught.value.permanent, caught.value.code) == (True, "BAD_RESPONSE")
    assert len(graph.requests) == 1


async def test_an_answer_too_long_to_read_is_not_retried(graph: FakeGraphAPI,
                                                          channel: MetaCloudChannel) -> None:
    # 300 KB of "id": read no further than 256 KB, and never sent again (it may have gone).
    graph.then(Reply(200, {"messages": [{"id": "wamid." + "x" * 300_000}]}))
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, "hola")
    assert (caught.value.permanent, caught.value.code) == (True, "BAD_RESPONSE")
    assert len(graph.requests) == 1


@pytest.mark.parametrize("body", ["", "   ", "x" * 4097])
async def test_invalid_bodies_are_refused_before_any_request(
    graph: FakeGraphAPI, channel: MetaCloudChannel, body: str,
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, body)
    assert (caught.value.permanent, caught.value.code) == (True, "INVALID_BODY")
    assert graph.requests == []


# -- mark_read, logging, clients ------------------------------------------------------


async def test_mark_read_posts_once(graph: FakeGraphAPI, channel: MetaCloudChannel) -> None:
    graph.then(Reply(200, {"success": True}))
    await channel.mark_read("wamid.IN1")
    (seen,) = graph.requests
    assert seen.path == f"/v25.0/{PHONE_ID}/messages"
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.json == {"messaging_product": "whatsapp", "status": "read",
                         "message_id": "wamid.IN1"}


async def test_mark_read_failures_are_swallowed_without_retry(
    graph: FakeGraphAPI, channel: MetaCloudChannel, caplog: pytest.LogCaptureFixture,
) -> None:
    graph.then(Reply(500, meta_error(131000, "Something went wrong")))
    with caplog.at_level(logging.WARNING, logger="eki.channel.meta"):
        await channel.mark_read("wamid.IN1")
    assert len(graph.requests) == 1
    assert "131000" in caplog.text
    async with MetaCloudChannel(f"http://127.0.0.1:{free_port()}", PHONE_ID, TOKEN) as ch:
        await ch.mark_read("wamid.IN2")  # connection refused: still no exception


async def test_logs_never_show_the_body_nor_the_full_phone(
    graph: FakeGraphAPI, channel: MetaCloudChannel, caplog: pytest.LogCaptureFixture,
) -> None:
    graph.then(Reply(500, b"x"), Reply(),
               Reply(400, meta_error(131047, "Re-engagement message")))
    with caplog.at_level(logging.DEBUG, logger="eki.channel.meta"):
        await channel.send_text(TO, "nota secreta 4.5")
        with pytest.raises(DeliveryError):
            await channel.send_text(TO, "nota secreta 4.5")
    assert "nota secreta" not in caplog.text
    assert TO not in caplog.text
    assert TOKEN not in caplog.text
    assert "57***4567" in caplog.text
    assert TOKEN not in repr(channel)


async def test_a_shared_client_is_not_closed(graph: FakeGraphAPI) -> None:
    async with httpx2.AsyncClient() as client:
        ch = MetaCloudChannel(graph.url, PHONE_ID, TOKEN, client=client)
        assert (await ch.send_text(TO, "hola")).provider_id == "wamid.OK1"
        await ch.aclose()
        assert not client.is_closed
        assert (await ch.send_text(TO, "otra")).provider_id == "wamid.OK2"


async def test_console_channel_records_and_masks(caplog: pytest.LogCaptureFixture) -> None:
    console = ConsoleChannel()
    assert console.name == "console"
    with caplog.at_level(logging.INFO, logger="eki.channel.console"):
        receipt = await console.send_text("+573001234567", "tu nota es 4.5", reply_to="wamid.X")
    assert receipt.provider_id.startswith("console-")
    assert console.sent == [("+573001234567", "tu nota es 4.5", "wamid.X")]
    assert "would send 14 chars to +57***4567" in caplog.text
    assert "tu nota" not in caplog.text
    assert "3001234567" not in caplog.text
    with caplog.at_level(logging.DEBUG, logger="eki.channel.console"):
        await console.send_text("+573001234567", "detalle")
    assert "detalle" in caplog.text
    await console.mark_read("wamid.IN")
    assert console.read == ["wamid.IN"]


async def test_connections_are_kept_alive_across_concurrent_batches(
        graph: FakeGraphAPI, channel: MetaCloudChannel) -> None:
    """A dispatcher's batch of 60 sends, then another: the second reuses the first's
    connections (httpx2's default pool kept 20 and reconnected for the other 40)."""
    graph.latency = 0.05  # every request in flight at once needs its own connection
    for _ in range(2):
        await asyncio.gather(*(channel.send_text(TO, f"hola {i}") for i in range(60)))
    assert len(graph.requests) == 120
    assert graph.connections <= 60


def causes(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and its chain of causes."""
    while exc is not None:
        yield exc
        exc = exc.__cause__
