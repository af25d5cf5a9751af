"""Helper processes for bench/bench_pipeline.py (each runs in its own interpreter).

    python bench/_pipeline_support.py reference --port P --db-url URL   # secret: BENCH_APP_SECRET
    python bench/_pipeline_support.py fake-graph --port P --phone-number-id ID --token T

* ``reference``: the minimal webhook receiver EKI is compared with — bare Starlette on
  uvicorn; per request it reads the body, checks X-Hub-Signature-256 (HMAC-SHA256, constant
  time), decodes the JSON, and runs ONE ``INSERT … ON CONFLICT DO NOTHING`` into a one-table
  database through the same stack as EKI (async SQLAlchemy Core + psycopg 3, same pool size).
* ``fake-graph``: a local stand-in for ``graph.facebook.com`` on the minimal asyncio server
  of bench/_light_http.py (its CPU stays a few percent): ``POST /v25.0/<id>/messages``
  answers ``{"messages":[{"id":"wamid.X<n>"}]}`` to text sends and ``{"success":true}`` to
  mark-read, and remembers (recipient, arrival time on CLOCK_MONOTONIC) for each text send.
  ``GET /_stats`` (counters) and ``GET /_dump`` (every send) let the bench read them.
* ``eki-traced``: ``eki`` with stage timers (``--trace``).

The load itself comes from wrk (bench/_wrk.py). Every loop is bounded in count and in
time. All sockets are on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
WEBHOOK_PATH = "/webhooks/whatsapp"

#: A realistic student message: Spanish with accents and an emoji, so Meta's ASCII
#: escaping (``\u00e9``) applies and the whole webhook body is about 1 KB.
LONG_TEXT = (
    "Buenos días profe, le escribo porque no pude entrar a la plataforma ayer y quería "
    "saber cómo voy en matemáticas y en física 🙏. Mi mamá me preguntó por las fallas del "
    "mes pasado, creo que tengo dos por la cita médica del martes. ¿Hay alguna tarea "
    "pendiente para el lunes? También quería preguntar si la evaluación de química se "
    "movió para el jueves, porque en el grupo dijeron que sí pero no estoy segura. Muchas "
    "gracias por su ayuda, que tenga un excelente día."
)
PROFILE_NAME = "María José Rodríguez Ñáñez"


def pct(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- CPU accounting (Linux /proc) ------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu(pid: int, *, reaped_children: bool = False) -> float:
    """User + system CPU seconds of one process (0.0 when it is gone); with
    ``reaped_children``, plus those of its children that exited and were waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    own = int(fields[11]) + int(fields[12])
    children = int(fields[13]) + int(fields[14]) if reaped_children else 0
    return (own + children) / TICK


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of every local ``postgres`` process (server and backends), by pid,
    counting backends that already exited (the postmaster reaps them)."""
    found: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
        except OSError:
            continue
        found[int(entry.name)] = proc_cpu(int(entry.name), reaped_children=True)
    return found


def system_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


class CpuWatch:
    """CPU used between :meth:`start` and :meth:`stop` by some pids, postgres and the box."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def start(self) -> None:
        self._t = time.monotonic()
        self._procs = {name: proc_cpu(pid) for name, pid in self.pids.items()}
        self._pg = postgres_cpu()
        self._sys = system_cpu()

    def stop(self) -> dict[str, float]:
        elapsed = max(time.monotonic() - self._t, 1e-9)
        out = {f"{name}_cpu_pct": 100 * (proc_cpu(pid) - self._procs[name]) / elapsed
               for name, pid in self.pids.items()}
        pg = postgres_cpu()
        out["postgres_cpu_pct"] = 100 * sum(v - self._pg.get(pid, 0.0)
                                            for pid, v in pg.items()) / elapsed
        busy, total = system_cpu()
        ticks = total - self._sys[1]
        cores = os.cpu_count() or 1
        # In "core percent" like the others: 200 = both cores of a 2-core machine busy.
        out["machine_busy_pct"] = 100 * cores * (busy - self._sys[0]) / ticks if ticks else 0.0
        out["machine_cores"] = cores
        out["window_s"] = elapsed
        out["started_at"] = self._t
        return out


