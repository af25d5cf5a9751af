"""Waking the pipeline worker when new inbox messages are stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class InboxWakeups(Protocol):
    """The webhook stores messages, the worker answers them: this port connects the two
    without either knowing the other (the worker polls too; a wake-up only saves the
    poll's delay)."""

    def notify(self, messages: int) -> None:
        """This process stored ``messages`` new inbox messages (after commit)."""
        ...

    async def listen(self, wake: Callable[[int], None]) -> None:
        """Call ``wake(n)`` when this process stored ``n`` new messages, and ``wake(0)``
        when another process may have (PostgreSQL ``NOTIFY``). Runs until cancelled."""
        ...
