"""Batching for bursts: concurrent callers share one transaction (write or read).

Infrastructure, not a school concept: the domain's services ask for one student at a time
through the loader ports (:mod:`eki_domain.ports.loaders`); :mod:`eki_adapters.loaders`
implements them with the two helpers below, and ``bootstrap`` wires those.

:class:`GroupCommit` — rows handed in by concurrent callers share one transaction.
:class:`GroupWrite` does the same for writes whose callers each need a result back (the
webhook's stored deliveries: each answers with its event id).

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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar


class Transaction(Protocol):
    """What the helpers need of a unit of work."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None: ...

    async def commit(self) -> None: ...


U = TypeVar("U", bound=Transaction)
T = TypeVar("T")
E = TypeVar("E")
K = TypeVar("K")
V = TypeVar("V")
R = TypeVar("R")


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a failure as seen when its caller went away (no "never retrieved" warning)."""
    if not future.cancelled():
        future.exception()


def _fail(futures: Iterable[asyncio.Future[Any]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)


class _Batcher(Generic[U, E]):
    """The plumbing :class:`GroupCommit` and :class:`GroupLoad` share: callers queue an entry
    and a future, one task per event loop serves the queue (:meth:`_serve`, one unit of work
    per round) until it is empty. Safe to use from several event loops one after the other
    (tests, ``asyncio.run`` per call): what was queued on a loop that is gone is dropped."""

    def __init__(self, uow: Callable[[], U], name: str) -> None:
        self._uow = uow
        self._name = name
        self._queue: list[tuple[E, asyncio.Future[Any]]] = []
        self._server: asyncio.Task[None] | None = None

    async def _submit(self, entry: E) -> Any:
        loop = asyncio.get_running_loop()
        server = self._server
        if server is not None and server.get_loop() is not loop:
            self._queue, server = [], None
        future: asyncio.Future[Any] = loop.create_future()
        future.add_done_callback(_retrieve)
        self._queue.append((entry, future))
        if server is None or server.done():
            self._server = loop.create_task(self._run(), name=self._name)
        # A caller cancelled while waiting leaves the work to finish for the others.
        return await asyncio.shield(future)

    #: Wait one event-loop turn before the first round, so the callers of that instant join
    #: it (reads: a claim's turns ask together); writes start at once.
    gather_first = False

    async def _run(self) -> None:
        if self.gather_first:
            await asyncio.sleep(0)
        while self._queue:
            round_ = self._take()
            try:
                await self._serve(round_)
            except asyncio.CancelledError:
                for _, future in (*round_, *self._queue):
                    future.cancel()
                self._queue = []
                raise
            except Exception as exc:
                _fail((future for _, future in round_), exc)

    def _take(self) -> list[tuple[E, asyncio.Future[Any]]]:
        raise NotImplementedError

    async def _serve(self, round_: list[tuple[E, asyncio.Future[Any]]]) -> None:
        raise NotImplementedError


class _Writes(_Batcher[U, E], Generic[U, E, T, R]):
    """What :class:`GroupCommit` and :class:`GroupWrite` share: ``write(uow, items)`` then a
    commit, at most ``max_items`` items a transaction, counted."""

    def __init__(self, uow: Callable[[], U], write: Callable[[U, Sequence[T]], Awaitable[R]],
                 max_items: int, name: str) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        super().__init__(uow, name)
        self._write = write
        self._max_items = max_items
        #: Transactions committed and items written (for tests and diagnostics).
        self.transactions = 0
        self.items = 0
        #: Whether the last :meth:`_commit` got its unit of work (a failure before that —
        #: no pool connection, no database — is nothing its items did).
        self._opened = False

    async def _commit(self, items: Sequence[T]) -> R:
        self._opened = False
        async with self._uow() as uow:
            self._opened = True
            result = await self._write(uow, items)
            await uow.commit()
        self.transactions += 1
        self.items += len(items)
        return result


class GroupCommit(_Writes[U, Sequence[T], T, None], Generic[U, T]):
    """Write submitted items with ``write(uow, items)`` and commit, many callers at a time.

    ``max_items`` bounds one transaction (the rest goes in the next one).
    """

    def __init__(self, uow: Callable[[], U],
                 write: Callable[[U, Sequence[T]], Awaitable[None]], *,
                 max_items: int = 1000) -> None:
        super().__init__(uow, write, max_items, "eki-group-commit")

    async def submit(self, items: Sequence[T]) -> None:
        """Write ``items`` (with whatever else is waiting) and return once committed."""
        if items:
            await self._submit(items)

    def _take(self) -> list[tuple[Sequence[T], asyncio.Future[Any]]]:
        count, taken = 0, 0
        for entry_items, _ in self._queue:
            if taken and count + len(entry_items) > self._max_items:
                break
            count += len(entry_items)
            taken += 1
        round_, self._queue = self._queue[:taken], self._queue[taken:]
        return round_

    async def _serve(self, round_: list[tuple[Sequence[T], asyncio.Future[Any]]]) -> None:
        await self._commit([item for entry_items, _ in round_ for item in entry_items])
        for _, future in round_:
            if not future.done():
                future.set_result(None)


class GroupWrite(_Writes[U, T, T, Sequence[V]], Generic[U, T, V]):
    """``await submit(item)``: ``write(uow, items)`` of the items submitted while the previous
    write ran, then a commit; each caller gets its item's result (``write`` returns one per
    item, in order) once committed. When the write of several items fails, each is written
    again alone, so one bad item fails only its own caller; when no unit of work could be
    had (a full pool, no database), every caller of the round gets that error at once.
    A round holds at most ``max_items`` items and, with ``weight``, items weighing at most
    ``max_weight`` together (one heavier item goes alone).
    """

    def __init__(self, uow: Callable[[], U],
                 write: Callable[[U, Sequence[T]], Awaitable[Sequence[V]]], *,
                 max_items: int = 200, weight: Callable[[T], int] | None = None,
                 max_weight: int = 0) -> None:
        super().__init__(uow, write, max_items, "eki-group-write")
        self._weight = weight
        self._max_weight = max_weight

    async def submit(self, item: T) -> V:
        result: V = await self._submit(item)
        return result

    def _take(self) -> list[tuple[T, asyncio.Future[Any]]]:
        taken = min(len(self._queue), self._max_items)
        if self._weight is not None:
            total = 0
            for index, (item, _) in enumerate(self._queue[:taken]):
                total += self._weight(item)
                if index and total > self._max_weight:
                    taken = index
                    break
        round_, self._queue = self._queue[:taken], self._queue[taken:]
        return round_

    async def _serve(self, round_: list[tuple[T, asyncio.Future[Any]]]) -> None:
        try:
            results = await self._commit([item for item, _ in round_])
        except Exception:
            if len(round_) == 1 or not self._opened:
                raise
            for item, future in round_:  # find the one that failed; the others go in
                try:
                    (result,) = await self._commit([item])
                except Exception as exc:
                    _fail([future], exc)
                else:
                    if not future.done():
                        future.set_result(result)
            return
        for (_, future), result in zip(round_, results, strict=True):
            if not future.done():
                future.set_result(result)


class GroupLoad(_Batcher[U, K], Generic[U, K, V]):
    """``await load(key)``: the value ``read(uow, keys)`` returns for ``key``, where
    ``keys`` are every key asked for while the previous read ran (or in the same event-loop
    turn), deduplicated, at most ``max_keys`` per read. A key the read does not return raises
    ``KeyError`` for its caller; an error of the read reaches every caller of that read.
    """

    gather_first = True

    def __init__(self, uow: Callable[[], U],
                 read: Callable[[U, Sequence[K]], Awaitable[Mapping[K, V]]], *,
                 max_keys: int = 500) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        super().__init__(uow, "eki-group-load")
        self._read = read
        self._max_keys = max_keys
        #: Reads run and keys read (for tests and diagnostics).
        self.reads = 0
        self.keys = 0

    async def load(self, key: K) -> V:
        value: V = await self._submit(key)
        return value

    def _take(self) -> list[tuple[K, asyncio.Future[Any]]]:
        keys: set[K] = set()
        taken = 0
        for key, _ in self._queue:
            if key not in keys:
                if len(keys) == self._max_keys:
                    break
                keys.add(key)
            taken += 1
        round_, self._queue = self._queue[:taken], self._queue[taken:]
        return round_

    async def _serve(self, round_: list[tuple[K, asyncio.Future[Any]]]) -> None:
        keys = list(dict.fromkeys(key for key, _ in round_))
        async with self._uow() as uow:
            values = await self._read(uow, keys)
        self.reads += 1
        self.keys += len(keys)
        for key, future in round_:
            if future.done():
                continue
            if key in values:
                future.set_result(values[key])
            else:
                future.set_exception(KeyError(key))
