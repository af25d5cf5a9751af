"""AI assistant benchmark: 500 students ask "¿cómo voy?" at once, a model that takes 1.5 s.

    python bench/bench_llm.py [--students 500] [--delay 1.5] [--runs 3] [--calls-per-answer 1]
                              [--concurrency 256[,512,...]] [--connections 100] [--rounds 1]
                              [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
                              [--json] [diagnostics below]

Needs ``wrk`` (Debian: ``apt-get install -y wrk``). Everything runs on 127.0.0.1, in
throwaway PostgreSQL databases created and dropped here, with child processes that are
always stopped (see bench/bench_pipeline.py, whose helpers this reuses, and
bench/_llm_support.py for the fake model server).

1. A fake OpenAI-compatible server (its own process, the minimal asyncio/uvloop server of
   bench/_light_http.py, its CPU printed): ``POST /v1/chat/completions`` sleeps ``--delay``
   s (asyncio), then answers. ``--calls-per-answer 1`` (default, the goal's setting): the
   final Spanish answer at once, ONE call per answer. ``2``: the first call of a turn gets one
   tool call to ``get_my_progress`` and the second (a ``tool`` message present) a short
   answer built from the tool result. Its ``usage`` is computed from the request: prompt
   tokens of the JSON of messages + tools (tiktoken o200k_base when installed and loadable
   offline, else len/4, which the report says). For every request it records the exact body
   size and the tokens of each part: the fixed system prompt, the tool schemas and the
   variable rest (the student's context line, history, the message, the tool exchange).
2. ``--students`` students (``eki students import``) with a gradebook each (6 courses × 5
   activities, ``eki progress import`` of a generated CSV), a fake Graph API (bench/
   _pipeline_support.py, light too), a DEFAULT ``eki serve`` (then ``--concurrency C`` runs
   when asked) with OPENAI_BASE_URL on the fake model; every student posts "¿cómo voy?" at
   once through wrk (pre-signed webhooks, each once). Every configuration runs ``--runs``
   times (>= 3), each on a fresh copy of the database.
3. Reported per run: replies (exactly one each, and answered by the model, not the fallback),
   receive->reply latency (the message's ``received_at`` in the inbox -> reply accepted by
   the fake Graph API, matched by recipient) p50/p95/max, turns/s, model calls, prompt tokens
   per turn (total, and the variable part outside the fixed system prompt and tools), where
   the time of a turn goes (before the model call, in the model, after it; matched through
   ``safety_identifier``), the inbox over time (pending/processing/done), CPU per process
   (eki, PostgreSQL, both fakes, wrk, other processes); then min–median–max over the runs.
   Goals (issue 19): median p95 <= 4 s on 2 cores with every student answered; variable
   prompt tokens per turn < 400.

``--rounds 2`` asks a second question after every first answer arrived ("¿y en cuál voy
peor?"), so its turn carries history: the token report for a turn mid-conversation.

Diagnostics (their overhead changes the numbers; use them to find where time goes):
  --trace DIR    stage timers, SQL counts and event-loop lag inside ``eki serve``
                 (bench/_pipeline_support.py) plus the assistant's own steps (budget, history,
                 ledger writes, SDK calls, the progress tool)
  --profile DIR  run ``eki serve`` under cProfile; prints self time by package/function
  --tokenizer-path DIR  a folder with tiktoken or bpe_openai for exact o200k_base counts
  --show-request print one whole second-call request (without the tool schemas)
  --keep-logs DIR keep the logs of every process (eki serve/worker, fakes, load generator)
  --eki-env K=V  extra settings for eki (e.g. EKI_DB_POOL_SIZE=60); repeatable
  --workers N    ``eki serve --no-worker`` plus N ``eki worker --concurrency C`` processes
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    EXTRA_ENV,
    HOST,
    Databases,
    Processes,
    _interrupt,
    base_env,
    conninfo,
    eki_env,
    free_port,
    http_json,
    profile_summary,
    wait_ready,
)
from _llm_report import GOAL_P95_MS, QUESTIONS, print_report, round_report
from _llm_support import token_counter
from _pipeline_support import CpuWatch
from _wrk import WrkRun, require_wrk, write_bodies
from bench_pipeline import (
    EKI,
    PHONE_NUMBER_ID,
    PYTHON,
    SUPPORT,
    burst_bodies,
    db_acks,
    prepare_template,
    students,
)
from eki_domain.services.llm_assistant import safety_identifier

HERE = Path(__file__).resolve().parent
#: EKI keys the model's safety_identifier with its secret key; the bench sets one so it can
#: map the fake model's requests back to students.
BENCH_SECRET_KEY = "bench-secret-key-" + "0" * 32
LLM_SUPPORT = str(HERE / "_llm_support.py")
COURSES = ("Matemáticas", "Lenguaje", "Inglés", "Ciencias Naturales", "Ciencias Sociales",
           "Educación Física")
ACTIVITIES = (("Taller 1", 15, 3), ("Quiz 1", 15, 10), ("Taller 2", 20, 24),
              ("Evaluación parcial", 25, 38), ("Proyecto final", 25, 52))


# -- data -------------------------------------------------------------------------------------


def gradebook_csv(path: Path, count: int) -> int:
    """6 courses × 5 activities per student (the last one pending in half the courses),
    scores spread over 1.0-5.0 around 3.8; returns the rows written."""
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["telefono", "curso", "actividad", "nota", "nota_maxima", "peso",
                         "fecha_entrega", "periodo"])
        for i, (_name, phone, _wa_id) in enumerate(students(count)):
            for c, course in enumerate(COURSES):
                for a, (title, weight, day) in enumerate(ACTIVITIES):
                    pending = a == len(ACTIVITIES) - 1 and (i + c) % 2 == 0
                    score = "pendiente" if pending else \
                        f"{min(5.0, 1.8 + ((i * 7 + c * 13 + a * 29) % 33) / 10):.1f}"
                    due = f"2026-{2 + day // 28:02d}-{1 + day % 28:02d}"
                    writer.writerow([phone, course, title, score, "5", weight, due, "2026-1"])
                    rows += 1
    return rows


def prepare(args: argparse.Namespace, dbs: Databases, workdir: Path, secret: str) -> str:
    """The template database: migrated, students imported (bench_pipeline's own roster),
    then their gradebook through ``eki progress import``."""
    args.turns, args.template_sql = args.students, []
    template = prepare_template(args, dbs, workdir, secret)
    grades = workdir / "notas.csv"
    rows = gradebook_csv(grades, args.students)
    started = time.monotonic()
    imported = subprocess.run([EKI, "progress", "import", str(grades), "--json"],
                              env=eki_env(dbs.url(template), secret), capture_output=True,
                              timeout=600, cwd=HERE.parent, check=False)
    if imported.returncode != 0:
        raise RuntimeError(f"eki progress import failed:\n{imported.stdout.decode()[-2000:]}\n"
                           f"{imported.stderr.decode()[-2000:]}")
    stored = int(dbs.scalar(template, "SELECT count(*) FROM results"))
    if stored != rows:
        raise RuntimeError(f"imported {stored} results, expected {rows}:\n"
                           f"{imported.stdout.decode()[-2000:]}")
    with psycopg.connect(conninfo(dbs.url(template)), autocommit=True) as conn:
        conn.execute("ANALYZE")
    args.gradebook = {"results": rows, "import_s": time.monotonic() - started,
                      "students_import_s": args.import_s}
    return template


# -- one run ----------------------------------------------------------------------------------


class InboxWatch:
    """Counts of the inbox and outbox by state, polled while a run goes on (one connection)."""

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(conninfo(url), autocommit=True)
        self.samples: list[dict[str, Any]] = []

    def poll(self) -> None:
        inbox: dict[str, int] = dict(self.conn.execute(
            "SELECT state, count(*) FROM inbound_messages GROUP BY state").fetchall())
        outbox: dict[str, int] = dict(self.conn.execute(
            "SELECT status, count(*) FROM outbound_messages GROUP BY status").fetchall())
        self.samples.append({"t": time.monotonic(), "inbox": inbox, "outbox": outbox})

    def close(self) -> None:
        self.conn.close()


def wait_for_replies(args: argparse.Namespace, graph_url: str, load: WrkRun,
                     expected: int, watch: InboxWatch) -> tuple[bool, bool]:
    """Until ``expected`` replies arrived (True, False), or a stall/the timeout (False, …)."""
    deadline = time.monotonic() + args.timeout
    last_count, last_progress = -1, time.monotonic()
    next_poll = 0.0
    while time.monotonic() < deadline:  # bounded by --timeout, or a stall once all is posted
        now = time.monotonic()
        if now >= next_poll:
            watch.poll()
            next_poll = now + 0.25
        sends = int(http_json(f"{graph_url}/_stats")["sends"])
        if sends != last_count:
            last_count, last_progress = sends, time.monotonic()
        if sends >= expected:
            watch.poll()
            return True, False
        if not load.running():
            return False, False
        if time.monotonic() - last_progress > args.stall_timeout:
            return False, True
        time.sleep(0.05)
    return False, False


def run(args: argparse.Namespace, dbs: Databases, procs: Processes, workdir: Path,
        template: str, secret: str, graph_url: str, llm_url: str, concurrency: int | None,
        index: int = 0) -> dict[str, Any]:
    label = f"{'default' if concurrency is None else f'c{concurrency}'}-run{index}"
    db = dbs.create(f"run{len(dbs.names)}_{label}", template=template)
    http_json(f"{graph_url}/_reset", method="POST")
    http_json(f"{llm_url}/_reset", method="POST")
    port = free_port()
    env = eki_env(dbs.url(db), secret, EKI_WHATSAPP_API_URL=f"{graph_url}/v25.0",
                  EKI_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
                  EKI_WHATSAPP_ACCESS_TOKEN=args.fake_token,
                  OPENAI_API_KEY="sk-bench-" + secrets.token_hex(8),
                  OPENAI_BASE_URL=f"{llm_url}/v1", EKI_OPENAI_MODEL=args.model,
                  EKI_SECRET_KEY=BENCH_SECRET_KEY)
    for key in ("NO_PROXY", "no_proxy"):  # the SDK honours proxy settings: never for us
        env[key] = ",".join(filter(None, [env.get(key, ""), "127.0.0.1", "localhost"]))
    serve = ["serve", "--host", HOST, "--port", str(port)]
    tuning = [] if concurrency is None else ["--concurrency", str(concurrency)]
    serve += ["--no-worker"] if args.workers else tuning
    name = f"eki-{label}"
    server = procs.start(name, eki_command(args, name, serve), env)
    wait_ready(procs, name, f"http://{HOST}:{port}/healthz")
    workers = {}
    for index in range(args.workers):  # the pipeline in separate processes (--workers)
        worker_name = f"eki-{label}-worker{index}"
        workers[f"worker{index}"] = procs.start(worker_name, eki_command(
            args, worker_name, ["worker", *tuning]), env).pid
    time.sleep(1.0 if workers else 0.0)  # let them connect before the burst
    roster = students(args.students)
    expected = {wa_id for _, _, wa_id in roster}
    model_key = BENCH_SECRET_KEY.encode()  # the safety_identifier: an HMAC with this key
    wa_of_sid = {safety_identifier(int(sid), model_key): str(phone).lstrip("+")
                 for sid, phone in dbs.rows(db, "SELECT id, phone FROM students")}
    rounds: list[dict[str, Any]] = []
    watch = CpuWatch({"server": server.pid, "fake_llm": procs.running["fake-openai"].pid,
                      "fake_graph": procs.running["fake-graph"].pid, **workers})
    inbox = InboxWatch(dbs.url(db))
    try:
        for round_no in range(1, args.rounds + 1):
            question = QUESTIONS[min(round_no - 1, len(QUESTIONS) - 1)]
            sends_before = int(http_json(f"{graph_url}/_stats")["sends"])
            calls_before = int(http_json(f"{llm_url}/_stats")["requests"])
            samples_before = len(inbox.samples)
            bodies = workdir / f"{label}-r{round_no}.bodies"
            write_bodies(bodies, burst_bodies(secret, f"{label}r{round_no}{secrets.token_hex(3)}",
                                              [(wa_id, question) for _, _, wa_id in roster]))
            load = WrkRun(workdir, f"http://{HOST}:{port}/webhooks/whatsapp", bodies,
                          connections=args.connections, once=True,
                          log_name=f"wrk-{label}-r{round_no}")
            load.wait_ready()
            if round_no == 1:
                watch.start()
            first_post = time.monotonic()
            complete, stalled = wait_for_replies(args, graph_url, load,
                                                 sends_before + len(roster), inbox)
            usage = watch.stop() if round_no == 1 else None
            wrk = load.finish(stop=True)
            time.sleep(0.5)  # let a duplicate, if any, arrive before counting
            acks = db_acks(dbs.url(db), since=first_post)
            posted = {"first_post": first_post, "acks": acks,
                      "last_ack": max(acks.values(), default=first_post),
                      "ack_p50_ms": wrk["p50_ms"], "ack_p99_ms": wrk["p99_ms"],
                      "statuses": {"200": wrk["ok"], "non-200": wrk["status"]},
                      "errors": wrk["errors"], "cpu_s": wrk["cpu_s"]}
            graph = http_json(f"{graph_url}/_dump", timeout=30)
            llm = http_json(f"{llm_url}/_dump", timeout=60)
            sends = [(to, float(t)) for to, t in graph["sends"][sends_before:]]
            report = round_report(args, round_no, posted, sends, llm["records"][calls_before:],
                                  wa_of_sid, expected, complete, stalled,
                                  inbox.samples[samples_before:])
            report["fake_graph_counters"] = graph["counters"]
            report["fake_llm_counters"] = llm["counters"]
            report["fake_llm_max_in_flight"] = llm["max_in_flight"]
            report["example_request"] = llm.get("example")
            report["wrk_cpu_s"] = float(posted["cpu_s"])
            if usage is not None:
                usage.pop("started_at")
                report["cpu"] = usage
                done = max(report["answered"], 1)
                eki_pct = sum(v for k, v in usage.items()
                              if k.startswith(("server_", "worker")) and k.endswith("_cpu_pct"))
                report["cpu_ms_per_turn"] = {  # CPU time over the window / turns answered
                    "eki": eki_pct * usage["window_s"] * 10 / done,
                    "postgres": usage["postgres_cpu_pct"] * usage["window_s"] * 10 / done,
                    "machine": usage["machine_busy_pct"] * usage["window_s"] * 10 / done,
                }
            rounds.append(report)
            if not complete:
                break
    finally:
        inbox.close()
        for proc_name in [*(f"eki-{label}-{w}" for w in workers), name]:
            procs.stop(proc_name, grace=30.0 if args.trace or args.profile else 10.0)
    inbox_states = dict(dbs.rows(db, "SELECT state, count(*) FROM inbound_messages "
                                     "GROUP BY state"))
    intents = dict(dbs.rows(db, "SELECT coalesce(intent, '-'), count(*) FROM outbound_messages"
                                " GROUP BY 1"))
    ledger = dbs.rows(db, "SELECT outcome, count(*), sum(prompt_tokens), "
                          "sum(completion_tokens), sum(cost_usd) FROM llm_usage GROUP BY 1")
    sessions = dbs.scalar(db, "SELECT sessions FROM pg_stat_database "
                              "WHERE datname = current_database()")
    result: dict[str, Any] = {
        "label": label, "run": index, "concurrency": concurrency, "workers": args.workers,
        "rounds": rounds,
        "inbox_states": inbox_states, "reply_intents": intents,
        "llm_ledger": {str(o): {"calls": n, "prompt_tokens": int(p or 0),
                                "completion_tokens": int(c or 0), "cost_usd": float(u or 0)}
                       for o, n, p, c, u in ledger},
        "db_connections_opened": sessions,
        "server_log_tail": procs.tail(name, 12) if not all(
            r["complete"] for r in rounds) else "",
    }
    main_process = f"eki-{label}-worker0" if args.workers else name
    if args.profile:
        result["profile"] = profile_summary(Path(args.profile) / f"{main_process}.prof", top=25)
    if args.trace:
        trace = Path(args.trace) / f"{main_process}.json"
        if trace.exists():
            result["trace"] = json.loads(trace.read_text())
        extra = trace.with_suffix(".llm.json")
        if extra.exists():
            result["trace_llm"] = json.loads(extra.read_text())
    return result


def eki_command(args: argparse.Namespace, name: str, rest: list[str]) -> list[str]:
    """``eki REST``, under the stage timers (--trace) or cProfile (--profile) when asked."""
    if args.trace:
        return [PYTHON, LLM_SUPPORT, "eki-traced-llm", str(Path(args.trace) / f"{name}.json"),
                "--", *rest]
    if args.profile:
        return [PYTHON, "-m", "cProfile", "-o", str(Path(args.profile) / f"{name}.prof"), EKI,
                *rest]
    return [EKI, *rest]


# -- main -------------------------------------------------------------------------------------


def main() -> int:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--delay", type=float, default=1.5, help="model latency (s)")
    parser.add_argument("--concurrency", default="",
                        help="eki serve --concurrency C runs after the default eki serve (a "
                        "comma list runs each in turn); default: only the default eki serve")
    parser.add_argument("--runs", type=int, default=3,
                        help="repetitions of every configuration (min–median–max reported)")
    parser.add_argument("--calls-per-answer", type=int, default=1, choices=(1, 2),
                        help="1: the model answers at once (one call per answer); 2: it calls "
                        "get_my_progress first")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--connections", type=int, default=100,
                        help="load generator keep-alive connections")
    parser.add_argument("--workers", type=int, default=0,
                        help="eki serve --no-worker plus this many `eki worker --concurrency C` "
                        "processes, each pool 20+5 (default 0: the worker inside eki serve)")
    parser.add_argument("--rounds", type=int, default=1, choices=(1, 2),
                        help="2: a second question once all first answers arrived (history)")
    parser.add_argument("--model", default="gpt-4o-mini")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="longest wait for the replies of one round (s)")
    parser.add_argument("--stall-timeout", type=float, default=30.0,
                        help="give up on a round when all is posted and no reply came for "
                        "this long (s)")
    parser.add_argument("--eki-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--tokenizer-path", metavar="DIR",
                        help="a folder holding tiktoken or bpe_openai (e.g. pip install "
                        "--target DIR bpe-openai) for exact o200k_base counts")
    parser.add_argument("--trace", metavar="DIR",
                        help="time the stages inside eki serve (DIR/eki-c<C>.json)")
    parser.add_argument("--profile", metavar="DIR",
                        help="run eki serve under cProfile (DIR/eki-c<C>.prof)")
    parser.add_argument("--show-request", action="store_true",
                        help="print one whole second-call request (without the tool schemas)")
    parser.add_argument("--keep-logs", metavar="DIR",
                        help="keep every process's log (and the load generator's files) in DIR")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.students < 1 or args.delay < 0:
        parser.error("--students must be >= 1 and --delay >= 0")
    require_wrk()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    concurrencies: list[int | None] = [None]
    concurrencies += [int(x) for x in args.concurrency.split(",") if x.strip()]
    experiment = dict(item.split("=", 1) for item in args.eki_env)
    pool_env: dict[str, str] = {}
    if args.workers:
        # Several processes share PostgreSQL's 100 connections: size each pool the way
        # docs/operations.md says for this many processes (--eki-env overrides it).
        pool_env = {k: v for k, v in {"EKI_DB_POOL_SIZE": "20", "EKI_DB_MAX_OVERFLOW": "5"}
                    .items() if k not in experiment}
    EXTRA_ENV.update({**pool_env, **experiment})
    args.fake_token = "bench-" + secrets.token_hex(8)
    if args.trace and args.profile:
        parser.error("use --trace or --profile, not both")
    for directory in (args.trace, args.profile):
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)

    idle = CpuWatch({})
    idle.start()
    time.sleep(1.0)
    background = idle.stop()["machine_busy_pct"]
    started = time.monotonic()
    secret = secrets.token_hex(16)
    dbs = Databases(args.pg_url, f"eki_bench_llm_{secrets.token_hex(4)}")
    result: dict[str, Any] = {"students": args.students, "delay": args.delay,
                              "calls_per_answer": args.calls_per_answer,
                              "machine_cores": os.cpu_count(), "background_cpu_pct": background,
                              "token_counter": token_counter(args.tokenizer_path)[1],
                              "eki_env": experiment, "pool_env": pool_env,
                              "show_request": args.show_request,
                              "runs": []}
    with contextlib.ExitStack() as stack:
        if args.keep_logs:
            workdir = Path(args.keep_logs)
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="eki-bench-llm-")))
        procs = Processes(workdir)
        try:
            template = prepare(args, dbs, workdir, secret)
            result["gradebook"] = args.gradebook
            graph_port, llm_port = free_port(), free_port()
            procs.start("fake-graph", [PYTHON, SUPPORT, "fake-graph", "--port", str(graph_port),
                                       "--phone-number-id", PHONE_NUMBER_ID, "--token",
                                       args.fake_token], base_env())
            procs.start("fake-openai", [PYTHON, LLM_SUPPORT, "fake-openai", "--port",
                                        str(llm_port), "--delay", str(args.delay),
                                        "--calls-per-answer", str(args.calls_per_answer),
                                        *(["--tokenizer-path", args.tokenizer_path]
                                          if args.tokenizer_path else [])], base_env())
            graph_url, llm_url = f"http://{HOST}:{graph_port}", f"http://{HOST}:{llm_port}"
            wait_ready(procs, "fake-graph", f"{graph_url}/_stats")
            wait_ready(procs, "fake-openai", f"{llm_url}/_stats")
            for concurrency in concurrencies:
                for index in range(args.runs):
                    result["runs"].append(run(args, dbs, procs, workdir, template, secret,
                                              graph_url, llm_url, concurrency, index))
        finally:
            procs.stop_all()
            dbs.drop_all()
    result["wall_s"] = time.monotonic() - started
    defaults = [run["rounds"][0] for run in result["runs"]
                if run["rounds"] and run["concurrency"] is None]
    p95s = [r["latency_ms"]["p95"] for r in defaults]
    every = [r for run in result["runs"] for r in run["rounds"]]
    result["goals"] = {
        "p95_le_4s_default_eki_serve (median of runs, every student answered)": bool(defaults)
        and all(r["exactly_one_each"] == "yes" for r in defaults)
        and statistics.median(p if p is not None else float("inf") for p in p95s)
        <= GOAL_P95_MS,
        "variable_prompt_tokens_lt_400": bool(every) and all(r["goal_tokens_ok"]
                                                             for r in every),
        "answers_by_the_model": bool(result["runs"]) and all(
            set(run["reply_intents"]) == {"llm"} for run in result["runs"]),
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