def wait_quiet(pids: list[int], *, below_pct: float = 10.0, window: float = 0.5,
               timeout: float = 30.0) -> tuple[float, float]:
    """Wait until ``pids`` together use less than ``below_pct`` of a core over ``window``
    seconds: a freshly started ``eki serve`` trains its intent classifier in a background
    thread (~2 s of CPU). Returns (seconds waited, CPU seconds they used meanwhile)."""
    started = time.monotonic()
    first = last = now = sum(proc_cpu(pid) for pid in pids)
    while time.monotonic() - started < timeout:
        time.sleep(window)
        now = sum(proc_cpu(pid) for pid in pids)
        if 100 * (now - last) / window < below_pct:
            break
        last = now
    return time.monotonic() - started, now - first


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# -- reference app ------------------------------------------------------------------------


def run_reference(port: int, db_url: str, pool_size: int, max_overflow: int) -> None:
    import sqlalchemy as sa
    import uvicorn
    from sqlalchemy.ext.asyncio import create_async_engine
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    secret = os.environ["BENCH_APP_SECRET"].encode()
    engine = create_async_engine(
        sa.make_url(db_url).set(drivername="postgresql+psycopg"),
        pool_size=pool_size, max_overflow=max_overflow,
    )
    insert = sa.text(
        "INSERT INTO inbox (provider_id, wa_id, body) VALUES (:provider_id, :wa_id, :body) "
        "ON CONFLICT (provider_id) DO NOTHING"
    )

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def receive(request: Request) -> Response:
        body = await request.body()
        header = request.headers.get("x-hub-signature-256", "")
        if not hmac.compare_digest(signature(secret, body).encode(), header.encode()):
            return PlainTextResponse("bad signature", status_code=403)
        try:
            payload = json.loads(body)
            message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        except (ValueError, LookupError, TypeError):
            return PlainTextResponse("bad payload", status_code=400)
        async with engine.begin() as conn:
            await conn.execute(insert, {"provider_id": message["id"], "wa_id": message["from"],
                                        "body": body.decode()})
        return PlainTextResponse("OK")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = Starlette(routes=[Route("/healthz", healthz, methods=["GET"]),
                            Route(WEBHOOK_PATH, receive, methods=["POST"])],
                    lifespan=lifespan)
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


# -- fake Graph API -----------------------------------------------------------------------


def run_fake_graph(port: int, phone_number_id: str, token: str) -> None:
    """The fake Graph API on the minimal asyncio server (bench/_light_http.py): a few
    microseconds of CPU per send, so it is never what limits a run (its CPU is reported)."""
    from _light_http import dumps, serve

    messages_path = f"/v25.0/{phone_number_id}/messages"
    expected_auth = f"Bearer {token}".encode()
    sends: list[tuple[str, float]] = []
    counters: Counter[str] = Counter()

    async def handle(method: str, path: str, headers: dict[bytes, bytes], body: bytes
                     ) -> tuple[int, bytes]:
        arrived = time.monotonic()
        if method == "GET" and path == "/_stats":
            return 200, dumps({"sends": len(sends), "counters": dict(counters),
                               "last": sends[-1][1] if sends else None})
        if method == "GET" and path == "/_dump":
            return 200, dumps({"sends": sends, "counters": dict(counters)})
        if method == "POST" and path == "/_reset":
            sends.clear()
            counters.clear()
            return 200, dumps({"ok": True})
        if method != "POST" or path != messages_path:
            counters["not_found"] += 1
            return 404, dumps({"error": {"message": "unknown path", "code": 100}})
        if headers.get(b"authorization") != expected_auth:
            counters["unauthorized"] += 1
            return 401, dumps({"error": {"message": "bad token", "code": 190}})
        try:
            data = json.loads(body)
        except ValueError:
            counters["bad_json"] += 1
            return 400, dumps({"error": {"message": "bad json", "code": 100}})
        if data.get("status") == "read":
            counters["mark_read"] += 1
            return 200, b'{"success":true}'
        to = data.get("to")
        if to and data.get("type") in ("text", "interactive", "template"):
            sends.append((str(to), arrived))
            counters[str(data["type"])] += 1
            return 200, dumps({"messaging_product": "whatsapp",
                               "contacts": [{"input": to, "wa_id": to}],
                               "messages": [{"id": f"wamid.X{len(sends)}"}]})
        counters["other"] += 1
        return 400, dumps({"error": {"message": "unsupported body", "code": 100}})

    serve(HOST, port, handle)


