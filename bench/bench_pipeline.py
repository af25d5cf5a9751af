"""WhatsApp pipeline benchmark: webhook ingest vs a bare reference, and end-to-end turns.

    python bench/bench_pipeline.py [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
                                   [--seconds 10] [--connections 100] [--turns 2000]
                                   [--e2e-concurrency 64] [--json] [diagnostics, see below]

Everything runs on 127.0.0.1, in throwaway PostgreSQL databases created and dropped here.

1. Ingest. ``eki serve --no-worker`` (one uvicorn process, EKI_LOG_LEVEL=WARNING) and a
   minimal reference app (bare Starlette + uvicorn: read the body, check the HMAC, decode
   the JSON, one INSERT through the same async SQLAlchemy + psycopg stack, at most 20
   connections like EKI's default 10+10 but without overflow churn: ``--reference-pool``;
   bench/_pipeline_support.py) run side by side, each driven in turn by the same load
   generator process (httpx2.AsyncClient, ``--connections`` keep-alive connections, 1 s
   warm-up, then ``--seconds``), every request a distinct signed ~1 KB Meta text webhook.
   Reported: 200s per second, non-200s, p50/p99 acknowledgement latency, EKI/reference.
   Goals (issue 3): ratio >= 0.5; p99 <= 250 ms at 100 connections. Afterwards the inbox
   must hold exactly as many rows as 200s were returned.
2. End to end. ``--turns`` students imported with ``eki students import`` (a generated
   CSV), a fake Graph API (its own process) behind EKI_WHATSAPP_API_URL, ``eki serve``
   with its worker (default concurrency, then each of ``--e2e-concurrency``), one signed
   text per student ("hola" / "mis datos") posted as fast as the load generator allows.
   Turns/s = replies accepted by the fake / (last reply arrival - first post);
   receive->reply latency = reply arrival at the fake - webhook acknowledged (by wa_id).
   Goal >= 200 turns/s. Each student must get exactly one reply.

Reading the output: CPU is shown per process (100% = one core) with "other processes"
= the rest of the machine (other jobs on the box depress every number: a WARNING says so).
Per completed turn it also shows EKI and PostgreSQL CPU, transactions, rows read and the
most-read tables, which is where a slow plan shows up.

Diagnostics (their overhead changes the numbers; use them to find where time goes):
  --profile DIR        run each ``eki serve`` under cProfile (DIR/eki-<phase>.prof); prints
                       self time by package and the top functions
  --trace DIR          wall-clock timers around the pipeline's stages, SQL statement counts
                       and event-loop lag inside ``eki serve`` (monkeypatched, no src change)
Experiments (nothing under src/ changes):
  --template-sql SQL   run SQL in the migrated database first (e.g. a candidate index)
  --eki-env K=V        extra settings for every eki process (e.g. EKI_DB_POOL_SIZE=40)
  --e2e-split-worker   also run ``eki serve --no-worker`` + ``eki worker`` side by side
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pipeline_support import CpuWatch, pct

HERE = Path(__file__).resolve().parent
SUPPORT = str(HERE / "_pipeline_support.py")
PYTHON = sys.executable
EKI = str(Path(sys.executable).with_name("eki"))
HOST = "127.0.0.1"
PHONE_NUMBER_ID = "106540352242922"
DEFAULT_CONCURRENCY = 32  # `eki serve --concurrency` default
GOAL_RATIO, GOAL_P99_MS, GOAL_TURNS = 0.5, 250.0, 200.0


# -- databases ----------------------------------------------------------------------------


def conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def db_url(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


class Databases:
    """Throwaway databases on one server, all dropped by :meth:`drop_all`."""

    def __init__(self, base_url: str, prefix: str) -> None:
        self.base = base_url
        self.prefix = prefix
        self.names: list[str] = []

    def create(self, suffix: str, template: str | None = None) -> str:
        name = f"{self.prefix}_{suffix}"
        self.names.append(name)
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        with psycopg.connect(conninfo(self.base), autocommit=True) as admin:
            admin.execute(sql)
        return name

    def url(self, name: str) -> str:
        return db_url(self.base, name)

    def scalar(self, name: str, sql: str) -> Any:
        with psycopg.connect(conninfo(self.url(name))) as conn:
            row = conn.execute(sql).fetchone()
        return None if row is None else row[0]

    def rows(self, name: str, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(conninfo(self.url(name))) as conn:
            return list(conn.execute(sql).fetchall())

    def drop_all(self) -> None:
        with psycopg.connect(conninfo(self.base), autocommit=True) as admin:
            for name in reversed(self.names):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()


# -- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Processes:
    """Child processes with their output in log files; :meth:`stop` terminates then kills."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=HERE.parent)
        log.close()
        self.running[name] = proc
        return proc

    def stop(self, name: str, grace: float = 10.0) -> int | None:
        proc = self.running.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            # SIGINT, not SIGTERM: uvicorn shuts down gracefully on both, but re-raises
            # SIGTERM afterwards (the process dies before cProfile can write its file).
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name, grace=5.0)

    def tail(self, name: str, lines: int = 25) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def http_json(url: str, *, method: str = "GET", timeout: float = 5.0) -> Any:
    """GET/POST one of our own http://127.0.0.1 helpers."""
    data = b"" if method == "POST" else None
    request = urllib.request.Request(url, method=method, data=data)  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def wait_ready(procs: Processes, name: str, url: str, timeout: float = 30.0) -> None:
    proc = procs.running[name]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{procs.tail(name)}")
        try:
            http_json(url, timeout=1.0)
            return
        except (OSError, ValueError):
            time.sleep(0.1)
    raise RuntimeError(f"{name} not ready after {timeout:.0f} s:\n{procs.tail(name)}")


