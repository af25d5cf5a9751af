"""The WhatsApp pipeline end to end on SQLite and PostgreSQL: signed webhook → inbox →
conversation turn → outbox → channel, with redeliveries, crashes and status reports."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from eki_adapters.system import FixedClock
from eki_adapters.whatsapp import ConsoleChannel, MetaCloudChannel
from eki_domain.model.messages import DeliveryStatus
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app
from eki_entrypoints.worker import PipelineWorker
from eki_testing import meta
from eki_testing.graph import FakeGraphAPI, Reply, meta_error

SECRET = "app-secret"
VERIFY = "verify-me"
ADMIN = {"Authorization": "Bearer admin"}
ANA = "573001234567"


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, whatsapp_app_secret=Secret(SECRET),
                    whatsapp_verify_token=Secret(VERIFY), admin_token=Secret("admin"))


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await bootstrap(settings_for(database_url), clock=FixedClock(),
                          channel=ConsoleChannel(name="meta"))
    await app.registration.register("Ana María Pérez", ANA, tags=["grado 10"])
    yield app
    await app.aclose()


@pytest.fixture
def client(eki: Eki) -> Iterator[TestClient]:
    with TestClient(create_app(eki.settings, eki=eki)) as test_client:
        yield test_client


def post(client: TestClient, payload: dict, *, secret: str = SECRET, **headers: str):  # type: ignore[no-untyped-def]
    body = meta.encode(payload)
    return client.post("/webhooks/whatsapp", content=body, headers={
        "Content-Type": "application/json",
        "X-Hub-Signature-256": meta.sign(body, secret), **headers})


def drain(client: TestClient, eki: Eki) -> None:
    worker = PipelineWorker(eki)
    client.portal.call(worker.drain)  # type: ignore[union-attr]


def sent(eki: Eki) -> list[tuple[str, str, str | None]]:
    assert isinstance(eki.channel, ConsoleChannel)
    return eki.channel.sent


def count(client: TestClient, eki: Eki, table: str) -> int:
    async def run() -> int:
        assert eki.engine is not None
        async with eki.engine.connect() as conn:
            return int(await conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)

    return client.portal.call(run)  # type: ignore[union-attr]


# -- verification and refusals -----------------------------------------------------------


def test_verification_handshake(client: TestClient) -> None:
    ok = client.get("/webhooks/whatsapp", params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY, "hub.challenge": "1158201444"})
    assert ok.status_code == 200
    assert ok.text == "1158201444" and ok.headers["content-type"].startswith("text/plain")
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY, "hub.challenge": "1"},
                   {}):
        assert client.get("/webhooks/whatsapp", params=params).status_code == 403


def test_refusals_store_no_message_and_no_body(client: TestClient, eki: Eki) -> None:
    payload = meta.text_message(ANA, "hola")
    body = meta.encode(payload)
    missing = client.post("/webhooks/whatsapp", content=body)
    assert missing.status_code == 401
    forged = post(client, payload, secret="wrong")
    assert forged.status_code == 403
    not_json = client.post("/webhooks/whatsapp", content=b"{nope", headers={
        "X-Hub-Signature-256": meta.sign(b"{nope", SECRET)})
    assert not_json.status_code == 400
    big = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    too_big = client.post("/webhooks/whatsapp", content=big,
                          headers={"X-Hub-Signature-256": meta.sign(big, SECRET)})
    assert too_big.status_code == 413
    assert count(client, eki, "inbound_messages") == 0

    async def events() -> list[tuple[bool, str, str]]:
        assert eki.engine is not None
        async with eki.engine.connect() as conn:
            rows = await conn.execute(sa.text(
                "SELECT signature_ok, body, note FROM webhook_events ORDER BY id"))
            return [(bool(r[0]), r[1], r[2]) for r in rows]

    # The two signature failures are logged for the admin's webhook browser, bodyless.
    stored = client.portal.call(events)  # type: ignore[union-attr]
    assert [(ok, body) for ok, body, _ in stored] == [(False, ""), (False, "")]
    assert stored[0][2].startswith("sin firma") and "bytes" in stored[0][2]
    assert stored[1][2].startswith("firma inválida")


def test_without_app_secret_the_webhook_refuses(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    with TestClient(create_app(settings)) as client:
        response = post(client, meta.text_message(ANA, "hola"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "WEBHOOK_NOT_CONFIGURED"


# -- conversations -------------------------------------------------------------------------


def test_text_message_gets_one_answer(client: TestClient, eki: Eki) -> None:
    payload = meta.text_message(ANA, "hola 👋", name="Ana")
    assert post(client, payload).status_code == 200
    drain(client, eki)
    assert len(sent(eki)) == 1
    to, body, _ = sent(eki)[0]
    assert to == ANA and "Ana" in body
    assert eki.channel.read == [meta.wamid_of(payload)]  # type: ignore[attr-defined]


def test_unknown_sender_gets_a_polite_reply_that_reveals_nothing(client: TestClient,
                                                                 eki: Eki) -> None:
    post(client, meta.text_message("573109999999", "cuáles son mis notas"))
    drain(client, eki)
    [(to, body, _)] = sent(eki)
    assert to == "573109999999"
    assert "Ana" not in body and "regist" in body.lower()


def test_redelivery_and_concurrent_duplicates_are_answered_once(client: TestClient,
                                                                eki: Eki) -> None:
    payload = meta.text_message(ANA, "menú")
    results: list[int] = []

    def deliver() -> None:
        results.append(post(client, payload).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * 4
    assert post(client, payload).status_code == 200  # a later redelivery
    drain(client, eki)
    assert count(client, eki, "inbound_messages") == 1
    assert count(client, eki, "webhook_events") == 5
    assert len(sent(eki)) == 1


def test_batch_with_every_kind_of_message(client: TestClient, eki: Eki) -> None:
    other = "573151112233"
    payload = meta.batch(
        [meta.text_message(ANA, "hola"), meta.reaction_message(ANA, "wamid.X", "👍")],
        [meta.media_message("audio", other, voice=True),
         meta.status_update("wamid.unknown", "delivered", ANA)],
        [meta.field_change("account_update"), meta.custom_message(ANA, "hologram", {"x": 1})],
    )
    response = post(client, payload)
    assert response.status_code == 200
    assert count(client, eki, "inbound_messages") == 4
    assert count(client, eki, "message_statuses") == 1
    drain(client, eki)
    bodies = {to: body for to, body, _ in sent(eki)}
    assert set(bodies) == {ANA, other}  # Ana: one answer for her burst; the voice note: one


def test_burst_from_one_sender_is_answered_in_one_reply(client: TestClient, eki: Eki) -> None:
    post(client, meta.webhook(meta.text_message(ANA, "hola", timestamp=100),
                              meta.text_message(ANA, "cuáles son mis datos", timestamp=101)))
    drain(client, eki)
    assert len(sent(eki)) == 1
    assert "Ana María Pérez" in sent(eki)[0][1]


def test_opt_out_then_silence_then_opt_in(client: TestClient, eki: Eki) -> None:
    post(client, meta.text_message(ANA, "BAJA"))
    drain(client, eki)
    post(client, meta.text_message(ANA, "hola"))
    post(client, meta.text_message(ANA, "¿cómo voy?"))
    drain(client, eki)
    assert len(sent(eki)) == 1  # only the confirmation
    post(client, meta.text_message(ANA, "ALTA"))
    drain(client, eki)
    post(client, meta.text_message(ANA, "hola"))
    drain(client, eki)
    assert len(sent(eki)) == 3


def test_handoff_pauses_the_bot_until_released(client: TestClient, eki: Eki) -> None:
    post(client, meta.text_message(ANA, "quiero hablar con un asesor"))
    drain(client, eki)
    post(client, meta.text_message(ANA, "hola?"))
    drain(client, eki)
    assert len(sent(eki)) == 1
    handoffs = client.get("/api/handoffs", headers=ADMIN).json()["items"]
    assert len(handoffs) == 1 and handoffs[0]["wa_id"] == ANA
    released = client.post(f"/api/students/{ANA}/handoff/release", headers=ADMIN)
    assert released.json()["released"] is True
    post(client, meta.text_message(ANA, "hola"))
    drain(client, eki)
    assert len(sent(eki)) == 2


def test_reactions_and_number_changes_get_no_reply(client: TestClient, eki: Eki) -> None:
    post(client, meta.reaction_message(ANA, "wamid.X", "❤️"))
    post(client, meta.user_changed_number(ANA, "573009998877"))
    drain(client, eki)
    assert sent(eki) == []

    async def flagged() -> str | None:
        student = await eki.registration.find(ANA)
        return student.new_wa_id

    assert client.portal.call(flagged) == "573009998877"  # type: ignore[union-attr]


def test_media_with_caption_uses_the_caption(client: TestClient, eki: Eki) -> None:
    post(client, meta.media_message("image", ANA, caption="mis datos"))
    post(client, meta.media_message("sticker", "573109999999"))
    drain(client, eki)
    bodies = {to: body for to, body, _ in sent(eki)}
    assert "Ana María Pérez" in bodies[ANA]
    assert bodies["573109999999"]


def test_history_api_newest_first(client: TestClient, eki: Eki) -> None:
    post(client, meta.text_message(ANA, "hola", timestamp=100))
    drain(client, eki)
    eki.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    post(client, meta.text_message(ANA, "mis datos", timestamp=200))
    drain(client, eki)
    page = client.get(f"/api/students/{ANA}/messages?limit=3", headers=ADMIN).json()
    assert page["total"] == 4 and page["has_more"]
    directions = [(item["direction"], item["text"][:9]) for item in page["items"]]
    assert directions[0][0] == "out" and directions[1] == ("in", "mis datos")
    assert page["items"][0]["state"] == "sent"
    assert client.get(f"/api/students/{ANA}/messages").status_code == 401


# -- statuses --------------------------------------------------------------------------------


def test_statuses_only_move_forward(client: TestClient, eki: Eki) -> None:
    post(client, meta.text_message(ANA, "hola"))
    drain(client, eki)

    async def outbound() -> tuple[str, str]:
        assert eki.engine is not None
        async with eki.engine.connect() as conn:
            row = (await conn.execute(sa.text(
                "SELECT provider_id, status FROM outbound_messages"))).one()
        return str(row[0]), str(row[1])

    provider_id, status = client.portal.call(outbound)  # type: ignore[union-attr]
    assert status == "sent"
    post(client, meta.status_update(provider_id, "read", ANA))
    post(client, meta.status_update(provider_id, "delivered", ANA))  # late: ignored
    assert client.portal.call(outbound)[1] == "read"  # type: ignore[union-attr]
    post(client, meta.status_update(provider_id, "failed", ANA, error_code=131026))
    assert client.portal.call(outbound)[1] == "read"  # type: ignore[union-attr]


async def test_status_before_the_id_is_recorded_is_applied_later(eki: Eki) -> None:
    from eki_domain.model.messages import OutboundMessage, StatusReport

    now = eki.clock.now()
    async with eki.uow() as uow:
        row_id = await uow.outbox.enqueue(OutboundMessage(to=ANA, body="x", created_at=now))
        await uow.commit()
    async with eki.uow() as uow:
        [claimed] = await uow.outbox.claim_due(now, timedelta(seconds=60), 10)
        assert claimed.id == row_id
        await uow.outbox.apply_status(StatusReport("meta", "wamid.EARLY", DeliveryStatus.DELIVERED,
                                                   now), now)
        await uow.outbox.mark_sent(row_id, "wamid.EARLY", now)
        await uow.commit()
    async with eki.uow() as uow:
        stored = await uow.outbox.get(row_id)
    assert stored is not None and stored.status is DeliveryStatus.DELIVERED


# -- crashes ---------------------------------------------------------------------------------


async def test_a_worker_killed_mid_turn_is_answered_once_after_restart(eki: Eki) -> None:
    clock = eki.clock
    assert isinstance(clock, FixedClock)
    message = meta.text_message(ANA, "hola")
    from eki_adapters.whatsapp import parse_meta_webhook

    parsed = parse_meta_webhook(message)
    await eki.ingest.ingest(channel="meta", body="{}", messages=parsed.messages, statuses=())
    async with eki.uow() as uow:  # a worker claims the message, then dies
        batch = await uow.inbox.claim(clock.now(), timedelta(seconds=120))
        await uow.commit()
    assert batch is not None
    worker = PipelineWorker(eki)
    await worker.drain()
    assert sent(eki) == []  # the lease is still held: nobody answers twice
    clock.advance(timedelta(seconds=121))
    await worker.drain()
    assert len(sent(eki)) == 1
    # The dead worker wakes up and tries to finish: its claim is gone.
    result = await eki.conversation.handle(batch)
    assert result.completed is False
    await worker.drain()
    assert len(sent(eki)) == 1


async def test_a_failing_assistant_is_retried_then_recorded(eki: Eki) -> None:
    from eki_adapters.whatsapp import parse_meta_webhook

    class Broken:
        calls = 0

        async def answer(self, turn, tools):  # type: ignore[no-untyped-def]
            Broken.calls += 1
            raise RuntimeError("model exploded")

    from eki_domain.services.conversation import ConversationService

    service = ConversationService(eki.uow, eki.clock, Broken(), eki.tools_for)
    parsed = parse_meta_webhook(meta.text_message(ANA, "mis datos"))
    await eki.ingest.ingest(channel="meta", body="{}", messages=parsed.messages, statuses=())
    with pytest.raises(RuntimeError):
        await service.process_next()
    assert await service.process_next() is None  # released for a later retry, not lost
    eki.clock.advance(timedelta(seconds=6))  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        await service.process_next()
    assert Broken.calls == 2


# -- the real Graph API shape over HTTP -------------------------------------------------------


async def test_dispatcher_retries_500_and_429_then_sends_once(database_url: str,
                                                              graph: FakeGraphAPI) -> None:
    graph.then(Reply(500, b"oops"), Reply(429, meta_error(130429, "slow down")),
               Reply(200, {"messages": [{"id": "wamid.FINAL"}]}))
    channel = MetaCloudChannel(graph.url, "1234", "token", backoff_initial=0.01,
                               backoff_max=0.02)
    app = await bootstrap(settings_for(database_url), clock=FixedClock(), channel=channel)
    try:
        await app.registration.register("Ana", ANA)
        from eki_adapters.whatsapp import parse_meta_webhook

        payload = meta.text_message(ANA, "hola", context_id="wamid.PREVIOUS")
        parsed = parse_meta_webhook(payload)
        await app.ingest.ingest(channel="meta", body="{}", messages=parsed.messages,
                                statuses=())
        await PipelineWorker(app).drain()
        sends = [r for r in graph.requests if r.json.get("type") == "text"]
        assert len(sends) == 3
        assert sends[-1].json["to"] == ANA
        assert sends[-1].json["context"] == {"message_id": meta.wamid_of(payload)}
        reads = [r for r in graph.requests if r.json.get("status") == "read"]
        assert [r.json["message_id"] for r in reads] == [meta.wamid_of(payload)]
        async with app.uow() as uow:
            depth = await uow.outbox.depth(app.clock.now())
            stored = await uow.outbox.get(1) if app.engine is None else None
        assert depth[0] == 0 and stored is None
        assert app.engine is not None
        async with app.engine.connect() as conn:
            row = (await conn.execute(sa.text(
                "SELECT status, provider_id, attempts FROM outbound_messages"))).one()
        assert tuple(row) == ("sent", "wamid.FINAL", 1)
    finally:
        await app.aclose()


async def test_permanent_errors_are_recorded_not_retried(database_url: str,
                                                         graph: FakeGraphAPI) -> None:
    graph.then(Reply(400, meta_error(131047, "Re-engagement message")))
    channel = MetaCloudChannel(graph.url, "1234", "token", backoff_initial=0.01)
    app = await bootstrap(settings_for(database_url), clock=FixedClock(), channel=channel)
    try:
        from eki_adapters.whatsapp import parse_meta_webhook

        parsed = parse_meta_webhook(meta.text_message(ANA, "hola"))
        await app.ingest.ingest(channel="meta", body="{}", messages=parsed.messages,
                                statuses=())
        await PipelineWorker(app).drain()
        assert len([r for r in graph.requests if r.json.get("type") == "text"]) == 1
        assert app.engine is not None
        async with app.engine.connect() as conn:
            row = (await conn.execute(sa.text(
                "SELECT status, error_code FROM outbound_messages"))).one()
        assert tuple(row) == ("failed", "131047")
    finally:
        await app.aclose()


async def test_running_worker_answers_without_being_asked(database_url: str) -> None:
    app = await bootstrap(settings_for(database_url), channel=ConsoleChannel(name="meta"))
    try:
        await app.registration.register("Ana", ANA)
        worker = PipelineWorker(app, concurrency=4, poll_interval=0.05)
        await worker.start()
        from eki_adapters.whatsapp import parse_meta_webhook

        parsed = parse_meta_webhook(meta.text_message(ANA, "hola"))
        await app.ingest.ingest(channel="meta", body="{}", messages=parsed.messages,
                                statuses=())
        worker.wake()
        async with asyncio.timeout(10):
            while not sent(app):  # noqa: ASYNC110 - polling the channel's record is the point
                await asyncio.sleep(0.02)
        await worker.stop()
        assert len(sent(app)) == 1
    finally:
        await app.aclose()


def test_history_json_shape_is_stable(client: TestClient, eki: Eki) -> None:
    post(client, meta.text_message(ANA, "hola"))
    drain(client, eki)
    item = client.get(f"/api/students/{ANA}/messages", headers=ADMIN).json()["items"][0]
    assert set(item) == {"direction", "at", "text", "type", "state", "provider_id",
                         "error_code", "intent"}
    assert json.dumps(item)


async def test_worker_finds_messages_stored_by_another_process(database_url: str) -> None:
    """No wake-up (the webhook ran elsewhere): the poller still gets the backlog answered,
    and the runners fan out over it."""
    app = await bootstrap(settings_for(database_url), channel=ConsoleChannel(name="meta"))
    try:
        from eki_adapters.whatsapp import parse_meta_webhook

        senders = [f"5730099900{i:02d}" for i in range(12)]
        for sender in senders:
            parsed = parse_meta_webhook(meta.text_message(sender, "hola"))
            await app.ingest.ingest(channel="meta", body="{}", messages=parsed.messages,
                                    statuses=())
        worker = PipelineWorker(app, concurrency=4, poll_interval=0.05)
        await worker.start()
        async with asyncio.timeout(15):
            while len(sent(app)) < len(senders):  # noqa: ASYNC110 - polling the record
                await asyncio.sleep(0.02)
        await worker.stop()
        assert sorted(to for to, _, _ in sent(app)) == sorted(senders)
    finally:
        await app.aclose()