# -- section timing inside eki serve (diagnostics, --trace) ---------------------------------


def run_eki_traced(out_path: str, argv: list[str]) -> None:
    """``eki <argv>`` with wall-clock timers wrapped around the pipeline's stages (by
    monkeypatching, in this process only) and an event-loop lag probe; on exit the totals
    go to ``out_path`` as JSON. Times are wall time: they include waiting for the loop."""
    import atexit
    import functools
    from collections import defaultdict

    from eki_adapters.sql import messaging, uow
    from eki_adapters.whatsapp import meta_channel
    from eki_domain.services import conversation, delivery, ingest
    from eki_entrypoints import cli, worker

    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])  # count, sum, max

    def note(name: str, seconds: float) -> None:
        entry = totals[name]
        entry[0] += 1
        entry[1] += seconds
        entry[2] = max(entry[2], seconds)

    def timed(owner: Any, attr: str, name: str, *, outcome: Any = None) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = await original(*args, **kwargs)
            label = name if outcome is None else f"{name} ({outcome(result)})"
            note(label, time.perf_counter() - started)
            return result

        setattr(owner, attr, wrapper)

    timed(uow.SqlUnitOfWork, "__aenter__", "db: pool checkout (uow enter)")
    timed(uow.SqlUnitOfWork, "commit", "db: commit")
    timed(messaging.SqlInbox, "claim_many", "inbox.claim_many",
          outcome=lambda r: "empty" if not r else "claimed")
    timed(messaging.SqlInbox, "add", "inbox.add")
    timed(messaging.SqlInbox, "complete", "inbox.complete")
    timed(messaging.SqlOutbox, "claim_due", "outbox.claim_due",
          outcome=lambda r: "empty" if not r else "claimed")
    timed(messaging.SqlOutbox, "enqueue", "outbox.enqueue")
    timed(messaging.SqlOutbox, "mark_sent", "outbox.mark_sent")
    timed(messaging.SqlOutbox, "fail_abandoned", "outbox.fail_abandoned")
    timed(messaging.SqlInbox, "add_event", "inbox.add_event (event + message)")
    timed(messaging.SqlWebhookLog, "record", "webhook_events insert")
    timed(ingest.IngestService, "ingest", "IngestService.ingest (one transaction)")
    timed(conversation.ConversationService, "claim_turns", "turn: claim_turns (claim+identify)",
          outcome=lambda r: "idle" if not r else "claimed")
    timed(conversation.ConversationService, "run_turn", "turn: run_turn (decide+commit)")
    timed(conversation.ConversationService, "_decide", "turn: decide (assistant)")
    timed(conversation.ConversationService, "_commit", "turn: commit (outbox+done)")
    timed(delivery.DeliveryService, "dispatch_due", "dispatch: dispatch_due (batch)",
          outcome=lambda r: f"{'empty' if not r else 'batch'}")
    timed(delivery.DeliveryService, "_attempt", "dispatch: _attempt (one row)")
    timed(meta_channel.MetaCloudChannel, "send_text", "graph: send_text")
    timed(meta_channel.MetaCloudChannel, "mark_read", "graph: mark_read")

    import re

    import sqlalchemy as sa

    statements: Counter[str] = Counter()

    def count_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = re.sub(r"\s+", " ", statement).split(" ")
        verb = words[0].upper()
        table = next((w for w, prev in zip(words[1:], words, strict=False)
                      if prev.upper() in ("FROM", "INTO", "UPDATE")), "?")
        statements[f"{verb} {table}"] += 1

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count_statement)
    batch_sizes: list[int] = []
    original_dispatch = delivery.DeliveryService.dispatch_due

    async def dispatch_due(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await original_dispatch(self, *args, **kwargs)
        if result:
            batch_sizes.append(len(result))
        return result

    delivery.DeliveryService.dispatch_due = dispatch_due  # type: ignore[method-assign]

    wakes = [0]
    original_wake = worker.PipelineWorker.wake

    def wake(self: Any, *args: Any, **kwargs: Any) -> None:
        wakes[0] += 1
        original_wake(self, *args, **kwargs)

    worker.PipelineWorker.wake = wake  # type: ignore[method-assign]

    lag: list[float] = []
    original_start = worker.PipelineWorker.start

    async def probe() -> None:
        for _ in range(10_000_000):  # bounded; cancelled at shutdown
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            lag.append(time.perf_counter() - started - 0.01)

    async def start(self: Any) -> None:
        await original_start(self)
        self._tasks.append(asyncio.create_task(probe(), name="bench-lag-probe"))

    worker.PipelineWorker.start = start  # type: ignore[method-assign]

    def dump() -> None:
        Path(out_path).write_text(json.dumps({
            "sections": {k: {"count": v[0], "total_s": v[1], "mean_ms": 1000 * v[1] / v[0]
                             if v[0] else 0.0, "max_ms": 1000 * v[2]}
                         for k, v in totals.items()},
            "dispatch_batch_sizes": Counter(batch_sizes).most_common(8),
            "wakes": wakes[0],
            "statements": dict(statements.most_common()),
            "loop_lag_ms": {"p50": _ms(pct(lag, 0.5)), "p95": _ms(pct(lag, 0.95)),
                            "max": _ms(max(lag, default=None)), "samples": len(lag)},
        }))

    atexit.register(dump)
    sys.argv = ["eki", *argv]
    cli.main()


# -- load generator -----------------------------------------------------------------------


class _Template:
    """A Meta text-message webhook with the wamid and wa_id spliced in per request
    (the JSON is built once with eki_testing.meta, then filled as bytes)."""

    def __init__(self, text: str) -> None:
        from eki_testing.meta import encode, text_message

        body = encode(text_message("@@WAID@@", text, wamid="@@WAMID@@", name=PROFILE_NAME))
        first, rest = body.split(b"@@WAID@@", 1)
        second, third = rest.split(b"@@WAID@@", 1)
        third_a, fourth = third.split(b"@@WAMID@@", 1)
        self._parts = (first, second, third_a, fourth)

    def build(self, wa_id: str, wamid: str) -> bytes:
        a, b, c, d = self._parts
        w = wa_id.encode()
        return b"".join((a, w, b, w, c, wamid.encode(), d))


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    ref = sub.add_parser("reference")
    ref.add_argument("--port", type=int, required=True)
    ref.add_argument("--db-url", required=True)
    ref.add_argument("--pool-size", type=int, default=10)
    ref.add_argument("--max-overflow", type=int, default=10)
    fake = sub.add_parser("fake-graph")
    fake.add_argument("--port", type=int, required=True)
    fake.add_argument("--phone-number-id", required=True)
    fake.add_argument("--token", required=True)
    traced = sub.add_parser("eki-traced")
    traced.add_argument("out")
    traced.add_argument("eki_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.role == "reference":
        run_reference(args.port, args.db_url, args.pool_size, args.max_overflow)
    elif args.role == "eki-traced":
        run_eki_traced(args.out, [a for a in args.eki_args if a != "--"])
    elif args.role == "fake-graph":
        run_fake_graph(args.port, args.phone_number_id, args.token)


if __name__ == "__main__":
    main()
