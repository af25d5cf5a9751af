"""Operations: the state of the message pipeline, read from storage so it is right
whichever process asks (the web process, a worker, a metrics scrape).

``snapshot()`` gives the pending inbox and outbox (how many, how old the oldest) and the
workers alive; ``readiness()`` turns it into checks with a reason for each failure (for
``GET /readyz``). Workers call ``beat()`` every few seconds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from eki_domain.ports.clock import Clock
from eki_domain.ports.heartbeats import WorkerHeartbeats
from eki_domain.ports.repositories import UnitOfWorkFactory

#: A worker silent for longer than this is considered gone (workers beat every ~5 s).
WORKER_TIMEOUT = timedelta(seconds=60)


@attrs.frozen
class QueueState:
    pending: int
    oldest_seconds: float  # age of the oldest pending item (0 when empty)


@attrs.frozen
class OperationsSnapshot:
    inbox: QueueState
    outbox: QueueState
    workers_alive: int
    last_beat_seconds: float | None  # since any worker last beat (None: never)
    students_active: int | None = None  # counted only when asked (metrics scrapes)
    students_inactive: int | None = None


@attrs.frozen
class Check:
    ok: bool
    error: str | None = None
    detail: dict[str, float | int | None] = attrs.Factory(dict)


class OperationsService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, heartbeats: WorkerHeartbeats, *,
                 worker_timeout: timedelta = WORKER_TIMEOUT) -> None:
        self._uow = uow
        self._clock = clock
        self._heartbeats = heartbeats
        self.worker_timeout = worker_timeout

    async def beat(self, worker_id: str, started_at: datetime | None = None) -> None:
        now = self._clock.now()
        await self._heartbeats.beat(worker_id, started_at or now, now)

    async def forget(self, worker_id: str) -> None:
        await self._heartbeats.forget(worker_id)

    async def live_workers(self, silent_for: timedelta) -> list[str]:
        """The workers that beat within the last ``silent_for``: claims of any other
        worker are abandoned (see ``Inbox.recover_expired``)."""
        return await self._heartbeats.alive_ids(self._clock.now() - silent_for)

    async def snapshot(self, *, students: bool = False) -> OperationsSnapshot:
        """The pipeline now; ``students`` also counts active and inactive students."""
        now = self._clock.now()
        active = inactive = None
        async with self._uow() as uow:
            inbox = await uow.inbox.depth(now)
            outbox = await uow.outbox.depth(now)
            if students:
                active = await uow.students.count(active=True)
                inactive = await uow.students.count(active=False)
        alive = await self._heartbeats.alive_since(now - self.worker_timeout)
        latest = await self._heartbeats.latest()
        return OperationsSnapshot(
            inbox=QueueState(*inbox), outbox=QueueState(*outbox), workers_alive=alive,
            last_beat_seconds=None if latest is None else max(0.0, (now - latest)
                                                              .total_seconds()),
            students_active=active, students_inactive=inactive)

    def readiness(self, snapshot: OperationsSnapshot, *, queue_max_age: float | None
                  ) -> dict[str, Check]:
        """``worker``: some worker beat recently; ``queue``: nothing pending for longer than
        ``queue_max_age`` seconds (None: not checked)."""
        timeout = int(self.worker_timeout.total_seconds())
        worker = (Check(True, detail={"alive": snapshot.workers_alive,
                                      "last_beat_seconds": _round(snapshot.last_beat_seconds)})
                  if snapshot.workers_alive else
                  Check(False, f"no worker has reported in the last {timeout} s: run `eki "
                        "worker` (or `eki serve` without --no-worker)",
                        {"alive": 0, "last_beat_seconds": _round(snapshot.last_beat_seconds)}))
        checks = {"worker": worker}
        if queue_max_age is not None:
            detail: dict[str, float | int | None] = {
                "inbox_pending": snapshot.inbox.pending,
                "inbox_oldest_seconds": _round(snapshot.inbox.oldest_seconds),
                "outbox_pending": snapshot.outbox.pending,
                "outbox_oldest_seconds": _round(snapshot.outbox.oldest_seconds),
            }
            stuck = [f"the oldest pending {name} message is {int(state.oldest_seconds)} s old"
                     for name, state in (("inbox", snapshot.inbox), ("outbox", snapshot.outbox))
                     if state.pending and state.oldest_seconds > queue_max_age]
            checks["queue"] = (Check(False, "; ".join(stuck) + f" (limit {int(queue_max_age)} s)",
                                     detail)
                               if stuck else Check(True, detail=detail))
        return checks


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
