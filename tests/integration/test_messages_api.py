"""``POST /api/students/{phone}/messages`` and ``…/handoff/take`` over SQLite and PostgreSQL:
202 queued, 409 outside the window, 422 for templates that cannot be sent, 400 for bad
bodies, and the take-over."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from eki_domain.model.messages import IncomingMessage, MessageType
from eki_domain.model.permissions import Principal
from eki_domain.model.templates import TemplateStatus
from eki_domain.services.staff import Caller
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app

TOKEN = "test-admin-token-for-the-messages-api"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WA_ID = "573001234567"
URL = f"/api/students/+{WA_ID}/messages"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, admin_token=Secret(TOKEN))
    with TestClient(create_app(settings)) as test_client:
        eki: Eki = test_client.app.state.eki  # type: ignore[attr-defined]
        cli = Caller(Principal.cli("test"))

        async def seed() -> None:
            await eki.registration.register("Ana María Pérez", WA_ID)
            await eki.templates.add(cli, "recordatorio", "es", "utility", "Hola {{1}}")
            await eki.templates.add(cli, "borrador", "es", "utility", "Hola",
                                    status=TemplateStatus.PENDING)

        test_client.portal.call(seed)  # type: ignore[union-attr]
        yield test_client


def _student_writes(client: TestClient, text: str = "hola") -> None:
    eki: Eki = client.app.state.eki  # type: ignore[attr-defined]

    async def write() -> None:
        await eki.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
            IncomingMessage(channel="meta", provider_id="wamid.API1", wa_id=WA_ID,
                            type=MessageType.TEXT, sent_at=eki.clock.now(), text=text)])

    client.portal.call(write)  # type: ignore[union-attr]


def test_free_text_outside_the_window_is_409(client: TestClient) -> None:
    response = client.post(URL, json={"text": "Hola Ana"}, headers=AUTH)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "WINDOW_CLOSED"


def test_free_text_inside_the_window_is_queued_and_takes_over(client: TestClient) -> None:
    _student_writes(client)
    response = client.post(URL, json={"text": "Hola Ana, soy la coordinadora."}, headers=AUTH)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["state"] == "queued" and isinstance(body["id"], int) and body["took_over"]
    handoffs = client.get("/api/handoffs", headers=AUTH).json()["items"]
    assert [h["wa_id"] for h in handoffs] == [WA_ID]
    history = client.get(URL, headers=AUTH).json()["items"]
    assert history[0]["text"] == "Hola Ana, soy la coordinadora."


def test_templates(client: TestClient) -> None:
    ok = client.post(URL, json={"template": "recordatorio", "language": "es",
                                "params": ["Ana"]}, headers=AUTH)
    assert ok.status_code == 202 and ok.json()["template"] == "recordatorio"
    unknown = client.post(URL, json={"template": "nada", "params": []}, headers=AUTH)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "TEMPLATE_NOT_FOUND")
    pending = client.post(URL, json={"template": "borrador"}, headers=AUTH)
    assert (pending.status_code, pending.json()["error"]["code"]) == (
        422, "TEMPLATE_NOT_APPROVED")
    wrong = client.post(URL, json={"template": "recordatorio", "params": []}, headers=AUTH)
    assert wrong.status_code == 422


@pytest.mark.parametrize("body", [b"", b"[]", b"{", b'{"text": 5}', b'{"text": "a", '
                                  b'"template": "b"}', b'{"template": "x", "params": [1]}',
                                  b"[" * 30_000 + b"]" * 30_000])  # too deep for json
def test_bad_bodies_are_400(client: TestClient, body: bytes) -> None:
    response = client.post(URL, content=body, headers={**AUTH,
                                                       "Content-Type": "application/json"})
    assert response.status_code == 400


def test_needs_the_token_and_a_known_student(client: TestClient) -> None:
    assert client.post(URL, json={"text": "x"}).status_code == 401
    missing = client.post("/api/students/+573009999999/messages", json={"text": "x"},
                          headers=AUTH)
    assert missing.status_code == 404


def test_take_assigns_the_conversation(client: TestClient) -> None:
    first = client.post(f"/api/students/+{WA_ID}/handoff/take", headers=AUTH)
    assert first.status_code == 200 and first.json()["opened"] is True
    again = client.post(f"/api/students/+{WA_ID}/handoff/take", headers=AUTH)
    assert again.json()["opened"] is False


def test_conversations_by_status(client: TestClient) -> None:
    assert client.get("/api/conversations", headers=AUTH).json() == {"items": []}
    _student_writes(client, "quiero hablar con un asesor")
    client.portal.call(client.app.state.eki.conversation.process_next)  # type: ignore[attr-defined,union-attr]
    [waiting] = client.get("/api/conversations?status=waiting", headers=AUTH).json()["items"]
    assert waiting["assigned_to"] is None and waiting["waiting_seconds"] >= 0
    client.post(URL, json={"text": "Hola, te atiendo."}, headers=AUTH)
    [item] = client.get("/api/conversations?status=assigned", headers=AUTH).json()["items"]
    assert item["assigned_to"] == "system" and item["wa_id"] == WA_ID
    assert 0 < item["window_left_seconds"] <= 24 * 3600
    assert client.get("/api/conversations?status=waiting", headers=AUTH).json()["items"] == []
    assert client.get("/api/conversations?status=x", headers=AUTH).status_code == 400
