"""FairGate: units of work wait for a PostgreSQL connection in arrival order."""

from __future__ import annotations

import asyncio
import socket

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from eki_adapters.sql import SqlUnitOfWorkFactory, create_engine
from eki_adapters.sql.uow import FairGate
from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Settings


async def test_waiters_pass_in_arrival_order_and_newcomers_do_not_barge() -> None:
    gate = FairGate(1, timeout=5)
    entered: list[str] = []

    async def use(name: str, hold: asyncio.Event | None = None) -> None:
        semaphore = await gate.enter()
        entered.append(name)
        try:
            if hold is not None:
                await hold.wait()
            await asyncio.sleep(0)
        finally:
            semaphore.release()

    hold = asyncio.Event()
    first = asyncio.create_task(use("first", hold))
    await asyncio.sleep(0)
    waiting = []
    for name in ("a", "b", "c"):
        waiting.append(asyncio.create_task(use(name)))
        await asyncio.sleep(0)
    hold.set()
    await asyncio.sleep(0)  # "first" releases: "a" is woken...
    late = asyncio.create_task(use("late"))  # ...and a newcomer must queue behind b and c
    await asyncio.gather(first, *waiting, late)
    assert entered == ["first", "a", "b", "c", "late"]


async def test_waiting_longer_than_the_pool_timeout_is_the_pools_timeout_error() -> None:
    gate = FairGate(1, timeout=0.05)
    held = await gate.enter()
    with pytest.raises(PoolTimeoutError, match=r"no database connection free after 0\.05 s"):
        await gate.enter()
    held.release()
    (await gate.enter()).release()  # the timed-out waiter left no permit behind
    with pytest.raises(ValueError, match="capacity"):
        FairGate(0, timeout=1)


async def test_many_units_of_work_never_hold_more_connections_than_the_gate(
        postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=2, max_overflow=1)
    uow_factory = SqlUnitOfWorkFactory(engine, max_connections=3, pool_timeout=10)
    in_use = peak = 0

    async def work(i: int) -> int:
        nonlocal in_use, peak
        async with uow_factory() as uow:
            in_use += 1
            peak = max(peak, in_use)
            value = await uow.connection.scalar(sa.text("SELECT :i + 0"), {"i": i})
            await asyncio.sleep(0.01)
            in_use -= 1
            return int(value)

    try:
        assert await asyncio.gather(*(work(i) for i in range(40))) == list(range(40))
        assert peak == 3
    finally:
        await engine.dispose()


async def test_a_failed_connection_gives_its_place_back() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    engine = create_engine(f"postgresql://nobody@127.0.0.1:{port}/nothing")
    uow_factory = SqlUnitOfWorkFactory(engine, max_connections=1, pool_timeout=0.5)
    try:
        for _ in range(3):  # a leaked place would turn the 2nd attempt into a gate timeout
            with pytest.raises(OperationalError):
                async with uow_factory():
                    pass
    finally:
        await engine.dispose()


async def test_bootstrap_gates_its_own_postgres_pool_only(postgres_url: str,
                                                          sqlite_url: str) -> None:
    settings = Settings(database_url=postgres_url, db_pool_size=7, db_max_overflow=2,
                        db_pool_timeout=9)
    eki = await bootstrap(settings)
    try:
        gate = eki.uow.gate  # type: ignore[attr-defined]
        # the pool's size: the 2 overflow connections are left to what bypasses the gate
        # (heartbeats, NOTIFY), never opened and closed over and over by units of work
        assert gate is not None and (gate.capacity, gate.timeout) == (7, 9.0)
    finally:
        await eki.aclose()
    lite = await bootstrap(Settings(database_url=sqlite_url))
    try:
        assert lite.uow.gate is None  # type: ignore[attr-defined]
    finally:
        await lite.aclose()
