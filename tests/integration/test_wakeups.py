"""PostgreSQL LISTEN/NOTIFY: a worker in another process answers at once when a webhook
stores a message, instead of at its next poll."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings
from eki_entrypoints.worker import PipelineWorker
from tests.conftest import ADMIN_URL, _conninfo, _migrate

pytestmark = pytest.mark.postgres


@pytest.fixture
async def own_database(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own: the worker must find nothing but this test's message."""
    name = f"eki_wake_{secrets.token_hex(4)}"
    with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        await _migrate(url)
        yield url
    finally:
        with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _app(url: str) -> Eki:
    return await bootstrap(Settings(database_url=url), channel=ConsoleChannel(name="meta"))


async def test_a_stored_message_wakes_a_worker_of_another_process(own_database: str) -> None:
    web, work = await _app(own_database), await _app(own_database)  # two "processes"
    worker = PipelineWorker(work, poll_interval=60)  # only a notification can wake it soon
    try:
        await web.registration.register("Ana María Pérez", "573001234567")
        await worker.start()
        await asyncio.sleep(0.5)  # listening
        started = time.monotonic()
        result = await web.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
            IncomingMessage(channel="meta", provider_id="wamid.WAKE", wa_id="573001234567",
                            type=MessageType.TEXT, sent_at=web.clock.now(), text="hola")])
        assert result.new_messages == 1
        channel = work.channel
        assert isinstance(channel, ConsoleChannel)
        for _ in range(200):  # up to 10 s
            if channel.sent:
                break
            await asyncio.sleep(0.05)
        assert channel.sent, "the worker was not woken by the notification"
        assert time.monotonic() - started < 10  # far below the 60 s poll
        assert channel.sent[0][0] == "573001234567"
    finally:
        await worker.stop()
        await web.aclose()
        await work.aclose()
