"""The Graph API is down for a while (503 to everything), then back: every reply is sent
once, and each student's replies arrive in the order they were written — including a
second answer produced while the first was still waiting for the API."""

from __future__ import annotations

import time
from typing import Any

from eki_testing.graph import FakeGraphAPI, server_error
from eki_testing.harness import EkiHarness, harness_settings
from eki_testing.http import Recorded

STUDENTS = 5
#: Shorter than the issue's 60 s to keep CI fast: long enough for every reply to fail its
#: in-channel retries and be rescheduled by the outbox (what a long outage exercises).
OUTAGE_S = 8.0


class GraphWithOutage(FakeGraphAPI):
    def __init__(self) -> None:
        super().__init__()
        self.down = False

    def guard(self, request: Recorded) -> Any:
        return server_error(503) if self.down else None


def _outbound(eki: EkiHarness, phone: str) -> list[dict[str, Any]]:
    return [m for m in reversed(eki.history(phone)) if m["direction"] == "out"]


def test_replies_wait_out_a_graph_api_outage_and_go_out_once_in_order(
        database_url: str) -> None:
    with (GraphWithOutage() as graph,
          EkiHarness(harness_settings(database_url, graph), graph, worker_concurrency=16,
                     migrate_first=database_url.startswith("sqlite")) as eki):
        phones = [f"30066600{n:02d}" for n in range(STUDENTS)]
        for n, phone in enumerate(phones):
            eki.register(f"Estudiante Número {n}", phone)
        graph.down = True
        outage_started = time.monotonic()
        for phone in phones:
            eki.send(phone, "hola")
        # Each first answer exists (in the outbox, failing) before the second question.
        eki.wait_until(lambda: all(len(_outbound(eki, p)) == 1 for p in phones), timeout=20)
        for phone in phones:
            eki.send(phone, "mis datos")
        eki.wait_until(lambda: all(len(_outbound(eki, p)) == 2 for p in phones), timeout=20)
        assert graph.texts_to() == []  # nothing got through
        assert graph.sends()  # but EKI tried
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_started)))
        graph.down = False
        eki.wait_until(lambda: all(len(eki.replies(p)) >= 2 for p in phones), timeout=40)
        time.sleep(0.5)  # a duplicate would show up now
        for phone in phones:
            written = [m["text"] for m in _outbound(eki, phone)]
            assert eki.replies(phone) == written  # once each, in the order written
