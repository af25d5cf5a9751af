"""Lookup of a student by phone among 100,000, through the repository.

    python bench/bench_lookup.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
                                 [--students 100000] [--lookups 5000] [--json]

Creates a throwaway database on the server (dropped afterwards), migrates it,
loads N students with COPY, then times ``RegistrationService.find`` /
``StudentRepository.get_by_phone`` one lookup at a time (each in its own unit
of work, as a webhook turn would). Goal: p50 <= 1 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import time
from datetime import UTC, datetime

import psycopg
from sqlalchemy.engine import make_url

from eki_adapters.sql import SqlUnitOfWorkFactory, create_engine, upgrade
from eki_adapters.system import SystemClock
from eki_domain import RegistrationService


def conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def load(url: str, n: int) -> list[str]:
    phones = [f"+57300{i:07d}" for i in range(n)]
    now = datetime.now(UTC)
    with psycopg.connect(conninfo(url)) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY students (name, phone, wa_id, active, registered_at, updated_at) FROM STDIN"
        ) as copy:
            for i, phone in enumerate(phones):
                copy.write_row((f"Estudiante {i}", phone, phone[1:], i % 10 != 0, now, now))
        cur.execute("ANALYZE students")
    return phones


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(url: str, phones: list[str], lookups: int) -> dict[str, float]:
    engine = create_engine(url, pool_size=2)
    uow = SqlUnitOfWorkFactory(engine)
    registry = RegistrationService(uow, SystemClock())
    rng = random.Random(7)
    sample = [rng.choice(phones) for _ in range(lookups)]
    for phone in sample[:200]:  # warm the pool and caches
        await registry.find(phone)

    repo_times: list[float] = []
    for phone in sample:
        started = time.perf_counter()
        async with uow() as work:
            found = await work.students.get_by_phone(phone)
        repo_times.append((time.perf_counter() - started) * 1000)
        assert found is not None

    service_times: list[float] = []
    for phone in sample:
        national = phone[3:]  # what a secretary types: 300xxxxxxx
        started = time.perf_counter()
        await registry.find(national)
        service_times.append((time.perf_counter() - started) * 1000)
    await engine.dispose()
    return {
        "repository_p50_ms": statistics.median(repo_times),
        "repository_p99_ms": pct(repo_times, 0.99),
        "service_find_p50_ms": statistics.median(service_times),
        "service_find_p99_ms": pct(service_times, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    name = f"eki_bench_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo(args.url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        engine = create_engine(url)
        asyncio.run(upgrade(engine))
        asyncio.run(engine.dispose())
        started = time.perf_counter()
        phones = load(url, args.students)
        load_s = time.perf_counter() - started
        result = asyncio.run(measure(url, phones, args.lookups))
    finally:
        with psycopg.connect(conninfo(args.url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result = {"students": args.students, "lookups": args.lookups, "load_s": load_s, **result}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"students: {args.students} (loaded with COPY in {load_s:.2f} s)")
    goal = "OK" if result["repository_p50_ms"] <= 1.0 else "MISSED"
    print(f"repository get_by_phone: p50 {result['repository_p50_ms']:.3f} ms, "
          f"p99 {result['repository_p99_ms']:.3f} ms (goal p50 <= 1 ms) {goal}")
    print(f"RegistrationService.find('300…'): p50 {result['service_find_p50_ms']:.3f} ms, "
          f"p99 {result['service_find_p99_ms']:.3f} ms (parse + candidates + lookup)")


if __name__ == "__main__":
    main()
