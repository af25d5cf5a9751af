"""POST /webhooks/twilio and /webhooks/twilio/status on SQLite and PostgreSQL: signatures
(direct and behind a proxy), refusals, idempotency, media and buttons through the
pipeline, status ordering, and replies cut to Twilio's 1600 characters."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from eki_adapters.system import FixedClock
from eki_adapters.twilio import TwilioChannel
from eki_domain.ports.assistant import AssistantReply, StudentToolbox, Turn
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app
from eki_entrypoints.worker import PipelineWorker
from eki_testing import twilio as tw
from eki_testing.twilio import FakeTwilioServer

ANA = "573001234567"
LOCAL = "http://testserver"
PUBLIC = "https://eki.colegio.edu.co"


def settings_for(url: str, *, public_url: str | None = PUBLIC, channel: str = "twilio",
                 token: str | None = tw.AUTH_TOKEN) -> Settings:
    return Settings(database_url=url, channel=channel, production=True,
                    twilio_account_sid=tw.ACCOUNT_SID,
                    twilio_auth_token=Secret(token) if token else None,
                    twilio_from=tw.FROM, public_url=public_url,
                    admin_token=Secret("admin"))


async def make_eki(settings: Settings, twilio: FakeTwilioServer, **kwargs: object) -> Eki:
    channel = TwilioChannel(tw.ACCOUNT_SID, tw.AUTH_TOKEN, tw.FROM, api_url=twilio.url,
                            status_callback=f"{PUBLIC}/webhooks/twilio/status",
                            backoff_initial=0.01, backoff_max=0.02)
    app = await bootstrap(settings, clock=FixedClock(), channel=channel, **kwargs)  # type: ignore[arg-type]
    await app.registration.register("Ana María Pérez", ANA, tags=["grado 10"])
    return app


@pytest.fixture
async def eki(database_url: str, twilio: FakeTwilioServer) -> AsyncIterator[Eki]:
    app = await make_eki(settings_for(database_url), twilio)
    yield app
    await app.aclose()


@contextlib.contextmanager
def serve(app: Eki) -> Iterator[TestClient]:
    """A test client; the channel's HTTP connections (opened on the client's event loop)
    are closed on that loop."""
    with TestClient(create_app(app.settings, eki=app)) as test_client:
        try:
            yield test_client
        finally:
            test_client.portal.call(app.channel.aclose)  # type: ignore[attr-defined, union-attr]


@pytest.fixture
def client(eki: Eki) -> Iterator[TestClient]:
    with serve(eki) as test_client:
        yield test_client


def post(client: TestClient, form: dict[str, str], *, path: str = "/webhooks/twilio",
         signed_for: str = PUBLIC, token: str = tw.AUTH_TOKEN, **headers: str):  # type: ignore[no-untyped-def]
    request = tw.signed_post(form, url=LOCAL + path, signed_url=signed_for + path,
                             auth_token=token)
    return client.post(request.path, content=request.body,
                       headers={**request.headers, **headers})


def status(client: TestClient, form: dict[str, str]):  # type: ignore[no-untyped-def]
    return post(client, form, path="/webhooks/twilio/status")


def drain(client: TestClient, eki: Eki) -> None:
    client.portal.call(PipelineWorker(eki).drain)  # type: ignore[union-attr]


def rows(client: TestClient, eki: Eki, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    async def run() -> list[tuple]:  # type: ignore[type-arg]
        assert eki.engine is not None
        async with eki.engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(sa.text(sql))).all()]

    return client.portal.call(run)  # type: ignore[union-attr, no-any-return]


def count(client: TestClient, eki: Eki, table: str) -> int:
    return int(rows(client, eki, f"SELECT count(*) FROM {table}")[0][0])


# -- signatures and refusals ------------------------------------------------------------------


def test_text_is_stored_and_answered_with_empty_twiml(client: TestClient, eki: Eki,
                                                      twilio: FakeTwilioServer) -> None:
    form = tw.text_message(ANA, "hola 👋", name="Ana")
    response = post(client, form)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    assert rows(client, eki, "SELECT channel, provider_id, wa_id, type, text, profile_name "
                             "FROM inbound_messages") == [
        ("twilio", form["MessageSid"], ANA, "text", "hola 👋", "Ana")]
    assert rows(client, eki, "SELECT channel, signature_ok FROM webhook_events") == [
        ("twilio", True)]
    assert twilio.requests == []  # nothing is sent from the webhook itself
    drain(client, eki)
    (sent,) = twilio.messages
    assert sent.to == f"whatsapp:+{ANA}" and "Ana" in sent.body
    assert sent.status_callback == f"{PUBLIC}/webhooks/twilio/status"


def test_behind_a_proxy_only_the_public_url_signature_passes(client: TestClient,
                                                             eki: Eki) -> None:
    form = tw.text_message(ANA, "hola")
    assert post(client, form, signed_for=LOCAL).status_code == 403  # the internal URL
    assert post(client, form, signed_for=PUBLIC).status_code == 200
    assert count(client, eki, "inbound_messages") == 1


async def test_without_public_url_the_request_url_is_signed(database_url: str,
                                                            twilio: FakeTwilioServer) -> None:
    app = await make_eki(settings_for(database_url, public_url=None), twilio)
    try:
        with serve(app) as client:
            form = tw.text_message(ANA, "hola")
            assert post(client, form, signed_for=PUBLIC).status_code == 403
            assert post(client, form, signed_for=LOCAL).status_code == 200
    finally:
        await app.aclose()


def test_the_query_string_is_part_of_the_signed_url(client: TestClient) -> None:
    form = tw.text_message(ANA, "hola")
    request = tw.signed_post(form, url=f"{LOCAL}/webhooks/twilio?school=7",
                             signed_url=f"{PUBLIC}/webhooks/twilio?school=7")
    ok = client.post(request.path, content=request.body, headers=request.headers)
    assert ok.status_code == 200
    forged = client.post("/webhooks/twilio?school=8", content=request.body,
                         headers=request.headers)
    assert forged.status_code == 403


def test_refusals_store_nothing(client: TestClient, eki: Eki) -> None:
    form = tw.text_message(ANA, "hola")
    request = tw.signed_post(form, url=LOCAL + "/webhooks/twilio",
                             signed_url=PUBLIC + "/webhooks/twilio")
    headers = {k: v for k, v in request.headers.items() if k != "X-Twilio-Signature"}
    missing = client.post("/webhooks/twilio", content=request.body, headers=headers)
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "SIGNATURE_MISSING")
    forged = post(client, form, token="not-the-token")
    assert (forged.status_code, forged.json()["error"]["code"]) == (403, "SIGNATURE_INVALID")
    tampered = client.post("/webhooks/twilio", content=request.body.replace(b"hola", b"chao"),
                           headers=request.headers)
    assert tampered.status_code == 403
    as_json = client.post("/webhooks/twilio", json=form, headers={
        "X-Twilio-Signature": request.headers["X-Twilio-Signature"]})
    assert as_json.status_code == 415
    too_big = client.post("/webhooks/twilio", content=b"Body=" + b"x" * 300_000,
                          headers=request.headers)
    assert too_big.status_code == 413
    not_utf8 = client.post("/webhooks/twilio", content=b"Body=\xff\xfe", headers=request.headers)
    assert not_utf8.status_code == 400
    assert count(client, eki, "webhook_events") == 0
    assert count(client, eki, "inbound_messages") == 0


async def test_without_auth_token_the_webhook_refuses(database_url: str,
                                                      twilio: FakeTwilioServer) -> None:
    app = await make_eki(settings_for(database_url, token=None), twilio)
    try:
        with serve(app) as client:
            response = post(client, tw.text_message(ANA, "hola"))
        assert (response.status_code, response.json()["error"]["code"]) == (
            503, "WEBHOOK_NOT_CONFIGURED")
    finally:
        await app.aclose()


async def test_each_webhook_answers_only_for_the_chosen_channel(
        database_url: str, twilio: FakeTwilioServer) -> None:
    meta_app = await make_eki(settings_for(database_url, channel="meta"), twilio)
    try:
        with serve(meta_app) as client:
            response = post(client, tw.text_message(ANA, "hola"))
        assert (response.status_code, response.json()["error"]["code"]) == (
            503, "CHANNEL_INACTIVE")
    finally:
        await meta_app.aclose()


def test_meta_webhook_refuses_while_twilio_is_chosen(client: TestClient) -> None:
    response = client.post("/webhooks/whatsapp", content=b"{}",
                           headers={"X-Hub-Signature-256": "sha256=00"})
    assert (response.status_code, response.json()["error"]["code"]) == (503, "CHANNEL_INACTIVE")


# -- idempotency and conversations --------------------------------------------------------------


def test_redelivery_and_concurrent_duplicates_are_answered_once(
        client: TestClient, eki: Eki, twilio: FakeTwilioServer) -> None:
    form = tw.text_message(ANA, "menú")
    results: list[int] = []

    def deliver() -> None:
        results.append(post(client, form).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 4
    assert post(client, form).status_code == 200  # a later retry by Twilio
    drain(client, eki)
    assert count(client, eki, "inbound_messages") == 1
    assert count(client, eki, "webhook_events") == 5
    assert len(twilio.messages) == 1


def test_media_and_button_replies_through_the_pipeline(client: TestClient, eki: Eki,
                                                       twilio: FakeTwilioServer) -> None:
    post(client, tw.media_message(ANA, "image/jpeg", caption="mis datos"))
    drain(client, eki)
    post(client, tw.media_message("573109999999", "audio/ogg"))  # unknown sender, voice note
    drain(client, eki)
    post(client, tw.button_reply(ANA, "Hablar con un asesor", "HUMANO"))
    drain(client, eki)
    bodies = [(m.wa_id, m.body) for m in twilio.messages]
    assert bodies[0][0] == ANA and "Ana María Pérez" in bodies[0][1]
    assert bodies[1][0] == "573109999999"
    assert bodies[2][0] == ANA
    stored = rows(client, eki, "SELECT type, mime_type, is_voice, payload, intent "
                               "FROM inbound_messages ORDER BY id")
    assert stored[0][:2] == ("image", "image/jpeg")
    assert stored[1][:3] == ("audio", "audio/ogg", True)
    assert stored[2][0] == "button" and stored[2][3] == "HUMANO"
    assert stored[2][4] == "humano"
    handoffs = client.get("/api/handoffs", headers={"Authorization": "Bearer admin"})
    assert [h["wa_id"] for h in handoffs.json()["items"]] == [ANA]


# -- statuses ---------------------------------------------------------------------------------


def outbound(client: TestClient, eki: Eki) -> tuple:  # type: ignore[type-arg]
    (row,) = rows(client, eki, "SELECT provider_id, status, error_code, channel "
                               "FROM outbound_messages")
    return row


def test_statuses_only_move_forward(client: TestClient, eki: Eki,
                                    twilio: FakeTwilioServer) -> None:
    post(client, tw.text_message(ANA, "hola"))
    drain(client, eki)
    (sent,) = twilio.messages
    assert outbound(client, eki) == (sent.sid, "sent", None, "twilio")
    for step in ("queued", "sent", "read"):
        assert status(client, twilio.status_callback_for(sent, step)).status_code == 200
    assert outbound(client, eki)[1] == "read"
    status(client, twilio.status_callback_for(sent, "delivered"))  # late: ignored
    status(client, twilio.status_callback_for(sent, "undelivered", error_code=63003))
    assert outbound(client, eki)[:3] == (sent.sid, "read", None)
    assert count(client, eki, "message_statuses") == 5  # every report is kept


def test_undelivered_before_delivery_fails_with_the_code(client: TestClient, eki: Eki,
                                                         twilio: FakeTwilioServer) -> None:
    post(client, tw.text_message(ANA, "hola"))
    drain(client, eki)
    (sent,) = twilio.messages
    status(client, twilio.status_callback_for(sent, "undelivered", error_code=63016))
    assert outbound(client, eki)[1:3] == ("failed", "63016")
    status(client, twilio.status_callback_for(sent, "read"))  # failed is final
    assert outbound(client, eki)[1] == "failed"
    history = client.get(f"/api/students/{ANA}/messages",
                         headers={"Authorization": "Bearer admin"}).json()["items"]
    assert history[0]["direction"] == "out" and history[0]["error_code"] == "63016"


def test_a_status_that_beats_the_sid_is_applied_when_it_is_recorded(
        client: TestClient, eki: Eki, twilio: FakeTwilioServer) -> None:
    twilio.then(tw.accepted(sid="SMearly"))
    post(client, tw.text_message(ANA, "hola"))
    # Twilio's callback can arrive before the dispatcher has stored the sid.
    status(client, tw.status_callback("SMearly", "delivered", to=ANA))
    drain(client, eki)
    assert outbound(client, eki)[:2] == ("SMearly", "delivered")


def test_status_posted_to_the_message_url_is_still_a_status(client: TestClient, eki: Eki,
                                                            twilio: FakeTwilioServer) -> None:
    post(client, tw.text_message(ANA, "hola"))
    drain(client, eki)
    (sent,) = twilio.messages
    post(client, twilio.status_callback_for(sent, "delivered"))  # one URL for both
    assert outbound(client, eki)[1] == "delivered"
    assert count(client, eki, "inbound_messages") == 1


def test_permanent_send_errors_are_recorded(client: TestClient, eki: Eki,
                                            twilio: FakeTwilioServer) -> None:
    twilio.then(tw.error(63016, "Outside the allowed window"))
    post(client, tw.text_message(ANA, "hola"))
    drain(client, eki)
    assert outbound(client, eki)[1:3] == ("failed", "63016")
    assert len(twilio.requests) == 1


# -- long replies ---------------------------------------------------------------------------------


class LongWinded:
    async def answer(self, turn: Turn, tools: StudentToolbox) -> AssistantReply:
        sentence = "Tu promedio en matemáticas es 4.2 y vas muy bien este periodo. "
        return AssistantReply(text=sentence * 60, intent="progress")


async def test_long_answers_are_split_to_twilio_size(database_url: str,
                                                     twilio: FakeTwilioServer) -> None:
    app = await make_eki(settings_for(database_url), twilio, assistant=LongWinded())
    try:
        with serve(app) as client:
            post(client, tw.text_message(ANA, "¿cómo voy?"))
            drain(client, app)
        bodies = [m.body for m in twilio.messages]
        assert len(bodies) >= 3
        assert all(len(body) <= 1600 for body in bodies)
        assert "".join(b.replace(" ", "") for b in bodies) == (
            "Tu promedio en matemáticas es 4.2 y vas muy bien este periodo." * 60
        ).replace(" ", "")
    finally:
        await app.aclose()
