"""Closing the harness is quick, every time: the worker finishes the step it is in instead
of being cancelled inside a transaction (which kept SQLite's write lock until the next
writer's 10 s busy timeout ran out, about one close in three), and a stopped fake server
leaves no handler thread waiting on a client's idle keep-alive connection."""

from __future__ import annotations

import http.client
import threading
import time
from pathlib import Path

from eki_testing.database import sqlite_copy
from eki_testing.graph import FakeGraphAPI
from eki_testing.harness import EkiHarness
from eki_testing.openai import FakeOpenAIServer, answer


def test_the_harness_opens_and_closes_twenty_times_quickly(
        eki_graph: FakeGraphAPI, eki_sqlite_template: Path, tmp_path: Path) -> None:
    opening = closing = 0.0
    with FakeOpenAIServer() as model:
        for round_ in range(20):
            url = sqlite_copy(eki_sqlite_template, tmp_path / f"eki-{round_}.db")
            eki_graph.reset()
            model.then(answer(f"Hola Ana ({round_})"))
            started = time.monotonic()
            harness = EkiHarness.for_database(url, eki_graph, openai_url=model.url,
                                              migrate_first=False).start()
            opening += time.monotonic() - started
            harness.register("Ana María Pérez", "3001234567")
            # The reply has just reached the fake: the worker is still recording it.
            assert harness.say("3001234567", "hola") == f"Hola Ana ({round_})"
            time.sleep(0.004 * (round_ % 8))  # close at different points of its work
            started = time.monotonic()
            harness.stop()
            closing += time.monotonic() - started
    assert closing < 2.0, f"20 closes took {closing:.2f} s (opening them took {opening:.2f} s)"


def _keep_alive_client(server: FakeGraphAPI) -> http.client.HTTPConnection:
    """A client that got an answer and keeps its connection open (HTTP/1.1 keep-alive)."""
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    client.request("POST", f"{server.base_path}/123/messages", body=b"{}",
                   headers={"Content-Type": "application/json"})
    assert client.getresponse().status == 200
    return client


def test_a_stopped_fake_leaves_no_thread_behind() -> None:
    """A client keeping its connection alive no longer keeps a handler thread of a stopped
    fake waiting for the next request."""
    before = set(threading.enumerate())
    server = FakeGraphAPI().start()
    client = _keep_alive_client(server)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    deadline = time.monotonic() + 2
    while (left := set(threading.enumerate()) - before) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not left, f"still running after stop(): {sorted(t.name for t in left)}"
    client.close()


def test_a_fake_closes_the_connections_clients_keep() -> None:
    with FakeGraphAPI() as server:
        clients = [_keep_alive_client(server) for _ in range(2)]
        assert server.close_connections() == 2
        for client in clients:
            client.close()
        server.wait_for(lambda _: server.close_connections() == 0, timeout=2,
                        what="the handler threads to end")
