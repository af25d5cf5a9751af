"""Batching for bursts: concurrent callers share one transaction (write or read).

:class:`GroupCommit` — rows handed in by concurrent callers share one transaction.

When hundreds of conversation turns finish in the same instant (a class asks at once, the
model answers them all ~1.5 s later), each writing its own few rows in its own transaction
means hundreds of connection check-outs and commits queued on a pool of a few dozen
connections. :class:`GroupCommit` writes whatever has been submitted while the previous
transaction was running in the next single transaction: a lone caller still commits at once
(one event-loop hop later), a crowd commits in a handful of transactions.

:meth:`GroupCommit.submit` returns only after its rows are committed and raises what the
write raised, so callers keep their "written before I go on" guarantee.

:class:`GroupLoad` — the read side (a "data loader"): callers asking for one key each in the
same instant (a claim of 128 conversations starting together) are answered from one unit of
work that reads all their keys with one statement per kind of data, instead of 128 units of
work each waiting for a pool connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from eki_domain.ports.repositories import UnitOfWork, UnitOfWorkFactory

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

Writer = Callable[[UnitOfWork, Sequence[T]], Awaitable[None]]


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a failure as seen when its caller went away (no "never retrieved" warning)."""
    if not future.cancelled():
        future.exception()


class GroupCommit(Generic[T]):
    """Write submitted items with ``write(uow, items)`` and commit, many callers at a time.

    ``max_items`` bounds one transaction (the rest goes in the next one). Safe to use from
    several event loops one after the other (tests, ``asyncio.run`` per call): work queued on
    a loop that is gone is dropped with that loop.
    """

    def __init__(self, uow: UnitOfWorkFactory, write: Writer[T], *,
                 max_items: int = 1000) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._uow = uow
        self._write = write
        self._max_items = max_items
        self._queue: list[tuple[Sequence[T], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        #: Transactions committed and items written (for tests and diagnostics).
        self.transactions = 0
        self.items = 0

    async def submit(self, items: Sequence[T]) -> None:
        """Write ``items`` (with whatever else is waiting) and return once committed."""
        if not items:
            return
        loop = asyncio.get_running_loop()
        flusher = self._flusher
        if flusher is not None and flusher.get_loop() is not loop:
            self._queue = []  # queued on a loop that no longer runs us
            flusher = None
        done: asyncio.Future[None] = loop.create_future()
        done.add_done_callback(_retrieve)
        self._queue.append((items, done))
        if flusher is None or flusher.done():
            self._flusher = loop.create_task(self._flush(), name="eki-group-commit")
        # A caller cancelled while waiting leaves the write to finish for the others.
        await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._queue:
            batch: list[tuple[Sequence[T], asyncio.Future[None]]] = []
            count = 0
            while self._queue and (not batch or count + len(self._queue[0][0])
                                   <= self._max_items):
                entry = self._queue.pop(0)
                batch.append(entry)
                count += len(entry[0])
            items = [item for entry_items, _ in batch for item in entry_items]
            try:
                async with self._uow() as uow:
                    await self._write(uow, items)
                    await uow.commit()
            except asyncio.CancelledError:
                for _, done in batch:
                    done.cancel()
                for _, done in self._queue:
                    done.cancel()
                self._queue = []
                raise
            except Exception as exc:
                for _, done in batch:
                    with contextlib.suppress(asyncio.InvalidStateError):
                        done.set_exception(exc)
            else:
                self.transactions += 1
                self.items += len(items)
                for _, done in batch:
                    with contextlib.suppress(asyncio.InvalidStateError):
                        done.set_result(None)


Loader = Callable[[UnitOfWork, Sequence[K]], Awaitable[Mapping[K, V]]]


class GroupLoad(Generic[K, V]):
    """``await load(key)``: the value ``read(uow, keys)`` returns for ``key``, where
    ``keys`` are every key asked for while the previous read ran (or in the same event-loop
    turn), deduplicated, at most ``max_keys`` per read. A key the read does not return raises
    ``KeyError`` for its caller; an error of the read reaches every caller of that read.
    """

    def __init__(self, uow: UnitOfWorkFactory, read: Loader[K, V], *,
                 max_keys: int = 500) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._uow = uow
        self._read = read
        self._max_keys = max_keys
        self._queue: dict[K, list[asyncio.Future[V]]] = {}
        self._reader: asyncio.Task[None] | None = None
        #: Reads run and keys read (for tests and diagnostics).
        self.reads = 0
        self.keys = 0

    async def load(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        reader = self._reader
        if reader is not None and reader.get_loop() is not loop:
            self._queue = {}  # asked on a loop that no longer runs us
            reader = None
        result: asyncio.Future[V] = loop.create_future()
        result.add_done_callback(_retrieve)
        self._queue.setdefault(key, []).append(result)
        if reader is None or reader.done():
            self._reader = loop.create_task(self._run(), name="eki-group-load")
        return await asyncio.shield(result)

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let the callers of this instant join the first read
        while self._queue:
            keys = list(itertools.islice(self._queue, self._max_keys))
            waiting = {key: self._queue.pop(key) for key in keys}
            try:
                async with self._uow() as uow:
                    values = await self._read(uow, keys)
            except asyncio.CancelledError:
                for futures in (*waiting.values(), *self._queue.values()):
                    for future in futures:
                        future.cancel()
                self._queue = {}
                raise
            except Exception as exc:
                for futures in waiting.values():
                    for future in futures:
                        if not future.done():
                            future.set_exception(exc)
                continue
            self.reads += 1
            self.keys += len(keys)
            for key, futures in waiting.items():
                for future in futures:
                    if future.done():
                        continue
                    if key in values:
                        future.set_result(values[key])
                    else:
                        future.set_exception(KeyError(key))
