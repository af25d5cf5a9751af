"""The pipeline worker: answers the inbox and sends the outbox.

It runs inside ``eki serve`` by default and alone as ``eki worker`` (several processes
may run side by side: each claim names its worker, so no message is answered twice).

Crash recovery: every worker beats (``worker_heartbeats``) every :data:`BEAT_INTERVAL`
seconds from a task of its own, and every :data:`SWEEP_INTERVAL` seconds gives back the
inbox claims of workers silent for :data:`DEAD_AFTER` (and fails their in-flight sends
``DELIVERY_UNKNOWN``): a killed worker's messages are answered again within about 10 s,
while a live worker keeps its claims however long the model takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from datetime import timedelta

from eki_domain.services.alerts import EVALUATE_EVERY
from eki_domain.services.conversation import ClaimedTurn
from eki_entrypoints.bootstrap import Eki

log = logging.getLogger("eki.worker")


#: Seconds between a worker's heartbeats.
BEAT_INTERVAL = 1.0
#: A worker silent for this long is dead: its claims are given back. Several beats, so a
#: busy event loop or a slow database round trip does not make a live worker look dead.
DEAD_AFTER = timedelta(seconds=5)
#: Shortest wait of a dispatcher for the next broadcast tokens (a few rows per claim).
BULK_STEP = 0.2
#: Seconds between two looks for claims of dead workers (by every worker).
SWEEP_INTERVAL = 2.0

#: The retention purge (issue 18): first this many seconds after the worker starts (a
#: restart loop does not purge in a loop), then every :data:`PURGE_EVERY` seconds.
PURGE_DELAY = 300.0
PURGE_EVERY = 24 * 3600.0

#: Turns in flight by default when a language model answers: a turn spends almost all of
#: its time waiting on the model (1–3 s against a few ms of CPU), so the limit must cover
#: a burst (Little's law: arrivals per second × seconds per turn; 500 students at once),
#: not the CPU. See docs/operations.md, "Sizing the worker".
MODEL_TURNS = 512
#: Turns in flight by default with the rule-based assistant only (CPU-bound turns: more
#: in flight only queue on the event loop).
RULE_TURNS = 32


def default_concurrency(eki: Eki) -> int:
    """Turns in flight when ``--concurrency`` is not given: :data:`MODEL_TURNS` with a
    language model configured, :data:`RULE_TURNS` without."""
    return MODEL_TURNS if eki.model is not None else RULE_TURNS


class PipelineWorker:
    """Up to ``concurrency`` conversation turns at once (each waits on the assistant;
    default :func:`default_concurrency`) plus
    one dispatcher. One claimer per process claims work for every free turn slot in a
    single transaction (up to ``claim_batch`` senders), so concurrent claimers stay few
    and do not queue on each other's row locks. ``wake()`` after storing new work skips
    the poll delay."""

    def __init__(self, eki: Eki, *, concurrency: int | None = None, poll_interval: float = 0.5,
                 channels: Sequence[str] | None = None, claim_batch: int = 128,
                 dispatchers: int = 4) -> None:
        self.eki = eki
        self.concurrency = concurrency if concurrency is not None else default_concurrency(eki)
        self.poll_interval = poll_interval
        self.claim_batch = max(1, claim_batch)
        self.sweep_interval = SWEEP_INTERVAL
        self.beat_interval = BEAT_INTERVAL
        self.dead_after = DEAD_AFTER
        self.purge_delay = PURGE_DELAY
        self.purge_every = PURGE_EVERY
        #: After a wake-up a dispatcher waits this long so replies finished meanwhile go
        #: out in the same claim (fewer transactions per reply under load).
        self.gather_delay = 0.005
        self.channels = tuple(channels) if channels is not None else (eki.channel.name,)
        self._inbox_event = asyncio.Event()  # new messages, or a sender's turn finished
        self._capacity = asyncio.Event()  # a turn slot became free
        self._stopped = asyncio.Event()  # stop(): the heartbeat loop ends at once
        # One event per dispatcher: each wakes on new outbox rows (claims are leases, so
        # several dispatchers send different rows side by side).
        self._outbox_events = [asyncio.Event() for _ in range(max(1, dispatchers))]
        self._next_dispatcher = 0
        self._turn_tasks: set[asyncio.Task[None]] = set()
        #: The sender of each running turn (what this worker's claims are for).
        self._answering: dict[asyncio.Task[None], str] = {}
        #: Claiming and sweeping take turns: a sweep sees every claim with its turn.
        self._claim_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.last_beat = time.monotonic()
        #: This worker's name in the heartbeats table (``/readyz`` "worker alive").
        self.worker_id = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"
        self._started_at = eki.clock.now()
        self._beat_failed = False
        #: Seconds between two evaluations of the alert rules (issue 16); a progress
        #: import of this process triggers one at once. None: this worker does not
        #: evaluate them.
        self.alert_interval: float | None = EVALUATE_EVERY
        #: Seconds between two looks for a progress import of another process (e.g. `eki
        #: progress import`): a new one makes the rules be evaluated at once.
        self.alert_import_poll = 60.0

    def wake(self, messages: int = 1) -> None:
        """New messages arrived: look at the inbox now."""
        if messages > 0:
            self._inbox_event.set()
        self._notify_outbox()

    def _woken(self, messages: int) -> None:
        """An ``InboxWakeups`` notification: ``messages`` stored by this process, 0 when
        another process may have stored some."""
        if messages > 0:
            self.wake(messages)
        else:
            self._inbox_event.set()

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not all(t.done() for t in self._tasks)

    async def start(self) -> None:
        self._stopping = False
        self._stopped.clear()
        self._started_at = self.eki.clock.now()
        await self._heartbeat()  # ready as soon as start() returns (/readyz "worker")
        self._tasks = [asyncio.create_task(self._claim(), name="eki-claim"),
                       asyncio.create_task(self._beat_and_sweep(), name="eki-beat"),
                       asyncio.create_task(self._purge_daily(), name="eki-purge"),
                       *(asyncio.create_task(self._dispatch(i), name=f"eki-dispatch-{i}")
                         for i in range(len(self._outbox_events)))]
        if self.alert_interval is not None:
            self._tasks.append(asyncio.create_task(self._alerts(self.alert_interval),
                                                   name="eki-alerts"))
        # Webhooks of this process (and of others, where bootstrap wired a source) wake
        # the claimer at once.
        self._tasks.append(asyncio.create_task(self.eki.wakeups.listen(self._woken),
                                               name="eki-wakeups"))
        log.info("worker started: up to %d turn(s) at once, channels %s", self.concurrency,
                 ",".join(self.channels))

    async def stop(self, grace: float = 1.0) -> None:
        self._stopping = True
        # Let the loops and turns finish the step they are in (up to ``grace`` seconds): a
        # transaction cancelled halfway can keep SQLite's write lock until its connection is
        # collected, and the next writer waits busy_timeout (10 s) for it.
        for event in (self._inbox_event, self._capacity, self._stopped, *self._outbox_events):
            event.set()
        steps = [t for t in (*self._tasks, *self._turn_tasks) if t.get_name() != "eki-wakeups"]
        if steps:
            await asyncio.wait(steps, timeout=grace)
        tasks = [*self._tasks, *self._turn_tasks]
        for task in tasks:
            task.cancel()  # a turn cut short is claimed again once this worker is forgotten
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        self._turn_tasks.clear()
        with contextlib.suppress(Exception):
            await self.eki.operations.forget(self.worker_id)

    async def _heartbeat(self) -> None:
        """Tell the database this worker is alive (never stops the dispatcher)."""
        try:
            await self.eki.operations.beat(self.worker_id, self._started_at)
        except Exception as exc:
            if not self._beat_failed:
                log.warning("worker heartbeat not recorded (%s): /readyz will report the "
                            "worker as not alive; is the schema at head (`eki db upgrade`)?",
                            type(exc).__name__)
            self._beat_failed = True
        else:
            self._beat_failed = False

    async def _sleep(self, event: asyncio.Event, seconds: float | None = None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=seconds or self.poll_interval)
        event.clear()

    async def _claim(self) -> None:
        conversation = self.eki.conversation
        while not self._stopping:
            self.last_beat = time.monotonic()
            free = self.concurrency - len(self._turn_tasks)
            if free <= 0:
                await self._sleep(self._capacity)
                continue
            self._inbox_event.clear()  # a wake-up from now on means "look again"
            try:
                async with self._claim_lock:
                    claimed = await conversation.claim_turns(min(free, self.claim_batch),
                                                             channels=self.channels,
                                                             owner=self.worker_id)
                    for turn in claimed:
                        task = asyncio.create_task(self._run(turn))
                        self._turn_tasks.add(task)
                        self._answering[task] = turn.batch.wa_id
                        task.add_done_callback(self._turn_done)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not claim inbox messages; retrying")
                await asyncio.sleep(self.poll_interval)
                continue
            if not claimed:
                # Nothing claimable: wait for a webhook, a finished turn (its sender may
                # have written meanwhile) or the poll interval (other processes' webhooks).
                await self._sleep(self._inbox_event)

    def _turn_done(self, task: asyncio.Task[None]) -> None:
        self._turn_tasks.discard(task)
        self._answering.pop(task, None)
        self._capacity.set()
        self._inbox_event.set()

    async def _run(self, turn: ClaimedTurn) -> None:
        try:
            result = await self.eki.conversation.run_turn(turn)
        except asyncio.CancelledError:
            raise
        except Exception:
            return  # already logged and released for a retry by the service
        if result.outbound_ids:
            self._notify_outbox()

    async def _sweep(self) -> None:
        """Recover the work of stopped workers: messages claimed by workers silent for
        :attr:`dead_after` (or, claimed without a worker id, whose lease expired) are
        pending again; their sends in flight fail ``DELIVERY_UNKNOWN``."""
        live = set(await self.eki.operations.live_workers(self.dead_after))
        live.add(self.worker_id)  # this worker is alive, whatever its last beat says
        # Broadcasts and alerts: each live worker sends its share of EKI_BROADCAST_RATE.
        self.eki.delivery.share_rate(len(live))
        async with self._claim_lock:
            # Also this worker's own claims whose turn has ended without recording it
            # (the database was unreachable at that moment).
            await self.eki.conversation.recover(
                live_owners=live, owner=self.worker_id,
                answering=set(self._answering.values()))
        await self.eki.delivery.fail_abandoned(live_owners=live)
        await self.eki.staff_messages.release_idle()  # EKI_HANDOFF_IDLE_HOURS
        # Scheduled broadcasts whose time came, interrupted queueing, finished ones.
        await self.eki.broadcasts.tick()

    async def _beat_and_sweep(self) -> None:
        """Beat every :attr:`beat_interval` seconds and sweep every :attr:`sweep_interval`,
        in a task of its own (a dispatcher waiting on a slow provider must not make this
        worker look dead). Beating first: after a database outage this worker is live
        again before it judges the others."""
        next_sweep = 0.0  # at once: a restarted worker picks up what its old self left
        while not self._stopping:
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + self.sweep_interval - 0.1 * self.beat_interval
                try:
                    await self._sweep()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("could not recover the work of stopped workers; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=self.beat_interval)
            if self._stopping:
                return
            await self._heartbeat()

    async def _purge_daily(self) -> None:
        """Delete what is past its retention (EKI_RETENTION_*_DAYS), in batches of at most
        10,000 rows per transaction, every :attr:`purge_every` seconds. Several workers may
        purge at once: each batch deletes rows that still exist."""
        if self.eki.engine is None:
            return  # in-memory storage: nothing kept past the process
        delay = self.purge_delay
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=delay)
            if self._stopping:
                return
            delay = self.purge_every
            try:
                await self.eki.privacy.purge()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retention purge failed; trying again at the next one")

    async def _alerts(self, interval: float) -> None:
        """Evaluate the alert rules now, every ``interval`` seconds, right after each
        progress import of this process, and within :attr:`alert_import_poll` seconds of
        one by another process (docs/alerts.md)."""
        alerts = self.eki.alerts
        while not self._stopping:
            try:
                seen = await alerts.latest_import()
                run = await alerts.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not evaluate the alert rules; retrying later")
                seen = None
            else:
                if run.outbound_ids:
                    self._notify_outbox()
            deadline = time.monotonic() + interval
            while not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0 or await self.eki.alert_trigger.wait(
                        min(left, self.alert_import_poll), stop=self._stopped):
                    break
                try:
                    if await alerts.latest_import() != seen:
                        break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("could not look for new progress imports; retrying")

    def _notify_outbox(self) -> None:
        """New outbox rows: wake the next dispatcher (one that finds work wakes another)."""
        self._next_dispatcher = (self._next_dispatcher + 1) % len(self._outbox_events)
        self._outbox_events[self._next_dispatcher].set()

    async def _dispatch(self, index: int) -> None:
        delivery = self.eki.delivery
        while not self._stopping:
            self.last_beat = time.monotonic()
            try:
                outcomes = await delivery.dispatch_due(channels=self.channels,
                                                       owner=self.worker_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher error; retrying")
                await asyncio.sleep(self.poll_interval)
                continue
            if len(outcomes) >= delivery.batch_size:
                self._notify_outbox()  # a full batch: there may be more, share the work
            else:
                if outcomes:
                    # Later parts to the same recipients waited behind these: look again
                    # (after the gather delay) instead of leaving them to the poll.
                    self._outbox_events[index].set()
                # Drained for now: wait for new rows (set meanwhile: no wait) or the poll
                # (sooner when paced broadcast rows wait for their next tokens), then let a
                # few more replies gather so one claim sends them together.
                paced = delivery.bulk_wait()
                await self._sleep(self._outbox_events[index], None if paced is None else
                                  min(self.poll_interval, max(BULK_STEP, paced)))
                await asyncio.sleep(self.gather_delay)

    async def drain(self, max_rounds: int = 1000) -> None:
        """Process until inbox and outbox are idle (tests, `eki chat`); wrap the call in
        ``asyncio.timeout`` to bound it in time."""
        await self._sweep()
        for _ in range(max_rounds):
            busy = False
            while await self.eki.conversation.process_next(channels=self.channels):
                busy = True
            while await self.eki.delivery.dispatch_due(channels=self.channels):
                busy = True
            if not busy:
                return
        raise RuntimeError("the pipeline kept finding work: is another process feeding it?")


async def run_forever(eki: Eki, *, concurrency: int | None, poll_interval: float) -> None:
    worker = PipelineWorker(eki, concurrency=concurrency, poll_interval=poll_interval)
    try:
        await worker.start()
        await asyncio.Event().wait()
    finally:
        await worker.stop()
