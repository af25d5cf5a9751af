"""Real ``eki worker`` processes against a database of their own, a fake Graph API and a
fake model: helpers for the crash-recovery and fault tests."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Settings
from eki_testing.graph import FakeGraphAPI
from eki_testing.harness import ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID
from tests.conftest import ADMIN_URL, _conninfo, _migrate, _run
from tests.integration.processes import EKI


@contextmanager
def own_postgres_database(postgres_url: str, prefix: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (dropped at the end): what the worker
    processes find there is this test's only."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        _run(_migrate(url))
        yield url
    finally:
        with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def worker_env(database_url: str, graph: FakeGraphAPI, openai_url: str | None = None,
               **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EKI_", "OPENAI_"))}
    env.update(EKI_DATABASE_URL=database_url, EKI_WHATSAPP_APP_SECRET=APP_SECRET,
               EKI_WHATSAPP_ACCESS_TOKEN=ACCESS_TOKEN,
               EKI_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
               EKI_WHATSAPP_API_URL=graph.url, EKI_LOG_LEVEL="INFO", EKI_REPORT_CACHE_TTL="0")
    # tests/conftest.py decides whether consent is asked (off unless @pytest.mark.consent).
    if "EKI_CONSENT_REQUIRED" in os.environ:
        env["EKI_CONSENT_REQUIRED"] = os.environ["EKI_CONSENT_REQUIRED"]
    if openai_url is not None:
        env.update(OPENAI_API_KEY="sk-eki-test", OPENAI_BASE_URL=openai_url)
    env.update(extra)
    return env


@contextmanager
def eki_processes(workdir: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``eki …`` processes with ``start(env, *args)``; all killed at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
        log = workdir / f"eki-{len(started)}-{args[0]}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen([EKI, *args], cwd=workdir, env=env, stdout=sink,
                                       stderr=subprocess.STDOUT)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)


def logs(workdir: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                     for p in sorted(workdir.glob("eki-*.log")))


def seed(database_url: str, phones: Sequence[str], text: str = "¿cómo voy?") -> list[str]:
    """Register a student per phone and store one message from each (as a webhook would):
    their wa_ids."""
    return _run(_seed(database_url, phones, text))


async def _seed(database_url: str, phones: Sequence[str], text: str) -> list[str]:
    eki = await bootstrap(Settings(database_url=database_url),
                          channel=ConsoleChannel(name="meta"))
    try:
        wa_ids = []
        for n, phone in enumerate(phones):
            student = await eki.registration.register(f"Estudiante Número {n}", phone)
            wa_ids.append(student.phone.wa_id)
        now = eki.clock.now()
        await eki.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
            IncomingMessage(channel="meta", provider_id=f"wamid.SEED{n}", wa_id=wa_id,
                            type=MessageType.TEXT, sent_at=now, text=text)
            for n, wa_id in enumerate(wa_ids)])
        return wa_ids
    finally:
        await eki.aclose()


def wait_until(condition: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()

