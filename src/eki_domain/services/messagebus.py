"""A small message bus: services publish domain events after commit, handlers react.

Handlers are registered in one place, the composition root (``eki_entrypoints.bootstrap``),
so every coupling between features is visible there::

    bus = MessageBus()
    bus.subscribe(GradesImported, lambda event: progress.invalidate(event.student_ids))
    bus.subscribe(MessageReceived, lambda event: wakeups.notify(event.new_messages))

A handler takes the event and returns ``None`` or an awaitable (async handlers are
awaited in order). Subscribing to a base class (``Event``) receives its subclasses too.
Events are published after the transaction that made them committed: the fact stands, so a
handler's failure is logged and never reaches the publisher (nor stops the other handlers).
Services built without a bus get their own empty one: publishing then costs nothing.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from eki_domain.model.events import Event

log = logging.getLogger("eki.events")

E = TypeVar("E", bound=Event)
Handler = Callable[[E], Awaitable[None] | None]


class MessageBus:
    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler[Any]]] = {}

    def subscribe(self, event_type: type[E], handler: Handler[E]) -> Callable[[], None]:
        """Call ``handler`` for every published ``event_type`` (and its subclasses).
        Returns a function that unsubscribes it."""
        handlers = self._handlers.setdefault(event_type, [])
        handlers.append(handler)

        def unsubscribe() -> None:
            if handler in handlers:
                handlers.remove(handler)

        return unsubscribe

    def handlers_for(self, event_type: type[Event]) -> list[Handler[Any]]:
        """The handlers an event of this type reaches, most specific first."""
        return [handler for cls in event_type.__mro__ if issubclass(cls, Event)
                for handler in self._handlers.get(cls, ())]

    async def publish(self, *events: Event) -> None:
        """Run the handlers of each event, in order. Call it after commit."""
        for event in events:
            for handler in self.handlers_for(type(event)):
                try:
                    outcome = handler(event)
                    if inspect.isawaitable(outcome):
                        await outcome
                except Exception:
                    log.exception("handler %r failed on %s", handler, type(event).__name__)
