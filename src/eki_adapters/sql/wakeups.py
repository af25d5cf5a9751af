"""Cross-process wake-ups over PostgreSQL ``LISTEN``/``NOTIFY``.

The webhook's inbox insert also calls ``pg_notify('eki_inbox', '')`` (in the same
transaction, so the notification is delivered only when the messages are committed);
workers in other processes listen on a dedicated connection and look at the inbox at once
instead of at their next poll. Polling stays as the safety net: a lost notification (the
listener reconnecting, a network blip) only costs the poll interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger("eki.wakeups")

INBOX_CHANNEL = "eki_inbox"


def _conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


async def listen_for_inbox(database_url: str, wake: Callable[[], None], *,
                           retry_delay: float = 2.0) -> None:
    """Call ``wake()`` for every inbox notification until cancelled; reconnects after
    errors (logged once per outage)."""
    failing = False
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(_conninfo(database_url),
                                                         autocommit=True)
            async with conn:
                await conn.execute(f"LISTEN {INBOX_CHANNEL}")
                if failing:
                    log.info("inbox wake-ups listening again")
                failing = False
                wake()  # anything stored while we were not listening
                async for _ in conn.notifies():
                    wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not failing:
                log.warning("inbox wake-ups unavailable (%s); polling meanwhile",
                            type(exc).__name__)
            failing = True
        await asyncio.sleep(retry_delay)
