"""GroupCommit: concurrent callers share transactions; each returns once its rows are in."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from eki_adapters.batching import GroupCommit, GroupLoad, GroupWrite
from eki_adapters.memory import InMemoryStore
from eki_domain.ports.repositories import UnitOfWork


class Recorder:
    """A write function that remembers what each transaction held (and can fail)."""

    def __init__(self, store: InMemoryStore) -> None:
        self.store = store
        self.transactions: list[list[str]] = []
        self.fail_next = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, uow: UnitOfWork, items: Sequence[str]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("database unavailable")
        self.transactions.append(list(items))


async def test_a_lone_caller_commits_at_once() -> None:
    store = InMemoryStore()
    recorder = Recorder(store)
    group: GroupCommit[str] = GroupCommit(store.uow, recorder)
    await group.submit(["a", "b"])
    assert recorder.transactions == [["a", "b"]]
    assert (group.transactions, group.items) == (1, 2)
    await group.submit([])  # nothing to write: no transaction
    assert group.transactions == 1


async def test_callers_arriving_together_share_few_transactions() -> None:
    store = InMemoryStore()
    recorder = Recorder(store)
    group: GroupCommit[str] = GroupCommit(store.uow, recorder)
    await asyncio.gather(*(group.submit([f"call-{i}"]) for i in range(200)))
    written = [item for transaction in recorder.transactions for item in transaction]
    assert sorted(written) == sorted(f"call-{i}" for i in range(200))
    assert len(written) == len(set(written))  # nothing twice
    assert len(recorder.transactions) <= 2  # the first caller's, then everyone else's


async def test_a_transaction_holds_at_most_max_items() -> None:
    store = InMemoryStore()
    recorder = Recorder(store)
    group: GroupCommit[str] = GroupCommit(store.uow, recorder, max_items=5)
    await asyncio.gather(*(group.submit([f"{i}a", f"{i}b"]) for i in range(10)))
    assert all(len(t) <= 5 for t in recorder.transactions)
    assert sum(len(t) for t in recorder.transactions) == 20
    with pytest.raises(ValueError, match="max_items"):
        GroupCommit(store.uow, recorder, max_items=0)


async def test_a_failed_write_reaches_every_caller_of_that_transaction_only() -> None:
    store = InMemoryStore()
    recorder = Recorder(store)
    group: GroupCommit[str] = GroupCommit(store.uow, recorder)
    recorder.gate = asyncio.Event()
    first = asyncio.create_task(group.submit(["first"]))
    await asyncio.sleep(0)  # the first transaction starts and waits at the gate
    recorder.fail_next = 1
    waiting = [asyncio.create_task(group.submit([f"w{i}"])) for i in range(3)]
    await asyncio.sleep(0)
    recorder.gate.set()
    with pytest.raises(RuntimeError, match="database unavailable"):
        await first
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert results == [None, None, None]  # the next transaction worked
    assert recorder.transactions == [["w0", "w1", "w2"]]
    await group.submit(["later"])
    assert recorder.transactions[-1] == ["later"]


async def test_a_caller_cancelled_while_waiting_does_not_cancel_the_write() -> None:
    store = InMemoryStore()
    recorder = Recorder(store)
    group: GroupCommit[str] = GroupCommit(store.uow, recorder)
    recorder.gate = asyncio.Event()
    impatient = asyncio.create_task(group.submit(["mine"]))
    patient = asyncio.create_task(group.submit(["theirs"]))
    await asyncio.sleep(0)
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    recorder.gate.set()
    await patient
    assert sorted(i for t in recorder.transactions for i in t) == ["mine", "theirs"]


def test_usable_from_one_event_loop_after_another() -> None:
    store = InMemoryStore()
    recorder = Recorder(store)
    group: GroupCommit[str] = GroupCommit(store.uow, recorder)
    asyncio.run(group.submit(["first loop"]))
    asyncio.run(group.submit(["second loop"]))
    assert recorder.transactions == [["first loop"], ["second loop"]]


# -- GroupLoad ------------------------------------------------------------------------------


class Reader:
    """A read function over a dict, remembering the keys of each read (and able to fail)."""

    def __init__(self, data: dict[int, str]) -> None:
        self.data = data
        self.reads: list[list[int]] = []
        self.fail_next = 0
        self.gate: asyncio.Event | None = None

    async def __call__(self, uow: UnitOfWork, keys: Sequence[int]) -> dict[int, str]:
        self.reads.append(list(keys))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("database unavailable")
        return {k: self.data[k] for k in keys if k in self.data}


async def test_keys_asked_together_are_read_once_each_in_one_read() -> None:
    reader = Reader({i: f"v{i}" for i in range(100)})
    loader: GroupLoad[int, str] = GroupLoad(InMemoryStore().uow, reader)
    keys = [i % 40 for i in range(120)]  # 40 keys, each asked three times
    values = await asyncio.gather(*(loader.load(k) for k in keys))
    assert values == [f"v{k}" for k in keys]
    assert len(reader.reads) == 1 and sorted(reader.reads[0]) == list(range(40))
    assert (loader.reads, loader.keys) == (1, 40)
    assert await loader.load(7) == "v7"  # later: a read of its own
    assert reader.reads[-1] == [7]


async def test_a_read_holds_at_most_max_keys_and_keys_asked_meanwhile_wait_for_the_next() -> None:
    reader = Reader({i: str(i) for i in range(10)})
    loader: GroupLoad[int, str] = GroupLoad(InMemoryStore().uow, reader, max_keys=4)
    assert await asyncio.gather(*(loader.load(i) for i in range(10))) == [
        str(i) for i in range(10)]
    assert [len(r) for r in reader.reads] == [4, 4, 2]
    with pytest.raises(ValueError, match="max_keys"):
        GroupLoad(InMemoryStore().uow, reader, max_keys=0)


async def test_a_missing_key_and_a_failed_read_reach_only_their_callers() -> None:
    reader = Reader({1: "uno"})
    loader: GroupLoad[int, str] = GroupLoad(InMemoryStore().uow, reader)
    found, missing = await asyncio.gather(loader.load(1), loader.load(2),
                                          return_exceptions=True)
    assert found == "uno" and isinstance(missing, KeyError)

    reader.gate = asyncio.Event()
    reader.fail_next = 1
    first = asyncio.create_task(loader.load(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the first read has started and waits at the gate
    later = asyncio.create_task(loader.load(1))
    await asyncio.sleep(0)
    reader.gate.set()
    with pytest.raises(RuntimeError, match="database unavailable"):
        await first
    assert await later == "uno"  # the next read worked


def test_loads_from_one_event_loop_after_another() -> None:
    reader = Reader({1: "uno"})
    loader: GroupLoad[int, str] = GroupLoad(InMemoryStore().uow, reader)
    assert asyncio.run(loader.load(1)) == "uno"
    assert asyncio.run(loader.load(1)) == "uno"


class Writer:
    """A write that answers each item (its upper-case) and refuses items marked bad."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, uow: UnitOfWork, items: Sequence[str]) -> list[str]:
        if self.gate is not None:
            await self.gate.wait()
        if any(item.startswith("bad") for item in items):
            raise ValueError("the database refused a row")
        self.transactions.append(list(items))
        return [item.upper() for item in items]


