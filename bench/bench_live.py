"""Live events on PostgreSQL: how long an event takes from ``publish`` on one connection to
a subscriber on another (LISTEN/NOTIFY), and what the live bridge costs a webhook's ingest.

    PYTHONPATH=src python bench/bench_live.py --events 500 --ingests 300

Prints min–median–max (and p99) in milliseconds. Everything runs in one process on one
event loop (publisher, listener and subscriber), against a throwaway database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
from datetime import UTC, datetime

import psycopg

from eki_adapters.sql import create_engine, upgrade
from eki_adapters.sql.live import PostgresLiveFeed
from eki_adapters.system.live import ProcessLiveFeed
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.live import LiveEvent, LiveEventType
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Settings

BASE = os.environ.get("EKI_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def _summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (f"{name}: n={len(ms)} min {ms[0]:.2f} – median {statistics.median(ms):.2f} – "
            f"max {ms[-1]:.2f} ms (p99 {p99:.2f})")


async def notify_latency(url: str, events: int) -> None:
    engines = [create_engine(url), create_engine(url)]
    listener, publisher = PostgresLiveFeed(engines[0]), PostgresLiveFeed(engines[1])
    subscription = listener.subscribe(lambda e: True, limit=events + 1)
    await listener.wait_listening()
    samples = []
    for n in range(events):
        event = LiveEvent(type=LiveEventType.MESSAGE_STATUS, phone="+573001234567",
                          at=datetime.now(UTC), student_id=n, tags=frozenset({"grado 10"}),
                          extra={"status": "delivered", "outbound_id": n})
        started = time.perf_counter()
        await publisher.publish([event])
        got = await subscription.next(5)
        samples.append(time.perf_counter() - started)
        assert got is not None and got.student_id == n
    print(_summary("publish → subscriber on another connection", samples))
    for feed in (listener, publisher):
        await feed.aclose()
    for engine in engines:
        await engine.dispose()


async def ingest_cost(url: str, ingests: int) -> None:
    for watched in (False, True):
        eki = await bootstrap(Settings(database_url=url), channel=ConsoleChannel(name="meta"))
        if not watched:
            await eki.registration.register("Ana María Pérez", "573001234567")
        subscription = None
        if watched:
            subscription = eki.live.feed.subscribe(lambda e: True, limit=ingests * 2)
            await eki.live.feed.wait_listening()  # type: ignore[attr-defined]
        else:
            eki.live.feed = ProcessLiveFeed()  # nobody watching: the bridge does nothing
        samples, delivered = [], []
        for n in range(ingests):
            started = time.perf_counter()
            await eki.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
                IncomingMessage(channel="meta", provider_id=f"wamid.B{watched}{n}",
                                wa_id="573001234567", type=MessageType.TEXT,
                                sent_at=eki.clock.now(), text="hola")])
            samples.append(time.perf_counter() - started)
            if subscription is not None:
                await subscription.next(5)
                delivered.append(time.perf_counter() - started)
        label = "watched (bridge + NOTIFY)" if watched else "nobody watching"
        print(_summary(f"ingest of one message, {label}", samples))
        if delivered:
            print(_summary("  ingest → message.received at the subscriber", delivered))
        await eki.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--ingests", type=int, default=300)
    args = parser.parse_args()
    name = f"eki_bench_live_{secrets.token_hex(4)}"
    with psycopg.connect(BASE, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = BASE.rsplit("/", 1)[0] + "/" + name
    try:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()
        await notify_latency(url, args.events)
        await ingest_cost(url, args.ingests)
    finally:
        with psycopg.connect(BASE, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
