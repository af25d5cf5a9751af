"""``GET /api/events`` and ``GET /admin/events`` over real HTTP (a uvicorn server on a free
port), on SQLite (in process) and PostgreSQL (NOTIFY): a signed webhook's message and a
delivery report reach the stream as ``message.received`` and ``message.status``; a teacher
receives only the events of their students; the stream limit answers 503."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import attrs
import httpx2
import pytest
import uvicorn

from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.messages import OutboundMessage
from eki_domain.model.permissions import Principal
from eki_domain.services.staff import Caller
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app
from eki_testing import meta
from tests.integration.processes import free_port

TOKEN = "live-events-shared-admin-token-0123456789"
APP_SECRET = "live-events-app-secret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ANA, BRUNO = "573001234567", "573009876543"
CLI = Caller(Principal.cli("pruebas"))


@attrs.define
class Served:
    eki: Eki
    base: str
    server: uvicorn.Server


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[Served]:
    settings = attrs.evolve(
        Settings(database_url=database_url, admin_token=Secret(TOKEN),
                 whatsapp_app_secret=Secret(APP_SECRET)),
        rate_limit_api=0, events_max_streams=3, events_keepalive_seconds=1)
    eki = await bootstrap(settings, channel=ConsoleChannel(name="meta"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, eki=eki), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    try:
        yield Served(eki, f"http://127.0.0.1:{port}", server)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        await eki.aclose()


class Stream:
    """The events of one open SSE response, read in the background."""

    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.raw: list[str] = []
        self.started = asyncio.Event()  # the first line was read
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for line in self.response.aiter_lines():
            self.raw.append(line)
            self.started.set()
            if line.startswith("data: "):
                await self.events.put(json.loads(line[len("data: "):]))

    async def next(self, wait: float = 2.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.events.get(), wait)

    async def expect(self, type_: str, within: float = 2.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            event = await self.next(max(0.01, deadline - time.monotonic()))
            if event["type"] == type_:
                return event

    def close(self) -> None:
        self._task.cancel()


async def _open(http: httpx2.AsyncClient, served: Served, headers: dict[str, str]
                ) -> tuple[Any, Stream]:
    manager = http.stream("GET", f"{served.base}/api/events", headers=headers)
    response = await manager.__aenter__()
    assert response.status_code == 200, await response.aread()
    assert response.headers["content-type"].startswith("text/event-stream")
    stream = Stream(response)
    # The headers came once the feed hears new events (on PostgreSQL: the process LISTENs).
    await asyncio.wait_for(stream.started.wait(), 5)
    return manager, stream


async def _post_webhook(http: httpx2.AsyncClient, base: str, payload: dict[str, Any]) -> None:
    body = meta.encode(payload)
    response = await http.post(f"{base}/webhooks/whatsapp", content=body,
                               headers=meta.signed_headers(body, APP_SECRET))
    assert response.status_code == 200, response.text


async def test_webhook_message_and_status_reach_the_api_stream(served: Served) -> None:
    eki = served.eki
    ana = await eki.registration.register("Ana María Pérez", ANA, tags=["grado 10"])
    assert ana.id is not None
    async with httpx2.AsyncClient(timeout=10) as http:
        manager, stream = await _open(http, served, AUTH)
        try:
            assert stream.raw[0].startswith("retry: ")
            started = time.monotonic()
            await _post_webhook(http, served.base, meta.text_message(ANA, "hola"))
            received = await stream.expect("message.received")
            assert time.monotonic() - started < 2
            assert received["phone"] == "+" + ANA and received["student_id"] == ana.id
            assert received["channel"] == "meta" and "tags" not in received
            assert "hola" not in json.dumps(received)  # never the message text
            assert received["at"].endswith("+00:00")

            now = eki.clock.now()
            async with eki.uow() as uow:
                outbound_id = await uow.outbox.enqueue(OutboundMessage(
                    to=ANA, body="Hola Ana", created_at=now, student_id=ana.id))
                await uow.outbox.claim_due(now, timedelta(seconds=60), 10)
                await uow.outbox.mark_sent(outbound_id, "wamid.LIVE-OUT-1", now)
                await uow.commit()
            await _post_webhook(http, served.base,
                                meta.status_update("wamid.LIVE-OUT-1", "delivered", ANA))
            status = await stream.expect("message.status")
            assert status == {"type": "message.status", "phone": "+" + ANA,
                              "at": status["at"], "student_id": ana.id,
                              "outbound_id": outbound_id, "status": "delivered"}
            # a redelivered report moves nothing: no event
            await _post_webhook(http, served.base,
                                meta.status_update("wamid.LIVE-OUT-1", "delivered", ANA))
            with pytest.raises(TimeoutError):
                await stream.next(wait=1.0)
            assert any(line == ": keep-alive" for line in stream.raw)
        finally:
            stream.close()
            await manager.__aexit__(None, None, None)


async def test_a_teacher_receives_only_her_students_events(served: Served) -> None:
    eki = served.eki
    await eki.registration.register("Ana María Pérez", ANA, tags=["grado 10"])
    bruno = await eki.registration.register("Bruno Díaz", BRUNO, tags=["grado 11"])
    await eki.staff.add(CLI, "profe10@colegio.edu.co", "Paula Profe", "teacher",
                        tags=("grado 10",))
    await eki.staff.add(CLI, "mira@colegio.edu.co", "Victor Mira", "viewer")
    teacher = (await eki.staff.create_token(CLI, "profe10@colegio.edu.co", "live")).secret
    viewer = (await eki.staff.create_token(CLI, "mira@colegio.edu.co", "live")).secret
    async with httpx2.AsyncClient(timeout=10) as http:
        refused = await http.get(f"{served.base}/api/events",
                                 headers={"Authorization": f"Bearer {viewer}"})
        assert refused.status_code == 403
        nobody = await http.get(f"{served.base}/api/events")
        assert nobody.status_code == 401
        manager, stream = await _open(http, served, {"Authorization": f"Bearer {teacher}"})
        admin_manager, admin_stream = await _open(http, served, AUTH)
        try:
            await _post_webhook(http, served.base, meta.text_message(BRUNO, "hola"))
            await _post_webhook(http, served.base, meta.text_message(ANA, "hola"))
            await _post_webhook(http, served.base, meta.text_message("573005550000", "?"))
            seen = [await admin_stream.expect("message.received") for _ in range(3)]
            assert [e["phone"] for e in seen] == ["+" + BRUNO, "+" + ANA, "+573005550000"]
            assert seen[0]["student_id"] == bruno.id and seen[2]["student_id"] is None
            mine = await stream.expect("message.received")
            assert mine["phone"] == "+" + ANA
            with pytest.raises(TimeoutError):  # neither Bruno's nor the stranger's
                await stream.expect("message.received", within=1.0)
        finally:
            stream.close()
            admin_stream.close()
            await manager.__aexit__(None, None, None)
            await admin_manager.__aexit__(None, None, None)


async def test_streams_are_bounded_and_released(served: Served) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        opened = [await _open(http, served, AUTH) for _ in range(3)]
        refused = await http.get(f"{served.base}/api/events", headers=AUTH)
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "TOO_MANY_STREAMS"
        assert refused.headers["retry-after"] == "30"
        manager, stream = opened.pop()
        stream.close()
        await manager.__aexit__(None, None, None)  # the client goes away: its slot is free
        for _ in range(100):
            again = http.stream("GET", f"{served.base}/api/events", headers=AUTH)
            response = await again.__aenter__()
            status = response.status_code
            await again.__aexit__(None, None, None)
            if status == 200:
                break
            await asyncio.sleep(0.05)
        assert status == 200
        for manager, stream in opened:
            stream.close()
            await manager.__aexit__(None, None, None)