async def test_group_write_answers_each_caller_from_shared_transactions() -> None:
    store = InMemoryStore()
    writer = Writer()
    group: GroupWrite[UnitOfWork, str, str] = GroupWrite(store.uow, writer, max_items=4)
    assert await group.submit("solo") == "SOLO"  # a lone caller: written at once
    answers = await asyncio.gather(*(group.submit(f"m{n}") for n in range(10)))
    assert answers == [f"M{n}" for n in range(10)]
    # The first caller of the burst starts a write; the rest join the next ones (≤ 4 each).
    assert len(writer.transactions) <= 1 + 4
    assert all(len(t) <= 4 for t in writer.transactions)
    assert (group.transactions, group.items) == (len(writer.transactions), 11)


async def test_group_write_fails_only_the_caller_whose_item_was_refused() -> None:
    store = InMemoryStore()
    writer = Writer()
    group: GroupWrite[UnitOfWork, str, str] = GroupWrite(store.uow, writer)
    outcomes = await asyncio.gather(group.submit("a"), group.submit("b"),
                                    group.submit("bad-c"), group.submit("d"),
                                    return_exceptions=True)
    assert outcomes[0] == "A" and outcomes[1] == "B" and outcomes[3] == "D"
    assert isinstance(outcomes[2], ValueError)
    assert sorted(item for t in writer.transactions for item in t) == ["a", "b", "d"]


async def test_group_write_fails_the_round_at_once_when_no_unit_of_work_opens() -> None:
    """A full pool or a database that is down is nothing the items did: every caller of
    the round gets the error, and the items are not tried again one by one."""
    opened: list[int] = []

    class Unavailable:
        async def __aenter__(self) -> Unavailable:
            opened.append(1)
            raise TimeoutError("no connection from the pool")

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def commit(self) -> None:
            return None

    writer = Writer()
    group: GroupWrite[Any, str, str] = GroupWrite(Unavailable, writer)
    outcomes = await asyncio.gather(*(group.submit(f"m{n}") for n in range(6)),
                                    return_exceptions=True)
    assert all(isinstance(outcome, TimeoutError) for outcome in outcomes)
    assert len(opened) <= 2  # the lone first caller's round, then the rest together
    assert writer.transactions == []


async def test_group_write_rounds_are_bounded_by_weight() -> None:
    store = InMemoryStore()
    writer = Writer()
    group: GroupWrite[UnitOfWork, str, str] = GroupWrite(
        store.uow, writer, weight=len, max_weight=10)
    gate = writer.gate = asyncio.Event()  # the others queue while the first round waits
    first = asyncio.ensure_future(group.submit("first"))
    await asyncio.sleep(0)
    items = ["aaaa", "bbbb", "cccc", "x" * 30, "dd", "ee"]
    rest = asyncio.ensure_future(asyncio.gather(*(group.submit(i) for i in items)))
    await asyncio.sleep(0)
    gate.set()
    assert await first == "FIRST" and await rest == [i.upper() for i in items]
    assert writer.transactions[1:] == [["aaaa", "bbbb"], ["cccc"], ["x" * 30], ["dd", "ee"]]
