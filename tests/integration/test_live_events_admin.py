"""``GET /admin/events`` for the staff screens (the admin session, Starlette's TestClient
streaming): a teacher's stream carries her students' events only; no session → the sign-in
page; a viewer → 403; ``live.js`` is served from the package under the strict CSP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from eki_adapters.sql.live import PostgresLiveFeed
from eki_domain.model.live import LiveEvent, LiveEventType
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_entrypoints.bootstrap import Eki
from tests.integration.staff_web_support import (
    TOKEN,
    add_accounts,
    client_for,
    make_eki,
    sign_in,
)

ANA, BRUNO = "573001234567", "573009876543"


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await make_eki(database_url, events_keepalive_seconds=1)
    yield app
    await app.aclose()


def _data_lines(response: Any, wanted: int, within: float = 5.0) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + within
    for line in response.iter_lines():  # keep-alives every second keep this loop going
        if line.startswith("data: "):
            found.append(json.loads(line[len("data: "):]))
        if len(found) >= wanted or time.monotonic() > deadline:
            break
    return found


def test_a_teacher_watches_her_students_only(eki: Eki) -> None:
    with client_for(eki) as client:
        async def seed() -> dict[str, str]:
            await eki.registration.register("Ana María Pérez", ANA, tags=["grado 10"])
            await eki.registration.register("Bruno Díaz", BRUNO, tags=["grado 11"])
            return await add_accounts(eki)

        emails = client.portal.call(seed)  # type: ignore[union-attr]
        sign_in(client, emails["teacher"])

        async def write(*wa_ids: str) -> None:
            await eki.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
                IncomingMessage(channel="meta", provider_id=f"wamid.{wa_id}", wa_id=wa_id,
                                type=MessageType.TEXT, sent_at=eki.clock.now(), text="hola")
                for wa_id in wa_ids])

        with client.stream("GET", "/admin/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-store"
            assert "default-src 'self'" in response.headers["content-security-policy"]
            client.portal.call(write, BRUNO, ANA)  # type: ignore[union-attr]
            assert len(eki.live.feed.hub) == 1  # type: ignore[attr-defined]
            (event,) = _data_lines(response, 1)
        # the client went away: the subscription and the stream's slot are given back
        deadline = time.monotonic() + 5
        while len(eki.live.feed.hub) and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.02)
        assert len(eki.live.feed.hub) == 0  # type: ignore[attr-defined]
        assert client.app.state.event_streams.open == 0  # type: ignore[attr-defined]
        assert event["type"] == "message.received" and event["phone"] == "+" + ANA
        assert "tags" not in event


def test_no_session_and_viewers_are_refused(eki: Eki) -> None:
    with client_for(eki) as client:
        emails = client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        anonymous = client.get("/admin/events", follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/admin/login?next=")
        sign_in(client, emails["viewer"])
        assert client.get("/admin/events", follow_redirects=False).status_code == 403
    assert len(eki.live.feed.hub) == 0  # type: ignore[attr-defined]  # nothing subscribed


def test_live_js_is_served_from_the_package(eki: Eki) -> None:
    with client_for(eki) as client:
        script = client.get("/admin/static/live.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "window.EkiLive" in script.text and "/admin/events" in script.text
    assert "script-src 'self'" in script.headers["content-security-policy"]
    assert "unsafe-inline" not in script.headers["content-security-policy"].split(
        "script-src")[1].split(";")[0]



def test_head_answers_the_headers_without_a_stream(eki: Eki) -> None:
    with client_for(eki) as client:
        head = client.head("/api/events", headers={"Authorization": "Bearer " + TOKEN})
        assert head.status_code == 200
        assert head.headers["content-type"].startswith("text/event-stream")
        assert client.app.state.event_streams.open == 0  # type: ignore[attr-defined]


def test_an_integrator_filters_by_type_and_phone(eki: Eki) -> None:
    auth = {"Authorization": "Bearer " + TOKEN}
    with client_for(eki) as client:
        for bad in ("types=message.nope", "types=", "phone=12", "phone=" + "9" * 70):
            refused = client.get("/api/events?" + bad, headers=auth)
            assert refused.status_code == 400, bad
            assert refused.json()["error"]["code"] == "BAD_FILTER"

        async def happen() -> None:  # as soon as the stream answered (no waiting here)
            at = eki.clock.now()
            await eki.live.feed.publish([
                LiveEvent(type=LiveEventType.HANDOFF_OPENED, phone="+" + BRUNO, at=at),
                LiveEvent(type=LiveEventType.MESSAGE_STATUS, phone="+" + ANA, at=at,
                          extra={"status": "read", "outbound_id": 1}),
                LiveEvent(type=LiveEventType.HANDOFF_OPENED, phone="+" + ANA, at=at)])

        with client.stream("GET", "/api/events?types=handoff.opened,handoff.taken"
                           "&phone=300%20123%204567", headers=auth) as response:
            assert response.status_code == 200
            client.portal.call(happen)  # type: ignore[union-attr]
            (event,) = _data_lines(response, 1)
        assert (event["type"], event["phone"]) == ("handoff.opened", "+" + ANA)


@pytest.fixture
async def postgres_eki(postgres_url: str) -> AsyncIterator[Eki]:
    app = await make_eki(postgres_url, events_keepalive_seconds=1)
    yield app
    await app.aclose()


@pytest.mark.postgres
def test_a_stream_hears_what_is_published_once_it_answered(
        postgres_eki: Eki, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first stream of a process answers once its LISTEN is up, even when opening that
    connection is slow (0.5 s here): an event published right after the answer is heard."""
    eki = postgres_eki
    listen = PostgresLiveFeed._listen

    async def slowly(self: PostgresLiveFeed) -> None:
        await asyncio.sleep(0.5)
        await listen(self)

    monkeypatch.setattr(PostgresLiveFeed, "_listen", slowly)

    async def happen() -> None:
        await eki.live.feed.publish([LiveEvent(type=LiveEventType.HANDOFF_OPENED,
                                               phone="+" + ANA, at=eki.clock.now())])

    with client_for(eki) as client, client.stream(
            "GET", "/api/events", headers={"Authorization": "Bearer " + TOKEN}) as response:
        assert response.status_code == 200
        client.portal.call(happen)  # type: ignore[union-attr]
        (event,) = _data_lines(response, 1)
    assert (event["type"], event["phone"]) == ("handoff.opened", "+" + ANA)
