"""``eki worker`` stops cleanly on SIGINT and SIGTERM, whenever they arrive: the worker is
stopped (its heartbeat forgotten, so ``/readyz`` stops counting it), the metrics server and
the database closed, and the process exits 128 + the signal number."""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from eki_adapters.sql import create_engine
from eki_adapters.sql.heartbeats import SqlWorkerHeartbeats
from eki_adapters.sql.tables import worker_heartbeats
from eki_entrypoints import cli
from eki_entrypoints.cli import server
from tests.conftest import _run
from tests.integration.processes import free_port


@pytest.mark.parametrize(("sig", "metrics", "inherited"), [
    # A CI step that runs the suite as a background job of a non-interactive shell starts
    # every process with SIGINT ignored: the worker must stop anyway, not only its metrics
    # server (uvicorn's own handler used to stop that, then re-raise into the ignore).
    pytest.param(signal.SIGINT, True, signal.SIG_IGN, id="sigint-inherited-ignored"),
    # What container runtimes and systemd send: a clean stop too, not a kill.
    pytest.param(signal.SIGTERM, False, signal.SIG_DFL, id="sigterm"),
])
def test_a_signal_stops_the_worker_process_cleanly(
    database_url: str, sig: signal.Signals, metrics: bool, inherited: signal.Handlers,
) -> None:
    env = {**os.environ, "EKI_DATABASE_URL": database_url, "EKI_LOG_LEVEL": "INFO"}
    argv = [str(Path(sys.executable).with_name("eki")), "worker", "--concurrency", "2"]
    if metrics:
        argv += ["--metrics-port", str(free_port())]
    previous = signal.signal(signal.SIGINT, inherited)  # the child inherits an ignore
    try:
        worker = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, previous)
    output = _read_until(worker, "eki worker running")
    assert _heartbeats(database_url) == 1
    worker.send_signal(sig)
    try:
        _, errors = worker.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        worker.kill()
        _, rest = worker.communicate()
        pytest.fail(f"the worker ignored {sig.name}:\n{output}{rest.decode()}")
    assert worker.returncode == 128 + sig, output + errors.decode()
    assert _heartbeats(database_url) == 0  # stopped, not killed: it said goodbye


@pytest.mark.parametrize("metrics", [False, True], ids=["alone", "metrics-port"])
def test_a_signal_during_start_up_still_stops_the_worker_and_closes_everything(
    database_url: str, metrics: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl+C lands while ``start()`` is still running, after the first heartbeat was
    committed (the window of a flaky CI run): the worker is stopped all the same."""
    beat = SqlWorkerHeartbeats.beat

    async def first_beat_then_ctrl_c(self: SqlWorkerHeartbeats, *args: Any) -> None:
        await beat(self, *args)
        signal.raise_signal(signal.SIGINT)
        await asyncio.Event().wait()  # start-up goes on until the signal interrupts it

    monkeypatch.setattr(SqlWorkerHeartbeats, "beat", first_beat_then_ctrl_c)
    monkeypatch.setattr(server, "tune_gc", lambda: None)  # not in the test process
    monkeypatch.setenv("EKI_DATABASE_URL", database_url)
    port = free_port()
    before = set(threading.enumerate())

    code = cli.run(["worker", "--concurrency", "2",
                    *(["--metrics-port", str(port)] if metrics else [])])

    assert code == 130
    assert _heartbeats(database_url) == 0  # worker.stop() ran
    for thread in set(threading.enumerate()) - before:  # SQLite connection threads
        thread.join(timeout=10)
        assert not thread.is_alive(), f"{thread.name} left running: engine not disposed"
    with pytest.raises(ConnectionRefusedError):  # the metrics server is closed too
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def _heartbeats(database_url: str) -> int:
    async def count() -> int:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                rows = await conn.scalar(sa.select(sa.func.count()).select_from(
                    worker_heartbeats))
        finally:
            await engine.dispose()
        return int(rows or 0)

    return int(_run(count()))


def _read_until(process: subprocess.Popen[bytes], marker: str, timeout: float = 30) -> str:
    """The process's stderr up to the line containing ``marker``."""
    assert process.stderr is not None
    output = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while marker.encode() not in output:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                process.kill()
                pytest.fail(f"no {marker!r} within {timeout} s:\n{output.decode()}")
            chunk = os.read(process.stderr.fileno(), 65536)
            if not chunk:
                process.wait()
                pytest.fail(f"the worker exited ({process.returncode}):\n{output.decode()}")
            output += chunk
    return output.decode()
