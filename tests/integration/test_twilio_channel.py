"""TwilioChannel against the fake Twilio Messages API (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest

from eki_adapters.twilio import TwilioChannel
from eki_domain.errors import DeliveryError
from eki_testing import twilio as tw
from eki_testing.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM,
    FakeTwilioServer,
)
from tests.integration.processes import free_port

TO = "573001234567"
CALLBACK = "https://eki.colegio.edu.co/webhooks/twilio/status"


@pytest.fixture
async def channel(twilio: FakeTwilioServer) -> AsyncIterator[TwilioChannel]:
    async with TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, api_url=twilio.url,
                             status_callback=CALLBACK, timeout=2.0, max_attempts=4,
                             backoff_initial=0.01, backoff_max=0.05) as ch:
        yield ch


# -- success and transient failures ---------------------------------------------------


async def test_send_posts_the_form_with_basic_auth(twilio: FakeTwilioServer,
                                                   channel: TwilioChannel) -> None:
    receipt = await channel.send_text(TO, "Hola Ana, tu nota es 4.5 ✅", reply_to="SMin",
                                      idempotency_key="eki-out-1")
    (sent,) = twilio.messages
    assert receipt.provider_id == sent.sid and sent.sid.startswith("SM")
    (seen,) = twilio.requests
    assert seen.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert seen.headers["authorization"] == f"Basic {credentials}"
    assert seen.form == {"From": FROM, "To": f"whatsapp:+{TO}",
                         "Body": "Hola Ana, tu nota es 4.5 ✅", "StatusCallback": CALLBACK}


@pytest.mark.parametrize("to", [TO, f"+{TO}", f"whatsapp:+{TO}"])
async def test_recipient_forms(twilio: FakeTwilioServer, channel: TwilioChannel,
                               to: str) -> None:
    await channel.send_text(to, "hola")
    assert twilio.messages[0].to == f"whatsapp:+{TO}"


async def test_without_status_callback_none_is_sent(twilio: FakeTwilioServer) -> None:
    async with TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, "+14155238886",
                             api_url=twilio.url) as ch:
        await ch.send_text(TO, "hola")
    assert twilio.requests[0].form == {"From": FROM, "To": f"whatsapp:+{TO}", "Body": "hola"}


async def test_500_then_429_then_success(twilio: FakeTwilioServer,
                                         channel: TwilioChannel) -> None:
    twilio.then(tw.server_error(500), tw.rate_limited(),
                tw.Reply(503, b"<html>unavailable</html>"), tw.accepted(sid="SMfinal"))
    receipt = await channel.send_text(TO, "hola")
    assert receipt.provider_id == "SMfinal"
    assert len(twilio.requests) == 4
    assert [m.sid for m in twilio.messages] == ["SMfinal"]


@pytest.mark.parametrize("reply", [
    tw.error(20429, "Too Many Requests", status=429),
    tw.error(63018, "Rate limit exceeded for Channel", status=400),
])
async def test_twilio_rate_limit_codes_are_retried(twilio: FakeTwilioServer,
                                                   channel: TwilioChannel,
                                                   reply: tw.Reply) -> None:
    twilio.then(reply)
    await channel.send_text(TO, "hola")
    assert len(twilio.requests) == 2 and len(twilio.messages) == 1


async def test_retry_after_is_honoured_but_capped(twilio: FakeTwilioServer) -> None:
    twilio.then(tw.rate_limited(retry_after=30))
    async with TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, api_url=twilio.url,
                             backoff_initial=0.01, backoff_max=0.3) as ch:
        started = time.monotonic()
        await ch.send_text(TO, "hola")
        elapsed = time.monotonic() - started
    assert len(twilio.requests) == 2
    assert 0.3 <= elapsed < 2.0


async def test_exhausted_retries_raise_a_transient_error(twilio: FakeTwilioServer,
                                                         channel: TwilioChannel) -> None:
    twilio.then(*[tw.Reply(503, b"unavailable", headers={"Retry-After": "7"})] * 4)
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, "hola")
    error = caught.value
    assert (error.permanent, error.code, error.retry_after) == (False, "HTTP_503", 7.0)
    assert len(twilio.requests) == 4 and twilio.messages == []


async def test_slow_answer_times_out_and_is_retried(twilio: FakeTwilioServer) -> None:
    twilio.then(tw.accepted(delay=0.5))
    async with TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, api_url=twilio.url, timeout=0.1,
                             backoff_initial=0.01) as ch:
        receipt = await ch.send_text(TO, "hola")
    assert len(twilio.requests) == 2
    assert receipt.provider_id == twilio.messages[-1].sid


async def test_connection_refused_is_transient() -> None:
    url = f"http://127.0.0.1:{free_port()}/2010-04-01"
    async with TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, api_url=url, max_attempts=3,
                             backoff_initial=0.01) as ch:
        with pytest.raises(DeliveryError) as caught:
            await ch.send_text(TO, "hola")
    assert (caught.value.code, caught.value.permanent) == ("NETWORK", False)
    assert isinstance(caught.value.__cause__, httpx2.TransportError)
    assert any(isinstance(e, ConnectionRefusedError) for e in causes(caught.value))


# -- permanent failures ---------------------------------------------------------------


@pytest.mark.parametrize(("status", "code", "hint"), [
    (400, 63016, "24 horas"),
    (400, 63003, "no puede recibir"),
    (400, 63024, "no es válido"),
    (400, 21211, "no es válido"),
    (400, 21610, "no recibir más"),
    (500, 63016, "24 horas"),  # a known permanent code wins over the status
])
async def test_permanent_twilio_errors_are_not_retried(
    twilio: FakeTwilioServer, channel: TwilioChannel, status: int, code: int, hint: str,
) -> None:
    twilio.then(tw.error(code, "Twilio says no", status=status))
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, "hola")
    error = caught.value
    assert (error.permanent, error.code, error.title) == (True, str(code), "Twilio says no")
    assert hint in error.message and str(code) in error.message
    assert len(twilio.requests) == 1


async def test_wrong_credentials_are_permanent(twilio: FakeTwilioServer) -> None:
    async with TwilioChannel(ACCOUNT_SID, "wrong-token", FROM, api_url=twilio.url,
                             backoff_initial=0.01) as ch:
        with pytest.raises(DeliveryError) as caught:
            await ch.send_text(TO, "hola")
    assert (caught.value.permanent, caught.value.code) == (True, "20003")
    assert "EKI_TWILIO_AUTH_TOKEN" in caught.value.message
    assert len(twilio.requests) == 1


@pytest.mark.parametrize("status", [400, 403, 404, 413])
async def test_other_4xx_are_permanent(twilio: FakeTwilioServer, channel: TwilioChannel,
                                       status: int) -> None:
    twilio.then(tw.Reply(status, b"not json"))
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, "hola")
    assert (caught.value.permanent, caught.value.code) == (True, f"HTTP_{status}")
    assert len(twilio.requests) == 1


async def test_success_without_a_sid_is_not_retried(twilio: FakeTwilioServer,
                                                    channel: TwilioChannel) -> None:
    twilio.then(tw.Reply(201, b'{"status": "queued"}'))
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, "hola")
    assert (caught.value.permanent, caught.value.code) == (True, "BAD_RESPONSE")
    assert len(twilio.requests) == 1


@pytest.mark.parametrize("body", ["", "   ", "x" * 1601])
async def test_invalid_bodies_are_refused_before_any_request(
    twilio: FakeTwilioServer, channel: TwilioChannel, body: str,
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await channel.send_text(TO, body)
    assert (caught.value.permanent, caught.value.code) == (True, "INVALID_BODY")
    assert twilio.requests == []


async def test_1600_characters_is_fine(twilio: FakeTwilioServer,
                                       channel: TwilioChannel) -> None:
    await channel.send_text(TO, "x" * 1600)
    assert len(twilio.messages[0].body) == 1600


# -- mark_read, logging, clients ------------------------------------------------------


async def test_mark_read_sends_nothing(twilio: FakeTwilioServer,
                                       channel: TwilioChannel) -> None:
    await channel.mark_read("SMin")
    assert twilio.requests == []


async def test_logs_mask_the_phone_and_never_show_text_or_token(
    twilio: FakeTwilioServer, channel: TwilioChannel, caplog: pytest.LogCaptureFixture,
) -> None:
    twilio.then(tw.server_error(), tw.error(63016))
    caplog.set_level(logging.DEBUG, logger="eki.channel.twilio")
    with pytest.raises(DeliveryError):
        await channel.send_text(TO, "tu nota secreta es 4.5")
    await channel.send_text(TO, "hola de nuevo")
    text = caplog.text
    assert "57***4567" in text
    assert TO not in text and "secreta" not in text and AUTH_TOKEN not in text
    assert AUTH_TOKEN not in repr(channel)


async def test_a_shared_client_is_not_closed(twilio: FakeTwilioServer) -> None:
    client = httpx2.AsyncClient()
    try:
        async with TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, api_url=twilio.url,
                                 client=client) as ch:
            await ch.send_text(TO, "hola")
        assert not client.is_closed
    finally:
        await client.aclose()


def test_constructor_refuses_missing_values() -> None:
    with pytest.raises(ValueError, match="required"):
        TwilioChannel(ACCOUNT_SID, "", FROM)
    with pytest.raises(ValueError, match="max_attempts"):
        TwilioChannel(ACCOUNT_SID, AUTH_TOKEN, FROM, max_attempts=0)


def causes(exc: BaseException | None) -> Iterator[BaseException]:
    """``exc`` and its chain of causes."""
    while exc is not None:
        yield exc
        exc = exc.__cause__
