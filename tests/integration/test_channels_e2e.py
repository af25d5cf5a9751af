"""One conversation, run unchanged over each WhatsApp provider (Meta, Twilio) on SQLite
and PostgreSQL: signed webhook → inbox → worker → outbox → the provider's fake HTTP API
→ status callbacks. Only the :class:`Provider` adapters below differ."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from eki_adapters.system import FixedClock
from eki_adapters.twilio import TwilioChannel
from eki_adapters.whatsapp import MetaCloudChannel
from eki_domain.ports.channel import MessageChannel
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app
from eki_entrypoints.worker import PipelineWorker
from eki_testing import meta
from eki_testing import twilio as tw
from eki_testing.graph import FakeGraphAPI as GraphStub
from eki_testing.http import Reply
from eki_testing.twilio import FakeTwilioServer

ANA = "573001234567"
STRANGER = "573109999999"
ADMIN = {"Authorization": "Bearer admin"}
PUBLIC = "https://eki.colegio.edu.co"


class Provider(Protocol):
    name: str

    def settings(self, database_url: str) -> Settings: ...
    def channel(self) -> MessageChannel: ...
    def post_text(self, client: TestClient, wa_id: str, text: str) -> int: ...
    def post_status(self, client: TestClient, provider_id: str, status: str,
                    to: str, error_code: int | None = None) -> int: ...
    def sends(self) -> list[tuple[str, str, str]]: ...  # (to wa_id, body, provider id)
    def fail_next_send(self) -> None: ...


class MetaProvider:
    name = "meta"
    secret = "app-secret"

    def __init__(self, graph: GraphStub) -> None:
        self.graph = graph
        self.failed: set[int] = set()  # indexes of requests answered with a failure

    def settings(self, database_url: str) -> Settings:
        return Settings(database_url=database_url, channel="meta", production=True,
                        whatsapp_app_secret=Secret(self.secret),
                        whatsapp_verify_token=Secret("verify"),
                        whatsapp_access_token=Secret("token"), whatsapp_phone_number_id="1234",
                        whatsapp_api_url=self.graph.url, admin_token=Secret("admin"))

    def channel(self) -> MessageChannel:
        return MetaCloudChannel(self.graph.url, "1234", "token", backoff_initial=0.01,
                                backoff_max=0.02)

    def _post(self, client: TestClient, payload: dict[str, Any]) -> int:
        body = meta.encode(payload)
        return client.post("/webhooks/whatsapp", content=body, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": meta.sign(body, self.secret)}).status_code

    def post_text(self, client: TestClient, wa_id: str, text: str) -> int:
        return self._post(client, meta.text_message(wa_id, text))

    def post_status(self, client: TestClient, provider_id: str, status: str, to: str,
                    error_code: int | None = None) -> int:
        return self._post(client, meta.status_update(provider_id, status, to,
                                                     error_code=error_code))

    def sends(self) -> list[tuple[str, str, str]]:
        out = []
        for index, seen in enumerate(self.graph.requests, start=1):
            data = seen.json
            if data.get("type") == "text" and index - 1 not in self.failed:
                out.append((data["to"], data["text"]["body"], f"wamid.OK{index}"))
        return out

    def fail_next_send(self) -> None:
        self.failed.add(len(self.graph.requests))  # the next request is the next send
        self.graph.then(Reply(503, b"unavailable"))


class TwilioProvider:
    name = "twilio"

    def __init__(self, server: FakeTwilioServer) -> None:
        self.server = server

    def settings(self, database_url: str) -> Settings:
        return Settings(database_url=database_url, channel="twilio", production=True,
                        twilio_account_sid=tw.ACCOUNT_SID,
                        twilio_auth_token=Secret(tw.AUTH_TOKEN), twilio_from=tw.FROM,
                        twilio_api_url=self.server.url, public_url=PUBLIC,
                        admin_token=Secret("admin"))

    def channel(self) -> MessageChannel:
        return TwilioChannel(tw.ACCOUNT_SID, tw.AUTH_TOKEN, tw.FROM, api_url=self.server.url,
                             status_callback=f"{PUBLIC}/webhooks/twilio/status",
                             backoff_initial=0.01, backoff_max=0.02)

    def _post(self, client: TestClient, path: str, form: dict[str, str]) -> int:
        request = tw.signed_post(form, url=f"http://testserver{path}", signed_url=PUBLIC + path)
        return client.post(request.path, content=request.body,
                           headers=request.headers).status_code

    def post_text(self, client: TestClient, wa_id: str, text: str) -> int:
        return self._post(client, "/webhooks/twilio", tw.text_message(wa_id, text, name="Ana"))

    def post_status(self, client: TestClient, provider_id: str, status: str, to: str,
                    error_code: int | None = None) -> int:
        return self._post(client, "/webhooks/twilio/status",
                          tw.status_callback(provider_id, status, to=to,
                                             error_code=error_code))

    def sends(self) -> list[tuple[str, str, str]]:
        return [(m.wa_id, m.body, m.sid) for m in self.server.messages]

    def fail_next_send(self) -> None:
        self.server.then(tw.server_error(503))


@pytest.fixture(params=["meta", "twilio"])
def provider(request: pytest.FixtureRequest) -> Provider:
    if request.param == "meta":
        return MetaProvider(request.getfixturevalue("graph"))
    return TwilioProvider(request.getfixturevalue("twilio"))


@pytest.fixture
async def eki(database_url: str, provider: Provider) -> AsyncIterator[Eki]:
    # The channel comes from the provider (not bootstrap's build_channel) only to get
    # test-sized backoffs; everything else is wired by bootstrap from the settings.
    app = await bootstrap(provider.settings(database_url), clock=FixedClock(),
                          channel=provider.channel())
    await app.registration.register("Ana María Pérez", ANA, tags=["grado 10"])
    yield app
    await app.aclose()


@pytest.fixture
def client(eki: Eki) -> Iterator[TestClient]:
    with TestClient(create_app(eki.settings, eki=eki)) as test_client, \
            contextlib.ExitStack() as stack:
        stack.callback(test_client.portal.call, eki.channel.aclose)  # type: ignore[attr-defined, union-attr]
        yield test_client


def drain(client: TestClient, eki: Eki) -> None:
    client.portal.call(PipelineWorker(eki).drain)  # type: ignore[union-attr]


def query(client: TestClient, eki: Eki, sql: str) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        assert eki.engine is not None
        async with eki.engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(sa.text(sql))).all()]

    return client.portal.call(run)  # type: ignore[union-attr, no-any-return]


def test_one_conversation_over_each_provider(provider: Provider, client: TestClient,
                                            eki: Eki) -> None:
    # 1. A registered student says hello: one answer, by name, to her WhatsApp id.
    assert provider.post_text(client, ANA, "hola 👋") == 200
    drain(client, eki)
    [(to, body, first_id)] = provider.sends()
    assert to == ANA and "Ana" in body

    # 2. An unknown number gets a polite answer that reveals nothing.
    provider.post_text(client, STRANGER, "cuáles son mis notas")
    drain(client, eki)
    to, body, _ = provider.sends()[-1]
    assert to == STRANGER and "Ana" not in body and "regist" in body.lower()

    # 3. A burst is answered once; a transient provider failure is retried, not lost.
    provider.fail_next_send()
    provider.post_text(client, ANA, "hola")
    provider.post_text(client, ANA, "cuáles son mis datos")
    drain(client, eki)
    assert len(provider.sends()) == 3
    assert "Ana María Pérez" in provider.sends()[-1][1]

    # 4. Opt-out, silence, opt-in.
    provider.post_text(client, ANA, "BAJA")
    drain(client, eki)
    provider.post_text(client, ANA, "hola")
    drain(client, eki)
    provider.post_text(client, ANA, "ALTA")
    drain(client, eki)
    assert len(provider.sends()) == 5  # the two confirmations, nothing for "hola"

    # 5. Delivery reports only move the first reply forward.
    for status in ("delivered", "read", "delivered"):
        assert provider.post_status(client, first_id, status, ANA) == 200
    assert provider.post_status(client, first_id, "failed", ANA, error_code=131026) == 200
    assert query(client, eki, "SELECT status FROM outbound_messages WHERE provider_id = '"
                 + first_id + "'") == [("read",)]

    # 6. Everything went through the same tables, labelled with the provider.
    assert query(client, eki, "SELECT DISTINCT channel FROM inbound_messages") == [
        (provider.name,)]
    assert query(client, eki, "SELECT DISTINCT channel FROM outbound_messages") == [
        (provider.name,)]
    assert query(client, eki, "SELECT count(*) FROM inbound_messages") == [(7,)]
    assert query(client, eki, "SELECT status, count(*) FROM outbound_messages "
                              "GROUP BY status ORDER BY status") == [("read", 1), ("sent", 4)]
    history = client.get(f"/api/students/{ANA}/messages?limit=50", headers=ADMIN).json()
    assert history["total"] == 6 + 4  # Ana's 6 messages, 4 replies to her
    assert {item["direction"] for item in history["items"]} == {"in", "out"}
