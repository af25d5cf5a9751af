"""Wiring of academic alerts (issue 16): the service built from settings, and the trigger
that makes the worker evaluate the rules right after a progress import."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable

from eki_domain.model.events import AlertsQueued, ImportLanded
from eki_domain.ports.clock import Clock
from eki_domain.ports.consent import ConsentCheck
from eki_domain.services.alerts import AlertPolicy, AlertService, AlertsUnitOfWork, default_rules
from eki_domain.services.messagebus import MessageBus
from eki_entrypoints.settings import Settings


class AlertTrigger:
    """"Evaluate now": set by a committed progress import, awaited by the worker's alert
    loop (one event per event loop; a notification before anyone waits is kept)."""

    def __init__(self) -> None:
        self._events: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event] = (
            weakref.WeakKeyDictionary())

    def _event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        event = self._events.get(loop)
        if event is None:
            event = self._events[loop] = asyncio.Event()
        return event

    def notify(self) -> None:
        for event in list(self._events.values()):
            event.set()

    def on_import(self, event: ImportLanded) -> None:
        if event.kind == "progress":
            self.notify()

    async def wait(self, seconds: float, *, stop: asyncio.Event | None = None) -> bool:
        """Until notified (True), ``seconds`` passed or ``stop`` is set (False)."""
        event = self._event()
        waiters = [asyncio.ensure_future(event.wait())]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter
        notified = event.is_set()
        event.clear()
        return notified


def alert_policy(settings: Settings, channel: str) -> AlertPolicy:
    return AlertPolicy(
        defaults=default_rules(settings.alert_rules, settings.alert_templates()),
        quiet=settings.quiet_schedule(), per_day=settings.alerts_per_day,
        due_hours=settings.alert_due_hours, scale=settings.grading_scale, channel=channel)


def build_alerts(settings: Settings, uow: Callable[[], AlertsUnitOfWork], clock: Clock, *,
                 channel: str, bus: MessageBus, trigger: AlertTrigger,
                 consent: ConsentCheck | None = None,
                 on_queued: Callable[[], None] | None = None) -> AlertService:
    """The alert service; progress imports published on ``bus`` pull ``trigger``;
    ``on_queued`` (the dispatcher's bulk lane) hears of queued alerts."""
    bus.subscribe(ImportLanded, trigger.on_import)
    if on_queued is not None:
        wake = on_queued
        bus.subscribe(AlertsQueued, lambda _event: wake())
    return AlertService(uow, clock, alert_policy(settings, channel), consent=consent,
                        bus=bus)
