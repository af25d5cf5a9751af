"""The pipeline worker: answers the inbox and sends the outbox.

It runs inside ``eki serve`` by default and alone as ``eki worker`` (several processes
may run side by side: claims are leases, so no message is answered twice).
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

from eki_entrypoints.bootstrap import Eki

log = logging.getLogger("eki.worker")


class PipelineWorker:
    """``concurrency`` conversation turns at once (each waits on the assistant) plus one
    dispatcher. ``wake()`` after storing new work skips the poll delay."""

    def __init__(self, eki: Eki, *, concurrency: int = 32, poll_interval: float = 0.5,
                 channels: Sequence[str] | None = None) -> None:
        self.eki = eki
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.sweep_interval = 5.0
        self.channels = tuple(channels) if channels is not None else (eki.channel.name,)
        # Idle turn runners wait for a ticket; one ticket = "look at the inbox once".
        # Webhooks hand out one per new message, a runner that found work hands out one more
        # (so a backlog fans out), and a poller adds one when nothing else did.
        self._tickets: asyncio.Queue[None] = asyncio.Queue()
        self._outbox_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.last_beat = time.monotonic()
        #: This worker's name in the heartbeats table (``/readyz`` "worker alive").
        self.worker_id = f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"
        self._started_at = eki.clock.now()
        self._beat_failed = False

    def wake(self, messages: int = 1) -> None:
        """New messages arrived: ask up to ``messages`` idle runners to look."""
        for _ in range(max(0, min(messages, self.concurrency - self._tickets.qsize()))):
            self._tickets.put_nowait(None)
        self._outbox_event.set()

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not all(t.done() for t in self._tasks)

    async def start(self) -> None:
        self._stopping = False
        self._started_at = self.eki.clock.now()
        self._tasks = [asyncio.create_task(self._turns(i), name=f"eki-turns-{i}")
                       for i in range(self.concurrency)]
        self._tasks.append(asyncio.create_task(self._dispatch(), name="eki-dispatch"))
        self._tasks.append(asyncio.create_task(self._poll(), name="eki-poll"))
        log.info("worker started: %d turn runner(s), channels %s", self.concurrency,
                 ",".join(self.channels))

    async def stop(self) -> None:
        self._stopping = True
        self.wake(self.concurrency)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
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

    async def _sleep(self, event: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=self.poll_interval)
        event.clear()

    async def _poll(self) -> None:
        """Messages stored by another process send no wake-up: look now and then."""
        while not self._stopping:
            await asyncio.sleep(self.poll_interval)
            if self._tickets.empty():
                self._tickets.put_nowait(None)

    async def _turns(self, index: int) -> None:
        conversation = self.eki.conversation
        while not self._stopping:
            await self._tickets.get()
            while not self._stopping:
                self.last_beat = time.monotonic()
                try:
                    result = await conversation.process_next(channels=self.channels)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Already logged and released by the service; keep the runner alive.
                    await asyncio.sleep(self.poll_interval)
                    break
                if result is None:
                    break  # the inbox is empty (for this runner): wait for a ticket
                if self._tickets.qsize() < self.concurrency:
                    self._tickets.put_nowait(None)  # there may be more: ask another runner
                if result.outbound_ids:
                    self._outbox_event.set()

    async def _sweep(self) -> None:
        """Recover the work of stopped workers (expired claims, abandoned sends)."""
        await self.eki.conversation.recover()
        await self.eki.delivery.fail_abandoned()

    async def _dispatch(self) -> None:
        delivery = self.eki.delivery
        next_sweep = 0.0
        while not self._stopping:
            self.last_beat = time.monotonic()
            try:
                if self.last_beat >= next_sweep:
                    next_sweep = self.last_beat + self.sweep_interval
                    await self._sweep()
                    await self._heartbeat()
                outcomes = await delivery.dispatch_due(channels=self.channels)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher error; retrying")
                await asyncio.sleep(self.poll_interval)
                continue
            if not outcomes:
                await self._sleep(self._outbox_event)

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


async def run_forever(eki: Eki, *, concurrency: int, poll_interval: float) -> None:
    worker = PipelineWorker(eki, concurrency=concurrency, poll_interval=poll_interval)
    await worker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await worker.stop()
