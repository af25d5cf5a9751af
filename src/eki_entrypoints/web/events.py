"""Live events over Server-Sent Events (issue #15).

``GET /api/events`` (bearer token, for other school systems) and ``GET /admin/events``
(the admin session, for the staff screens: ``/admin/static/live.js``) stream one JSON object
per ``data:`` line — ``{"type", "phone", "at", "student_id", ...}``, see docs/events.md —
filtered by the same rule as the conversations themselves: a teacher receives only the
events of students carrying one of their tags.

Each stream holds a bounded subscription on the live feed (``EKI_EVENTS_QUEUE``; a stream
that falls that far behind is ended with an ``event: reset`` and the client reconnects), a
keep-alive comment every ``EKI_EVENTS_KEEPALIVE_SECONDS``, a ``retry:`` hint, and ends after
``EKI_EVENTS_STREAM_MINUTES`` so the client reconnects and is authenticated again. At most
``EKI_EVENTS_MAX_STREAMS`` streams per process; one more gets 503 ``TOO_MANY_STREAMS``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from eki_domain.errors import InvalidPhoneNumber, LiveFeedClosed
from eki_domain.model.live import LiveEvent, LiveEventType, visible_to
from eki_domain.model.permissions import Action, Principal
from eki_domain.model.phone import PhoneNumber
from eki_domain.ports.live import LiveSubscription
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.settings import Settings
from eki_entrypoints.web.access import api, principal_of
from eki_entrypoints.web.admin.auth import AdminContext, protected
from eki_entrypoints.web.errors import ApiError

log = logging.getLogger("eki.web")

#: The browser waits this long before reconnecting after the stream ended.
RETRY_MS = 3000

#: A new stream waits at most this long (seconds) for the feed to hear new events.
READY_WAIT = 2.0


class StreamSlots:
    """The event streams this process serves, bounded; :meth:`close_all` ends them (the
    server is stopping: an open stream would otherwise hold its shutdown)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.closing = False
        self._streams: set[LiveSubscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def open(self) -> int:
        return len(self._streams)

    def take(self, subscribe: Callable[[], LiveSubscription]) -> LiveSubscription | None:
        """A new subscription from ``subscribe``; None when every slot is taken or the
        server is stopping."""
        if self.closing or len(self._streams) >= self.limit:
            return None
        subscription = subscribe()
        self._streams.add(subscription)
        self._loop = asyncio.get_running_loop()
        return subscription

    def give(self, subscription: LiveSubscription) -> None:
        subscription.close()
        self._streams.discard(subscription)

    def close_all(self) -> None:
        """End every stream and refuse new ones; callable from any thread (a signal
        handler)."""
        self.closing = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def close() -> None:
            for subscription in list(self._streams):
                subscription.close()

        try:
            if _running_loop() is loop:
                close()
            else:
                loop.call_soon_threadsafe(close)
        except RuntimeError:  # the loop just closed
            pass


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def stream_slots(settings: Settings) -> StreamSlots:
    return StreamSlots(settings.events_max_streams)


class EventStream(Response):
    """A ``text/event-stream`` response over one subscription; ends when the client goes,
    the subscription is dropped, or the stream's lifetime is over. ``release`` runs once,
    however it ends."""

    media_type = "text/event-stream"

    def __init__(self, subscription: LiveSubscription, release: Callable[[], None], *,
                 keepalive: float, lifetime: float) -> None:
        self.status_code = 200
        self.background = None
        self.body = b""
        self.raw_headers = [(b"content-type", b"text/event-stream; charset=utf-8"),
                            (b"cache-control", b"no-store"), (b"x-accel-buffering", b"no")]
        self._subscription = subscription
        self._release = release
        self._keepalive = keepalive
        self._lifetime = lifetime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code,
                        "headers": self.raw_headers})
            async with anyio.create_task_group() as group:
                group.start_soon(self._pump, send, group.cancel_scope)
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()
        except OSError:  # the client went away mid-write
            pass
        finally:
            self._release()

    async def _pump(self, send: Send, scope: anyio.CancelScope) -> None:
        async def write(text: str) -> None:
            await send({"type": "http.response.body", "body": text.encode(),
                        "more_body": True})

        await write(f"retry: {RETRY_MS}\n: eki live events\n\n")
        deadline = time.monotonic() + self._lifetime
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = await self._subscription.next(min(self._keepalive, left))
            except LiveFeedClosed as closed:
                await write("event: reset\ndata: "
                            + json.dumps({"reason": closed.reason}) + "\n\n")
                break
            await write(": keep-alive\n\n" if event is None
                        else f"data: {event.to_json()}\n\n")
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        scope.cancel()


