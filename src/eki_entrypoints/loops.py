"""Which asyncio event loop EKI's processes run on (``EKI_EVENT_LOOP``).

``auto`` (the default) uses uvloop when it is installed (it is a dependency on Linux and
macOS) and the standard loop otherwise; ``uvloop`` insists on it; ``asyncio`` forces the
standard loop, e.g. to rule uvloop out while debugging. The same choice is given to uvicorn,
so ``eki serve`` and ``eki worker`` run on the same loop. uvloop roughly halves the CPU that
each webhook and each turn costs (bench/bench_pipeline.py, docs/operations.md).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

EVENT_LOOPS = ("auto", "uvloop", "asyncio")

T = TypeVar("T")


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def resolve(choice: str) -> Literal["uvloop", "asyncio"]:
    """The loop ``choice`` (one of :data:`EVENT_LOOPS`) means on this machine."""
    if choice == "asyncio":
        return "asyncio"
    if choice == "uvloop" or uvloop_available():
        return "uvloop"
    return "asyncio"


def http_parser() -> Literal["httptools", "h11"]:
    """The HTTP/1.1 parser uvicorn picks (``http="auto"``): httptools when installed."""
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """A new-loop function for :class:`asyncio.Runner` (``None``: the standard loop)."""
    if resolve(choice) == "asyncio":
        return None
    import uvloop

    return uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """:func:`asyncio.run` on the chosen loop (Ctrl+C still cancels the coroutine)."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(coro)