def base_env() -> dict[str, str]:
    """The caller's environment without any EKI_/OPENAI_ setting that could leak in."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("EKI_", "OPENAI_")) and k not in ("PYTHONPATH",)}


EXTRA_ENV: dict[str, str] = {}  # --eki-env


def eki_env(url: str, secret: str, **extra: str) -> dict[str, str]:
    env = base_env()
    env.update(EKI_DATABASE_URL=url, EKI_WHATSAPP_APP_SECRET=secret, EKI_LOG_LEVEL="WARNING",
               **extra)
    env.update(EXTRA_ENV)
    return env


def eki_argv(args: argparse.Namespace, phase: str, *rest: str) -> list[str]:
    if args.trace:
        return [PYTHON, SUPPORT, "eki-traced", str(Path(args.trace) / f"eki-{phase}.json"),
                "--", *rest]
    if args.profile:
        return [PYTHON, "-m", "cProfile", "-o", str(Path(args.profile) / f"eki-{phase}.prof"),
                EKI, *rest]
    return [EKI, *rest]


def run_loadgen(workdir: Path, name: str, config: dict[str, Any], timeout: float
                ) -> dict[str, Any]:
    cfg_path, out_path = workdir / f"{name}.json", workdir / f"{name}.out.json"
    cfg_path.write_text(json.dumps(config))
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.run([PYTHON, SUPPORT, "loadgen", str(cfg_path), str(out_path)],
                              stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                              env=base_env(), cwd=HERE.parent, check=False)
    if proc.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"load generator {name} failed ({proc.returncode}):\n"
                           + log.read_text(errors="replace")[-3000:])
    return dict(json.loads(out_path.read_text()))


# -- phase 1: ingest ----------------------------------------------------------------------


def ingest_phase(args: argparse.Namespace, dbs: Databases, procs: Processes, workdir: Path,
                 template: str, secret: str) -> dict[str, Any]:
    eki_db = dbs.create("ingest", template=template)
    ref_db = dbs.create("reference")
    with psycopg.connect(conninfo(dbs.url(ref_db))) as conn:
        conn.execute("CREATE TABLE inbox (id bigserial PRIMARY KEY, provider_id text NOT NULL "
                     "UNIQUE, wa_id text NOT NULL, body text NOT NULL, "
                     "received_at timestamptz NOT NULL DEFAULT now())")
    eki_port, ref_port = free_port(), free_port()
    eki = procs.start("eki-ingest", eki_argv(args, "ingest", "serve", "--no-worker", "--host",
                                             HOST, "--port", str(eki_port)),
                      eki_env(dbs.url(eki_db), secret))
    ref_env = base_env()
    ref_env["BENCH_APP_SECRET"] = secret
    ref = procs.start("reference", [PYTHON, SUPPORT, "reference", "--port", str(ref_port),
                                    "--db-url", dbs.url(ref_db), "--pool-size",
                                    str(args.reference_pool[0]), "--max-overflow",
                                    str(args.reference_pool[1])], ref_env)
    wait_ready(procs, "eki-ingest", f"http://{HOST}:{eki_port}/healthz")
    wait_ready(procs, "reference", f"http://{HOST}:{ref_port}/healthz")

    results: dict[str, Any] = {}
    for label, port, pid in (("reference", ref_port, ref.pid), ("eki", eki_port, eki.pid)):
        config = {"mode": "ingest", "url": f"http://{HOST}:{port}/webhooks/whatsapp",
                  "secret": secret, "connections": args.connections, "seconds": args.seconds,
                  "warmup_seconds": 1.0, "tag": f"{label[:3]}{secrets.token_hex(3)}",
                  "watch_pids": {"server": pid}}
        results[label] = run_loadgen(workdir, f"loadgen-ingest-{label}", config,
                                     timeout=args.seconds + 60)
    procs.stop("eki-ingest")
    procs.stop("reference")

    eki_rows = int(dbs.scalar(eki_db, "SELECT count(*) FROM inbound_messages"))
    eki_events = int(dbs.scalar(eki_db, "SELECT count(*) FROM webhook_events"))
    ref_rows = int(dbs.scalar(ref_db, "SELECT count(*) FROM inbox"))
    out: dict[str, Any] = {}
    for label, rows in (("reference", ref_rows), ("eki", eki_rows)):
        warm, measured = results[label]["warmup"], results[label]["measured"]
        acknowledged = warm["ok"] + measured["ok"]
        out[label] = {**measured, "warmup_ok": warm["ok"], "inbox_rows": rows,
                      "acknowledged_total": acknowledged, "rows_match": rows == acknowledged}
        out[label]["other_cpu_pct"] = max(0.0, measured["machine_busy_pct"] - sum(
            measured[k] for k in ("server_cpu_pct", "postgres_cpu_pct", "loadgen_cpu_pct")))
    out["eki"]["webhook_events"] = eki_events
    for label, name in (("reference", ref_db), ("eki", eki_db)):
        out[label]["db_connections_opened"] = int(dbs.scalar(
            name, "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"))
    ref_rate = out["reference"]["per_s"]
    out["ratio"] = out["eki"]["per_s"] / ref_rate if ref_rate else None
    p99 = out["eki"]["p99_ms"]
    out["goal_ratio_ok"] = out["ratio"] is not None and out["ratio"] >= GOAL_RATIO
    out["goal_p99_ok"] = p99 is not None and p99 <= GOAL_P99_MS
    out["connections"] = args.connections
    out["seconds"] = args.seconds
    return out


# -- phase 2: end to end ------------------------------------------------------------------


def students(turns: int) -> list[tuple[str, str, str]]:
    """(name, national phone, wa_id) of distinct Colombian mobiles."""
    return [(f"Estudiante {i}", f"{3001000000 + i}", f"57{3001000000 + i}")
            for i in range(turns)]


def prepare_template(args: argparse.Namespace, dbs: Databases, workdir: Path,
                     secret: str) -> str:
    """A migrated database holding ``--turns`` students, copied for each phase."""
    name = dbs.create("template")
    env = eki_env(dbs.url(name), secret)
    upgrade = subprocess.run([EKI, "db", "upgrade"], env=env, capture_output=True, timeout=120,
                             cwd=HERE.parent, check=False)
    if upgrade.returncode != 0:
        raise RuntimeError(f"eki db upgrade failed:\n{upgrade.stdout!r}\n{upgrade.stderr!r}")
    roster = workdir / "estudiantes.csv"
    with roster.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["nombre", "telefono"])
        for student_name, phone, _ in students(args.turns):
            writer.writerow([student_name, phone])
    started = time.monotonic()
    imported = subprocess.run([EKI, "students", "import", str(roster), "--json"], env=env,
                              capture_output=True, timeout=300, cwd=HERE.parent, check=False)
    if imported.returncode != 0:
        raise RuntimeError(f"eki students import failed:\n{imported.stdout.decode()[-2000:]}\n"
                           f"{imported.stderr.decode()[-2000:]}")
    for statement in args.template_sql:  # experiments: e.g. an index a fix would add
        with psycopg.connect(conninfo(dbs.url(name)), autocommit=True) as conn:
            conn.execute(statement)
    count = int(dbs.scalar(name, "SELECT count(*) FROM students"))
    if count != args.turns:
        raise RuntimeError(f"imported {count} students, expected {args.turns}")
    args.import_s = time.monotonic() - started
    return name


def e2e_run(args: argparse.Namespace, dbs: Databases, procs: Processes, workdir: Path,
            template: str, secret: str, fake_url: str, concurrency: int, *,
            split: bool = False) -> dict[str, Any]:
    """One end-to-end run on a fresh copy of the template database. ``split``: the webhook
    in ``eki serve --no-worker`` and the pipeline in a separate ``eki worker`` process."""
    label = f"{'split' if split else 'serve'}-c{concurrency}"
    db = dbs.create(f"e2e_{label.replace('-', '_')}", template=template)
    http_json(f"{fake_url}/_reset", method="POST")
    port = free_port()
    env = eki_env(dbs.url(db), secret, EKI_WHATSAPP_API_URL=f"{fake_url}/v25.0",
                  EKI_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
                  EKI_WHATSAPP_ACCESS_TOKEN=args.fake_token)
    serve_args = ["serve", "--host", HOST, "--port", str(port)]
    serve_args += ["--no-worker"] if split else ["--concurrency", str(concurrency)]
    names = [f"eki-e2e-{label}"]
    watched = {"server": procs.start(names[0], eki_argv(args, f"e2e-{label}", *serve_args),
                                     env).pid}
    if split:
        names.append(f"eki-worker-{label}")
        watched["worker"] = procs.start(names[1], eki_argv(
            args, f"e2e-{label}-worker", "worker", "--concurrency", str(concurrency)), env).pid
    wait_ready(procs, names[0], f"http://{HOST}:{port}/healthz")
    roster = students(args.turns)
    messages = [(wa_id, "hola" if i % 2 == 0 else "mis datos")
                for i, (_, _, wa_id) in enumerate(roster)]
    config = {"mode": "e2e", "url": f"http://{HOST}:{port}/webhooks/whatsapp", "secret": secret,
              "connections": args.connections, "messages": messages,
              "tag": f"{label.replace('-', '')}{secrets.token_hex(3)}"}
    loadgen_name = f"loadgen-e2e-{label}"
    cfg_path, out_path = workdir / f"{loadgen_name}.json", workdir / f"{loadgen_name}.out.json"
    cfg_path.write_text(json.dumps(config))
    watch = CpuWatch({**watched, "fake": procs.running["fake-graph"].pid})
    watch.start()
    loadgen = procs.start(loadgen_name, [PYTHON, SUPPORT, "loadgen", str(cfg_path),
                                         str(out_path)], base_env())
    deadline = time.monotonic() + args.e2e_timeout
    last_count, last_progress, stalled, complete = -1, time.monotonic(), False, False
    while time.monotonic() < deadline:  # bounded: e2e timeout, or a stall once all is posted
        stats = http_json(f"{fake_url}/_stats")
        posting = loadgen.poll() is None
        if stats["sends"] != last_count or posting:
            last_count, last_progress = stats["sends"], time.monotonic()
        if not posting and stats["sends"] >= args.turns:
            complete = True
            break
        if time.monotonic() - last_progress > args.stall_timeout:
            stalled = True
            break
        time.sleep(0.1)
    usage = watch.stop()
    started_at, window = usage.pop("started_at"), usage.pop("window_s")
    time.sleep(0.5)  # let a duplicate, if any, arrive before counting
    dump = http_json(f"{fake_url}/_dump", timeout=30)
    lg_code = procs.stop(loadgen_name, grace=5.0)
    for name in names:
        procs.stop(name, grace=30.0 if args.profile else 10.0)
    if out_path.exists():
        posted = json.loads(out_path.read_text())
    else:  # killed at the deadline: still report what the fake received
        posted = {"first_post": started_at, "last_ack": time.monotonic(), "acks": {},
                  "ack_latencies": [], "cpu_s": 0.0, "statuses": {},
                  "errors": {f"load generator still posting at the deadline ({lg_code})": 1}}

    sends = [(to, float(t)) for to, t in dump["sends"]]
    acks: dict[str, float] = posted["acks"]
    per_recipient = Counter(to for to, _ in sends)
    expected = {wa_id for _, _, wa_id in roster}
    missing = expected - per_recipient.keys()
    duplicates = {to: n for to, n in per_recipient.items() if n > 1}
    strangers = set(per_recipient) - expected
    first_post = float(posted["first_post"])
    last_reply = max((t for _, t in sends), default=first_post)
    span = last_reply - first_post
    latencies = [t - acks[to] for to, t in sends if to in acks]
    ack_latencies = posted.get("ack_latencies", [])
    ack_span = float(posted["last_ack"]) - first_post
    inbox = dict(dbs.rows(db, "SELECT state, count(*) FROM inbound_messages GROUP BY state"))
    outbox = dict(dbs.rows(db, "SELECT status, count(*) FROM outbound_messages GROUP BY status"))
    commits, rollbacks, sessions, returned, fetched = dbs.rows(
        db, "SELECT xact_commit, xact_rollback, sessions, tup_returned, tup_fetched "
        "FROM pg_stat_database WHERE datname = current_database()")[0]
    tables = {name: {"seq_scan": seq, "seq_tup_read": read, "idx_scan": idx,
                     "idx_tup_fetch": ifetch}
              for name, seq, read, idx, ifetch in dbs.rows(
                  db, "SELECT relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch "
                  "FROM pg_stat_all_tables ORDER BY coalesce(seq_tup_read, 0) + "
                  "coalesce(idx_tup_fetch, 0) DESC LIMIT 4")}
    turns_per_s = len(sends) / span if span > 0 else 0.0
    n = len(sends) or 1
    usage["loadgen_cpu_pct"] = 100 * float(posted.get("cpu_s", 0.0)) / window
    eki_cpu = usage["server_cpu_pct"] + usage.get("worker_cpu_pct", 0.0)
    usage["other_cpu_pct"] = max(0.0, usage["machine_busy_pct"] - eki_cpu - sum(
        usage[k] for k in ("postgres_cpu_pct", "fake_cpu_pct", "loadgen_cpu_pct")))
    if duplicates or strangers:
        verdict = "NO"
    elif missing:
        verdict = "not verified: " + ("stalled" if stalled else "timed out")
    else:
        verdict = "yes"
    return {
        "label": label,
        "concurrency": concurrency,
        "split_worker": split,
        "replies": len(sends),
        "turns_per_s": turns_per_s,
        "span_s": span,
        "complete": complete,
        "stalled": stalled,
        "posted_ok": posted["statuses"].get("200", 0),
        "post_statuses": posted["statuses"],
        "post_errors": posted["errors"],
        "ingest_per_s": (posted["statuses"].get("200", 0) / ack_span) if ack_span > 0 else None,
        "webhook_ack_p50_ms": _ms(pct(ack_latencies, 0.50)),
        "webhook_ack_p99_ms": _ms(pct(ack_latencies, 0.99)),
        "latency_p50_ms": _ms(pct(latencies, 0.50)),
        "latency_p95_ms": _ms(pct(latencies, 0.95)),
        "latency_max_ms": _ms(max(latencies, default=None)),
        "fake_counters": dump["counters"],
        "missing": len(missing),
        "duplicates": len(duplicates),
        "unexpected_recipients": len(strangers),
        "exactly_one_each": verdict,
        "inbox_states": inbox,
        "outbox_statuses": outbox,
        "db_transactions_per_turn": (commits + rollbacks) / n,
        "db_rollbacks_per_turn": rollbacks / n,
        "db_connections_opened": sessions,
        "db_rows_read_per_turn": (returned + fetched) / n,
        "db_tables": tables,
        "eki_cpu_ms_per_turn": eki_cpu * window * 10 / n,
        "postgres_cpu_ms_per_turn": usage["postgres_cpu_pct"] * window * 10 / n,
        **usage,
        "goal_ok": turns_per_s >= GOAL_TURNS,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def e2e_phase(args: argparse.Namespace, dbs: Databases, procs: Processes, workdir: Path,
              template: str, secret: str, started: float) -> list[dict[str, Any]]:
    fake_port = free_port()
    procs.start("fake-graph", [PYTHON, SUPPORT, "fake-graph", "--port", str(fake_port),
                               "--phone-number-id", PHONE_NUMBER_ID, "--token", args.fake_token],
                base_env())
    fake_url = f"http://{HOST}:{fake_port}"
    wait_ready(procs, "fake-graph", f"{fake_url}/_stats")
    runs: list[dict[str, Any]] = []
    configs = [(DEFAULT_CONCURRENCY, False)] + [(c, False) for c in args.e2e_concurrency
                                                if c != DEFAULT_CONCURRENCY]
    if args.e2e_split_worker:
        configs.append((DEFAULT_CONCURRENCY, True))
    for concurrency, split in configs:
        elapsed = time.monotonic() - started
        previous = runs[-1]["span_s"] + 5 if runs else 0.0
        if runs and elapsed + previous > args.budget:
            runs.append({"label": f"{'split' if split else 'serve'}-c{concurrency}",
                         "skipped": "time budget (--budget)"})
            continue
        runs.append(e2e_run(args, dbs, procs, workdir, template, secret, fake_url,
                            concurrency, split=split))
    procs.stop("fake-graph")
    return runs


# -- profile summary ----------------------------------------------------------------------


PACKAGES = ("sqlalchemy", "psycopg", "starlette", "uvicorn", "h11", "httpx2", "httpcore2",
            "httpcore", "anyio", "greenlet", "tenacity", "attrs", "eki_domain", "eki_adapters",
            "eki_entrypoints", "asyncio", "json", "logging")


def _package(filename: str, func: str) -> str:
    if filename == "~":  # a builtin: name it by what it is
        if "epoll" in func or "select" in func:
            return "(idle: waiting in epoll)"
        if "greenlet" in func:
            return "greenlet"
        if "socket" in func:
            return "(socket calls)"
        return "(other builtins)"
    parts = Path(filename).parts
    for package in PACKAGES:
        if package in parts:
            return package
    return "(other python)"


def profile_summary(path: Path, top: int = 15) -> dict[str, list[str]]:
    """Self time by package and the top functions by self time. (Cumulative times of
    coroutines are meaningless under cProfile: every resume counts the wait again.)"""
    import pstats

    if not path.exists():
        return {}
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values())
    by_package: Counter[str] = Counter()
    for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in stats.items():
        by_package[_package(filename, func)] += tt
    busy = total - by_package.get("(idle: waiting in epoll)", 0.0)
    packages = [f"{tt:7.2f}s {100 * tt / busy if busy else 0:5.1f}% of busy  {name}"
                for name, tt in by_package.most_common(15) if not name.startswith("(idle")][:14]
    functions = []
    for (filename, line, func), (_cc, nc, tt, _ct, _callers) in sorted(
            stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]:
        short = "/".join(Path(filename).parts[-2:]) if filename != "~" else ""
        functions.append(f"{tt:7.2f}s self {nc:>9} calls  {short}:{line}({func})")
    return {"profiled_s": [f"{total:.2f}", f"{busy:.2f}"], "by_package": packages,
            "by_self": functions}


# -- report -------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


def ok(flag: bool) -> str:
    return "OK" if flag else "MISSED"


def print_report(result: dict[str, Any]) -> None:
    for key, label in (("eki_env", "extra eki environment"), ("template_sql", "extra SQL")):
        if result.get(key):
            print(f"EXPERIMENT: {label}: {result[key]}")
    background = result["background_cpu_pct"]
    if background > 20:
        print(f"WARNING: other processes used {background:.0f}% of a core just before the run "
              "(100% = one core): the numbers below are depressed by that load.")
    ing = result.get("ingest")
    if ing:
        print(f"== Ingest: {ing['connections']} connections, {ing['seconds']:g} s each, "
              "signed ~1 KB text webhooks ==")
        for label in ("reference", "eki"):
            r = ing[label]
            print(f"  {label:9}: {r['per_s']:7.0f} acks/s  p50 {fmt(r['p50_ms'])} ms  "
                  f"p99 {fmt(r['p99_ms'])} ms  max {fmt(r['max_ms'])} ms  non-200 {r['non_200']}"
                  f"  errors {sum(r['errors'].values())}  inbox rows {r['inbox_rows']} vs "
                  f"{r['acknowledged_total']} acknowledged "
                  f"({'match' if r['rows_match'] else 'MISMATCH'})")
            print(f"             cpu (100% = one core): server {r['server_cpu_pct']:.0f}%  "
                  f"postgres {r['postgres_cpu_pct']:.0f}%  loadgen {r['loadgen_cpu_pct']:.0f}%"
                  f"  other processes {r['other_cpu_pct']:.0f}%  machine "
                  f"{r['machine_busy_pct']:.0f}% of {100 * r['machine_cores']}%; database "
                  f"connections opened {r['db_connections_opened']}")
        print(f"  EKI/reference = {fmt(ing['ratio'], '.2f')} (goal >= {GOAL_RATIO}) "
              f"{ok(ing['goal_ratio_ok'])}")
        print(f"  EKI p99 = {fmt(ing['eki']['p99_ms'])} ms (goal <= {GOAL_P99_MS:g} ms at 100 "
              f"connections) {ok(ing['goal_p99_ok'])}  [the bare reference under the same "
              f"load: p99 {fmt(ing['reference']['p99_ms'])} ms]")
    runs = result.get("e2e") or []
    if runs:
        print(f"== End to end: {result['turns']} students, one message each, fake Graph API "
              f"(students imported in {result.get('import_s', 0):.1f} s) ==")
    for r in runs:
        if "skipped" in r:
            print(f"  {r['label']}: skipped ({r['skipped']})")
            continue
        how = ("eki serve --no-worker + eki worker" if r["split_worker"] else "eki serve")
        print(f"  {how}, concurrency {r['concurrency']}: {r['turns_per_s']:.1f} turns/s "
              f"({r['replies']} replies in {r['span_s']:.2f} s"
              f"{'' if r['complete'] else ', INCOMPLETE at the deadline'})  goal >= "
              f"{GOAL_TURNS:g}/s {ok(r['goal_ok'])}")
        print(f"      receive->reply p50 {fmt(r['latency_p50_ms'], '.0f')} ms  p95 "
              f"{fmt(r['latency_p95_ms'], '.0f')} ms  max {fmt(r['latency_max_ms'], '.0f')} ms;"
              f" webhook acks {fmt(r['ingest_per_s'], '.0f')}/s, p50 "
              f"{fmt(r['webhook_ack_p50_ms'], '.0f')} ms p99 {fmt(r['webhook_ack_p99_ms'], '.0f')}"
              f" ms; posts {r['post_statuses']} {r['post_errors'] or ''}")
        print(f"      exactly one reply each: {r['exactly_one_each']} (unanswered "
              f"{r['missing']}, duplicates {r['duplicates']}, unexpected "
              f"{r['unexpected_recipients']}){'  STALLED' if r['stalled'] else ''}; fake "
              f"{r['fake_counters']}; inbox {r['inbox_states']}; outbox {r['outbox_statuses']}")
        cpu = f"eki serve {r['server_cpu_pct']:.0f}%"
        if r["split_worker"]:
            cpu += f"  eki worker {r['worker_cpu_pct']:.0f}%"
        print(f"      cpu (100% = one core): {cpu}  postgres {r['postgres_cpu_pct']:.0f}%  fake "
              f"{r['fake_cpu_pct']:.0f}%  loadgen {r['loadgen_cpu_pct']:.0f}%  other processes "
              f"{r['other_cpu_pct']:.0f}%  machine {r['machine_busy_pct']:.0f}% of "
              f"{100 * r['machine_cores']}%")
        print(f"      per completed turn: eki CPU {r['eki_cpu_ms_per_turn']:.1f} ms, postgres CPU "
              f"{r['postgres_cpu_ms_per_turn']:.1f} ms, {r['db_transactions_per_turn']:.1f} "
              f"transactions, {r['db_rows_read_per_turn']:.0f} rows read; connections opened "
              f"{r['db_connections_opened']}; most read: " + ", ".join(
                  f"{t} (seq {v['seq_scan']}x/{v['seq_tup_read']} rows, index "
                  f"{v['idx_scan']}x/{v['idx_tup_fetch']} rows)"
                  for t, v in list(r["db_tables"].items())[:2]))
    for phase, summary in (result.get("profiles") or {}).items():
        if not summary:
            continue
        print(f"== cProfile of eki serve ({phase}): {summary['profiled_s'][0]} s profiled, "
              f"{summary['profiled_s'][1]} s busy ==")
        print("  self time by package:")
        for line in summary["by_package"]:
            print("   ", line)
        print("  top functions by self time:")
        for line in summary["by_self"]:
            print("   ", line)
    for phase, trace in (result.get("traces") or {}).items():
        lag = trace["loop_lag_ms"]
        print(f"== Stage timings inside eki serve ({phase}; wall time, includes waiting for "
              f"the event loop) ==  loop lag p50 {fmt(lag['p50'])} ms p95 {fmt(lag['p95'])} ms"
              f" max {fmt(lag['max'])} ms; worker wakes {trace['wakes']}; dispatch batch "
              f"sizes {trace['dispatch_batch_sizes']}")
        for name, row in sorted(trace["sections"].items(), key=lambda kv: kv[0]):
            print(f"    {name:48} {row['count']:>7} x  mean {row['mean_ms']:8.2f} ms  max "
                  f"{row['max_ms']:8.1f} ms  total {row['total_s']:7.2f} s")
        print("    SQL statements sent (BEGIN/COMMIT not included): " + ", ".join(
            f"{k} {v}" for k, v in trace.get("statements", {}).items()))
    print(f"total wall time {result['wall_s']:.1f} s")


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    # Ctrl+C, SIGTERM (and SIGINT even when a background shell ignored it) unwind through
    # the finally blocks, so child processes and databases are always cleaned up.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--e2e-concurrency", default="64",
                        help="worker concurrencies tried after the default (32); '' for none")
    parser.add_argument("--e2e-timeout", type=float, default=60.0,
                        help="longest wait for the replies of one end-to-end run (s)")
    parser.add_argument("--stall-timeout", type=float, default=20.0,
                        help="give up on a run when all is posted and no reply came for this "
                        "long (s)")
    parser.add_argument("--budget", type=float, default=170.0,
                        help="skip extra end-to-end runs that would end past this (s)")
    parser.add_argument("--reference-pool", default="20,0", metavar="SIZE,OVERFLOW",
                        help="the reference app's SQLAlchemy pool (default 20,0: the same 20 "
                        "connections as EKI's default 10+10, without overflow churn)")
    parser.add_argument("--eki-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for every eki process (try a setting, e.g. "
                        "EKI_DB_POOL_SIZE=40); repeatable")
    parser.add_argument("--e2e-split-worker", action="store_true",
                        help="also run the pipeline as `eki serve --no-worker` + `eki worker`")
    parser.add_argument("--template-sql", action="append", default=[], metavar="SQL",
                        help="run this SQL in the migrated database before any phase (try a "
                        "schema change, e.g. an index, without touching src/); repeatable")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--profile", metavar="DIR",
                        help="run eki serve under cProfile, writing DIR/eki-<phase>.prof")
    parser.add_argument("--trace", metavar="DIR",
                        help="time the pipeline's stages inside eki serve (monkeypatched "
                        "wrappers, DIR/eki-<phase>.json) and print them")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.trace and args.profile:
        parser.error("use --trace or --profile, not both")
    args.e2e_concurrency = [int(x) for x in args.e2e_concurrency.split(",") if x.strip()]
    args.reference_pool = [int(x) for x in args.reference_pool.split(",")]
    EXTRA_ENV.update(dict(item.split("=", 1) for item in args.eki_env))
    args.fake_token = "bench-" + secrets.token_hex(8)
    args.import_s = 0.0
    for directory in (args.profile, args.trace):
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)

    idle = CpuWatch({})
    idle.start()
    time.sleep(1.0)
    background = idle.stop()["machine_busy_pct"]
    started = time.monotonic()
    secret = secrets.token_hex(16)
    dbs = Databases(args.pg_url, f"eki_bench_{secrets.token_hex(4)}")
    result: dict[str, Any] = {"turns": args.turns, "background_cpu_pct": background,
                              "eki_env": EXTRA_ENV, "reference_pool": args.reference_pool,
                              "template_sql": args.template_sql}
    with tempfile.TemporaryDirectory(prefix="eki-bench-pipeline-") as tmp:
        workdir = Path(tmp)
        procs = Processes(workdir)
        try:
            template = prepare_template(args, dbs, workdir, secret)
            result["import_s"] = args.import_s
            if not args.skip_ingest:
                result["ingest"] = ingest_phase(args, dbs, procs, workdir, template, secret)
            if not args.skip_e2e:
                result["e2e"] = e2e_phase(args, dbs, procs, workdir, template, secret, started)
        finally:
            procs.stop_all()
            dbs.drop_all()
    if args.trace:
        result["traces"] = {p.stem: json.loads(p.read_text())
                            for p in sorted(Path(args.trace).glob("eki-*.json"))}
    if args.profile:
        result["profiles"] = {p.stem: profile_summary(p)
                              for p in sorted(Path(args.profile).glob("eki-*.prof"))}
    result["wall_s"] = time.monotonic() - started
    ing = result.get("ingest")
    runs = [r for r in result.get("e2e") or [] if "skipped" not in r]
    result["goals"] = {
        **({"ingest_ratio": ing["goal_ratio_ok"], "ingest_p99": ing["goal_p99_ok"]}
           if ing else {}),
        **({"e2e_turns_per_s": runs[0]["goal_ok"],
            "e2e_turns_per_s_any_concurrency": any(r["goal_ok"] for r in runs),
            "e2e_no_duplicate_replies": all(r["duplicates"] == 0 and not r["unexpected_recipients"]
                                            for r in runs),
            "e2e_exactly_one_reply_verified": all(r["exactly_one_each"] == "yes"
                                                  for r in runs)} if runs else {}),
    }
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: child processes stopped and databases dropped", file=sys.stderr)
        sys.exit(130)
