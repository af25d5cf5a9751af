"""PostgreSQL restarted under load (``pg_ctlcluster … restart``): a running ``eki serve``
recovers by itself (no restart of EKI), no message is lost and none is answered twice.

It restarts the machine's PostgreSQL server, which breaks every other connection to it:
it runs only when asked — ``EKI_FAULTS=1`` (set by .ci/run) or ``CI=true`` — and is
skipped otherwise, so an ordinary ``pytest`` on a shared machine never restarts it."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from eki_testing.graph import FakeGraphAPI
from tests.faults.test_kill_cycles import Poster
from tests.integration.processes import free_port
from tests.integration.workers import (
    eki_processes,
    logs,
    own_postgres_database,
    wait_until,
    worker_env,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        os.environ.get("EKI_FAULTS") != "1" and os.environ.get("CI") != "true",
        reason="restarts the machine's PostgreSQL: set EKI_FAULTS=1 (or CI=true) to run it"),
]

SENDERS = 120


def _restart_postgres() -> None:
    versions = sorted(os.listdir("/etc/postgresql"))
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main",
                    "restart"], check=True, timeout=60)


@pytest.fixture
def own_database(postgres_url: str) -> Iterator[str]:
    if not Path("/etc/postgresql").is_dir():
        pytest.skip("no local PostgreSQL cluster to restart (/etc/postgresql)")
    with own_postgres_database(postgres_url, "eki_pgrestart") as url:
        yield url


def test_eki_serve_rides_out_a_postgres_restart(own_database: str, tmp_path: Path) -> None:
    senders = [f"5732{n:08d}" for n in range(SENDERS)]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with FakeGraphAPI() as graph, eki_processes(tmp_path) as start:
        server = start(worker_env(own_database, graph), "serve", "--port", str(port))

        def healthy() -> bool:
            try:
                return httpx2.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx2.TransportError:
                return False

        assert wait_until(healthy, 30), logs(tmp_path)
        poster = Poster(lambda: base, senders)
        poster.start()
        assert wait_until(lambda: len(poster.acknowledged) >= SENDERS // 3, 30)
        _restart_postgres()
        poster.join(timeout=90)
        assert not poster.is_alive()
        assert sorted(poster.acknowledged) == senders
        assert wait_until(lambda: all(graph.texts_to(w) for w in senders), 40, step=0.5), (
            f"{sum(1 for w in senders if not graph.texts_to(w))} sender(s) without a "
            f"reply\n{logs(tmp_path)}")
        time.sleep(1)  # a duplicate would show up now
        assert server.poll() is None  # the same process: it recovered by itself
        duplicates = [w for w in senders if len(graph.texts_to(w)) > 1]
        print(f"PostgreSQL restart: {SENDERS} senders, {poster.refused} refused posts "
              f"retried, {len(duplicates)} duplicates")
        assert duplicates == []