#: At most this many types in ``?types=``.
MAX_TYPES = len(LiveEventType)


def _filters(request: Request, settings: Settings) -> tuple[frozenset[str] | None, str | None]:
    """``?types=message.status,handoff.opened`` and ``?phone=+57…`` (400 when invalid)."""
    raw_types, raw_phone = request.query_params.get("types"), request.query_params.get("phone")
    types: frozenset[str] | None = None
    if raw_types is not None:
        names = [name.strip() for name in raw_types[:400].split(",") if name.strip()]
        known = {kind.value for kind in LiveEventType}
        if not names or len(names) > MAX_TYPES or not set(names) <= known:
            raise ApiError(400, "BAD_FILTER",
                           "types: a comma-separated list of " + ", ".join(sorted(known)))
        types = frozenset(names)
    phone: str | None = None
    if raw_phone is not None:
        try:
            phone = PhoneNumber.parse(raw_phone[:64], settings.default_country).e164
        except (InvalidPhoneNumber, ValueError):
            raise ApiError(400, "BAD_FILTER", "phone: not a phone number") from None
    return types, phone


def _accepts(principal: Principal, types: frozenset[str] | None, phone: str | None,
             event: LiveEvent) -> bool:
    return ((types is None or event.type.value in types)
            and (phone is None or event.phone == phone) and visible_to(principal, event))


async def event_stream(request: Request, principal: Principal) -> Response:
    """Open a stream of the events ``principal`` may see, optionally only some types or
    one phone's (503 when every slot is taken). A HEAD request gets the headers alone (no
    subscription, no slot). The headers go out once the feed hears what is published from
    then on (the first stream of a PostgreSQL process waits for its ``LISTEN``, at most
    :data:`READY_WAIT` seconds)."""
    settings: Settings = request.app.state.settings
    types, phone = _filters(request, settings)
    if request.method == "HEAD":
        return Response(media_type="text/event-stream",
                        headers={"Cache-Control": "no-store"})
    eki: Eki = request.app.state.eki
    slots: StreamSlots = request.app.state.event_streams
    subscription = slots.take(functools.partial(
        eki.live.feed.subscribe, functools.partial(_accepts, principal, types, phone),
        limit=settings.events_queue))
    if subscription is None:
        if slots.closing:
            raise ApiError(503, "SHUTTING_DOWN", "this server is stopping; retry later",
                           headers={"Retry-After": "5"})
        log.warning("live events: %d streams open, refusing one more", slots.open)
        raise ApiError(503, "TOO_MANY_STREAMS",
                       f"this server already serves {slots.limit} live-event streams "
                       "(EKI_EVENTS_MAX_STREAMS); retry later",
                       headers={"Retry-After": "30"})
    try:
        if not await eki.live.feed.ready(READY_WAIT):
            log.warning("live events: the feed is not listening after %.0f s (is the "
                        "database reachable?); the stream opens anyway and carries events "
                        "once it listens", READY_WAIT)
    except BaseException:
        slots.give(subscription)
        raise
    return EventStream(subscription, functools.partial(slots.give, subscription),
                       keepalive=settings.events_keepalive_seconds,
                       lifetime=settings.events_stream_minutes * 60.0)


@api(Action.WATCH_EVENTS)
async def api_events(request: Request) -> Response:
    """``GET /api/events``: the live events the token's principal may see."""
    return await event_stream(request, principal_of(request))


@protected(Action.WATCH_EVENTS)
async def admin_events(request: Request, ctx: AdminContext) -> Response:
    """``GET /admin/events``: the live events of the signed-in person (``live.js``)."""
    return await event_stream(request, ctx.principal)
