"""EKI_EVENT_LOOP: the loop the CLI (and uvicorn) run on."""

from __future__ import annotations

import asyncio

import pytest

from eki_entrypoints import loops


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_prefers_uvloop_when_installed() -> None:
    assert loops.uvloop_available()  # a dependency on this platform
    assert loops.resolve("auto") == "uvloop"
    assert loops.run(loop_module(), "auto").startswith("uvloop")
    assert loops.run(loop_module(), "uvloop").startswith("uvloop")


def test_asyncio_forces_the_standard_loop() -> None:
    assert loops.resolve("asyncio") == "asyncio"
    assert loops.loop_factory("asyncio") is None
    assert loops.run(loop_module(), "asyncio").startswith("asyncio")


def test_auto_falls_back_to_the_standard_loop_without_uvloop(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loops, "uvloop_available", lambda: False)
    assert loops.resolve("auto") == "asyncio"
    assert loops.run(loop_module()).startswith("asyncio")
