"""Broadcast benchmark (issue #16), three parts, each short (the machine is shared):

    python bench/bench_broadcast.py [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--audience 10000] [--runs 3] [--rate 20] [--recipients 600] [--json]
        [--only queue|pace|crash]

(a) queue: a ``--audience``-recipient broadcast on PostgreSQL, in-process: audience resolved
    (exclusions looked up) and one outbox row per recipient queued; ``--runs`` times (each a
    new broadcast). Goal ≤ 2 s.
(b) pace: ``eki serve`` against the light fake Graph API (bench/_light_http.py) sends a
    ``--recipients``-recipient broadcast at ``--rate``/s while other students write (4 a second,
    signed webhooks); reported: the measured send rate (goal: within ±10 %) and webhook →
    reply latency p50/p95/max (goal: p95 ≤ 1 s).
(c) crash: ``eki worker`` sends a ``--recipients``-recipient broadcast (at 50/s at least);
    at 30 % of the sends it gets SIGKILL and is started again; reported: recipients reached
    once, twice (goal 0), never, and the rows' final states.

The fake and the load generator run on the same machine: their CPU is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import HOST, Databases, Processes, conninfo, eki_env, free_port, wait_ready
from _pipeline_support import proc_cpu, signature

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
PYTHON = sys.executable
SUPPORT = str(HERE / "_pipeline_support.py")
EKI = [PYTHON, "-c", "from eki_entrypoints.cli import main; main()"]
PHONE_NUMBER_ID = "106540352242922"
TEMPLATE = ("aviso_bench", "Hola {{1}}: {{2}}")


def env_for(url: str, secret: str, **extra: str) -> dict[str, str]:
    env = eki_env(url, secret, **extra)
    env["PYTHONPATH"] = SRC  # this checkout's code
    for key in ("NO_PROXY", "no_proxy"):
        env[key] = ",".join(filter(None, [env.get(key, ""), "127.0.0.1", "localhost"]))
    return env


def seed(dbs: Databases, name: str, audience: int, repliers: int) -> None:
    """``audience`` students tagged ``difusion`` and ``repliers`` tagged ``otros``, plus an
    approved template, straight into a migrated database."""
    now = datetime.now(UTC)
    with psycopg.connect(conninfo(dbs.url(name))) as conn:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO tags (name) VALUES ('difusion'), ('otros')")
            with cur.copy("COPY students (name, phone, wa_id, active, registered_at, "
                          "updated_at) FROM STDIN") as copy:
                for i in range(audience + repliers):
                    copy.write_row((f"Estudiante {i} Prueba", f"+57{3001000000 + i}",
                                    f"57{3001000000 + i}", True, now, now))
            cur.execute("INSERT INTO student_tags (student_id, tag_id) SELECT s.id, t.id FROM "
                        "students s, tags t WHERE t.name = CASE WHEN s.id <= %s THEN "
                        "'difusion' ELSE 'otros' END", (audience,))
            cur.execute("INSERT INTO message_templates (name, language, category, status, "
                        "body, source, updated_at) VALUES (%s, 'es', 'utility', 'approved', "
                        "%s, 'local', %s)", (TEMPLATE[0], TEMPLATE[1], now))
            # Paper consents collected at enrolment (`eki consent import`): everyone may be
            # written to (the audience still looks each one up).
            cur.execute("INSERT INTO consent_records (phone, role, decision, medium, "
                        "policy_version, decided_at, recorded_at, student_id, recorded_by) "
                        "SELECT phone, 'student', 'granted', 'papel', '1', now(), now(), id, "
                        "'bench' FROM students")
        conn.commit()


def migrated(dbs: Databases, secret: str, suffix: str) -> str:
    import subprocess

    name = dbs.create(suffix)
    done = subprocess.run([*EKI, "db", "upgrade"], env=env_for(dbs.url(name), secret),
                          capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace"))
    return name


# -- (a) audience + queue -----------------------------------------------------------------


async def queue_runs(url: str, runs: int) -> list[dict[str, float]]:
    os.environ["PYTHONPATH"] = SRC
    sys.path.insert(0, SRC)
    from eki_domain.model.broadcasts import Audience
    from eki_domain.model.permissions import Principal
    from eki_domain.services.broadcasts import BroadcastSpec, BroadcastUnitOfWork
    from eki_domain.services.staff import Caller
    from eki_entrypoints.bootstrap import bootstrap
    from eki_entrypoints.settings import Settings

    eki = await bootstrap(Settings(database_url=url))
    caller = Caller(Principal.cli("bench"))
    out = []
    try:
        for n in range(runs):
            spec = BroadcastSpec(name=f"Bench {n}", template=TEMPLATE[0],
                                 params=("{nombre}", "{curso}"),
                                 audience=Audience.of(["difusion"]))
            started = time.perf_counter()
            _, preview = await eki.broadcasts.create(caller, spec, dry_run=True)
            previewed = time.perf_counter()
            broadcast, _ = await eki.broadcasts.create(caller, spec)
            done = time.perf_counter()
            async with eki.uow() as uow:
                counts = (await cast(BroadcastUnitOfWork, uow).broadcasts.status_counts(
                    [broadcast.id or 0])).get(
                    broadcast.id or 0, {})
            out.append({"preview_s": previewed - started, "create_and_queue_s": done - previewed,
                        "recipients": preview.recipients, "rows": sum(counts.values())})
    finally:
        await eki.aclose()
    return out


# -- helpers for (b) and (c) ----------------------------------------------------------------


def get(url: str, timeout: float = 30.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def post(url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=body, method="POST",  # noqa: S310
                                     headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return int(response.status)


def create_broadcast(env: dict[str, str], to_tag: str) -> int:
    import subprocess

    done = subprocess.run([*EKI, "broadcast", "create", "--name", "Bench", "--template",
                           TEMPLATE[0], "--tag", to_tag, "--param", "{nombre}", "--param",
                           "{curso}", "--json"], env=env, capture_output=True, timeout=120,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace"))
    return int(json.loads(done.stdout)["id"])


def template_sends(dump: dict[str, Any], wanted: set[str]) -> list[tuple[str, float]]:
    return [(to, t) for to, t in dump["sends"] if to in wanted]


# -- (b) pacing while conversations go on ------------------------------------------------------


def pace_run(args: argparse.Namespace, dbs: Databases, procs: Processes, template: str,
             secret: str, graph_url: str, graph_pid: int) -> dict[str, Any]:
    db = dbs.create("pace", template=template)
    post(f"{graph_url}/_reset")
    port = free_port()
    env = env_for(dbs.url(db), secret, EKI_WHATSAPP_API_URL=f"{graph_url}/v25.0",
                  EKI_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
                  EKI_WHATSAPP_ACCESS_TOKEN=args.fake_token,
                  EKI_BROADCAST_RATE=str(args.rate), EKI_WHATSAPP_DAILY_LIMIT="100000")
    server = procs.start("eki-pace", [*EKI, "serve", "--host", HOST, "--port", str(port)], env)
    wait_ready(procs, "eki-pace", f"http://{HOST}:{port}/healthz")
    create_broadcast(env, "difusion")
    audience = {f"57{3001000000 + i}" for i in range(args.recipients)}
    repliers = [f"57{3001000000 + args.recipients + i}" for i in range(200)]
    from eki_testing.meta import encode, text_message

    key = secret.encode()
    wrote: dict[str, float] = {}
    cpu_before = proc_cpu(graph_pid)
    started = time.monotonic()
    deadline = started + args.recipients / args.rate * 1.5 + 10
    i = 0
    while time.monotonic() < deadline:  # bounded
        sent = int(get(f"{graph_url}/_stats")["counters"].get("template", 0))
        if sent >= args.recipients:
            break
        if i < len(repliers) and time.monotonic() - started > 2.0:
            wa_id = repliers[i]
            body = encode(text_message(wa_id, "hola", wamid=f"wamid.bench{i:06d}{secret[:6]}",
                                       timestamp=str(int(time.time()))))
            wrote[wa_id] = time.monotonic()
            post(f"http://{HOST}:{port}/webhooks/whatsapp", body,
                 {"content-type": "application/json",
                  "x-hub-signature-256": signature(key, body)})
            i += 1
        time.sleep(0.25)
    time.sleep(1.5)
    dump = get(f"{graph_url}/_dump")
    graph_cpu = proc_cpu(graph_pid) - cpu_before
    eki_cpu = proc_cpu(server.pid)
    procs.stop("eki-pace")
    with psycopg.connect(conninfo(dbs.url(db))) as conn:
        states: dict[str, int] = dict(conn.execute(
            "SELECT status || coalesce('/' || error_code, ''), count(*) FROM outbound_messages "
            "WHERE broadcast_id IS NOT NULL GROUP BY 1").fetchall())
    sends = sorted(t for _, t in template_sends(dump, audience))
    # The rate over the steady part: from the 2nd second to the last send.
    steady = [t for t in sends if t >= sends[0] + 1.0] if sends else []
    rate = ((len(steady) - 1) / (steady[-1] - steady[0])) if len(steady) > 2 else None
    first_reply: dict[str, float] = {}
    for to, t in dump["sends"]:
        if to in wrote and t >= wrote[to] and to not in first_reply:
            first_reply[to] = t
    latencies = sorted(first_reply[w] - wrote[w] for w in first_reply)

    def q(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else None

    return {"broadcast_sends": len(sends), "rate_per_s": rate, "configured_rate": args.rate,
            "rate_error_pct": (100 * (rate - args.rate) / args.rate) if rate else None,
            "replies_expected": len(wrote), "replies_seen": len(first_reply),
            "reply_p50_s": q(0.5), "reply_p95_s": q(0.95),
            "reply_max_s": latencies[-1] if latencies else None,
            "fake_graph_cpu_s": graph_cpu, "eki_cpu_s": eki_cpu, "row_states": states,
            "fake_counters": dump["counters"], "seconds": time.monotonic() - started}


# -- (c) kill -9 at 30 % ------------------------------------------------------------------------


def crash_run(args: argparse.Namespace, dbs: Databases, procs: Processes, template: str,
              secret: str, graph_url: str) -> dict[str, Any]:
    db = dbs.create("crash", template=template)
    post(f"{graph_url}/_reset")
    env = env_for(dbs.url(db), secret, EKI_WHATSAPP_API_URL=f"{graph_url}/v25.0",
                  EKI_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
                  EKI_WHATSAPP_ACCESS_TOKEN=args.fake_token,
                  EKI_BROADCAST_RATE=str(max(args.rate, 50)),
                  EKI_WHATSAPP_DAILY_LIMIT="100000")
    broadcast = create_broadcast(env, "difusion")
    with psycopg.connect(conninfo(dbs.url(db))) as conn:
        total = conn.execute("SELECT count(*) FROM outbound_messages WHERE broadcast_id = %s",
                             (broadcast,)).fetchone()[0]  # type: ignore[index]
    audience = {f"57{3001000000 + i}" for i in range(args.recipients)}
    first = procs.start("eki-crash-1", [*EKI, "worker"], env)
    deadline = time.monotonic() + 60
    at_kill = 0
    while time.monotonic() < deadline:  # bounded
        at_kill = int(get(f"{graph_url}/_stats")["counters"].get("template", 0))
        if at_kill >= 0.3 * total:
            break
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    procs.running.pop("eki-crash-1", None)
    procs.start("eki-crash-2", [*EKI, "worker"], env)
    deadline = time.monotonic() + 60
    states: dict[str, int] = {}
    while time.monotonic() < deadline:  # bounded
        with psycopg.connect(conninfo(dbs.url(db))) as conn:
            rows = conn.execute(
                "SELECT status, coalesce(error_code, ''), count(*) FROM outbound_messages "
                "WHERE broadcast_id = %s GROUP BY 1, 2", (broadcast,)).fetchall()
        states = {f"{s}{'/' + c if c else ''}": int(n) for s, c, n in rows}
        if not any(k.startswith(("queued", "sending")) for k in states):
            break
        time.sleep(0.5)
    time.sleep(1.0)
    procs.stop("eki-crash-2")
    per_recipient = Counter(to for to, _ in template_sends(get(f"{graph_url}/_dump"),
                                                            audience))
    return {"rows": total, "sent_at_kill": at_kill,
            "reached_once": sum(1 for n in per_recipient.values() if n == 1),
            "reached_twice_or_more": sum(1 for n in per_recipient.values() if n > 1),
            "never_reached": len(audience - set(per_recipient)), "final_states": states}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--audience", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--recipients", type=int, default=600,
                        help="recipients of the paced and of the crash broadcast")
    parser.add_argument("--only", choices=("queue", "pace", "crash"))
    parser.add_argument("--fake-token", default="bench-token-" + secrets.token_hex(4))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    secret = secrets.token_hex(16)
    dbs = Databases(args.pg_url, f"eki_bcast_{os.getpid()}")
    report: dict[str, Any] = {"load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        procs = Processes(Path(tmp))
        try:
            if args.only in (None, "queue"):
                name = migrated(dbs, secret, "queue")
                seed(dbs, name, args.audience, 0)
                runs = asyncio.run(queue_runs(dbs.url(name), args.runs))
                report["queue"] = runs
            if args.only in (None, "pace", "crash"):
                template = migrated(dbs, secret, "template")
                seed(dbs, template, args.recipients, 200)
                graph_port = free_port()
                graph = procs.start("graph", [PYTHON, SUPPORT, "fake-graph", "--port",
                                              str(graph_port), "--phone-number-id",
                                              PHONE_NUMBER_ID, "--token", args.fake_token],
                                    env_for(args.pg_url, secret))
                graph_url = f"http://{HOST}:{graph_port}"
                wait_ready(procs, "graph", f"{graph_url}/_stats")
                if args.only in (None, "pace"):
                    report["pace"] = pace_run(args, dbs, procs, template, secret, graph_url,
                                              graph.pid)
                if args.only in (None, "crash"):
                    report["crash"] = crash_run(args, dbs, procs, template, secret,
                                                graph_url)
        finally:
            procs.stop_all()
            dbs.drop_all()
    report["load_average_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return
    for part, value in report.items():
        if part == "queue":
            times = [r["create_and_queue_s"] for r in value]
            print(f"queue: {value[0]['recipients']} recipients, create+queue min–median–max "
                  f"{min(times):.2f}–{statistics.median(times):.2f}–{max(times):.2f} s; "
                  f"preview {min(r['preview_s'] for r in value):.2f} s at best")
        else:
            print(f"{part}: {value}")


if __name__ == "__main__":
    main()
