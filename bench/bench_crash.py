"""Crash-recovery benchmark: ``kill -9`` of ``eki serve`` while turns wait on a slow model.

    python bench/bench_crash.py [--students 40] [--delay 3] [--runs 3] [--observe 30]
                                [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
                                [--json]

It only measures (issue 19, item 2: "all answered within 15 s of restart"). Per run, on a
fresh copy of a database holding ``--students`` imported students:

1. A fake Graph API and a fake OpenAI server that answers every call after ``--delay`` s
   (one call per answer; bench/_llm_support.py on the light asyncio server) run in their own
   processes; a DEFAULT ``eki serve`` (no tuning flag) uses them.
2. Every student writes "¿cómo voy?" at once (wrk, pre-signed webhooks, each once). When the
   model's requests in flight stop growing (every turn the worker took is waiting on the
   model; with a concurrency below ``--students`` the rest wait in the inbox), the bench
   sends SIGKILL to ``eki serve`` and starts the same command again at once (same port,
   same database).
3. Reported: turns in flight at the kill, replies before the kill, and for each student the
   first reply after the restart: how many within 15 s (the goal: all), within
   ``--observe`` s, still unanswered, and duplicates (a student with two replies); the
   inbox/outbox states at the end and the restarted server's first log lines.

Needs ``wrk`` (Debian: ``apt-get install -y wrk``). Everything runs on 127.0.0.1; processes
and databases are always cleaned up.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    HOST,
    Databases,
    Processes,
    _interrupt,
    base_env,
    eki_env,
    free_port,
    http_json,
    mmm,
    wait_ready,
)
from _pipeline_support import CpuWatch
from _wrk import WrkRun, require_wrk, write_bodies
from bench_pipeline import (
    EKI,
    PHONE_NUMBER_ID,
    PYTHON,
    SUPPORT,
    burst_bodies,
    prepare_template,
    students,
)

HERE = Path(__file__).resolve().parent
LLM_SUPPORT = str(HERE / "_llm_support.py")
GOAL_WINDOW_S = 15.0


def wait_in_flight(llm_url: str, target: int, timeout: float) -> int:
    """Until ``target`` model calls wait, or the count stopped growing for 1 s; the count."""
    deadline = time.monotonic() + timeout
    best, since = 0, time.monotonic()
    while time.monotonic() < deadline:  # bounded by timeout
        now = int(http_json(f"{llm_url}/_stats")["in_flight"])
        if now > best:
            best, since = now, time.monotonic()
        if best >= target or (best > 0 and time.monotonic() - since > 1.0):
            return now
        time.sleep(0.05)
    return best


def one_run(args: argparse.Namespace, dbs: Databases, procs: Processes, workdir: Path,
            template: str, secret: str, graph_url: str, llm_url: str, index: int
            ) -> dict[str, Any]:
    db = dbs.create(f"crash{index}", template=template)
    http_json(f"{graph_url}/_reset", method="POST")
    http_json(f"{llm_url}/_reset", method="POST")
    port = free_port()
    env = eki_env(dbs.url(db), secret, EKI_WHATSAPP_API_URL=f"{graph_url}/v25.0",
                  EKI_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
                  EKI_WHATSAPP_ACCESS_TOKEN=args.fake_token,
                  OPENAI_API_KEY="sk-bench-" + secrets.token_hex(8),
                  OPENAI_BASE_URL=f"{llm_url}/v1")
    env["EKI_LOG_LEVEL"] = "INFO"  # the restarted server's log shows what it reclaims
    for key in ("NO_PROXY", "no_proxy"):  # the SDK honours proxy settings: never for us
        env[key] = ",".join(filter(None, [env.get(key, ""), "127.0.0.1", "localhost"]))
    argv = [EKI, "serve", "--host", HOST, "--port", str(port)]
    first = procs.start(f"eki-{index}-before", argv, env)
    wait_ready(procs, f"eki-{index}-before", f"http://{HOST}:{port}/healthz")
    roster = students(args.students)
    expected = {wa_id for _, _, wa_id in roster}
    bodies = workdir / f"crash{index}.bodies"
    write_bodies(bodies, burst_bodies(secret, f"crash{index}{secrets.token_hex(3)}",
                                      [(wa_id, "¿cómo voy?") for wa_id in sorted(expected)]))
    load = WrkRun(workdir, f"http://{HOST}:{port}/webhooks/whatsapp", bodies,
                  connections=min(args.students, 40), once=True, log_name=f"wrk-crash{index}")
    load.wait_ready()
    in_flight = wait_in_flight(llm_url, args.students, timeout=args.delay + 10)
    replies_before = int(http_json(f"{graph_url}/_stats")["sends"])
    os.killpg(first.pid, signal.SIGKILL)  # kill -9, the whole process group
    first.wait(timeout=10)
    killed_at = time.monotonic()
    procs.running.pop(f"eki-{index}-before", None)
    restart = procs.start(f"eki-{index}-after", argv, env)
    # The fakes must not be what the recovery waits for: their CPU from restart to the end.
    watch = CpuWatch({"eki": restart.pid, "fake_model": procs.running["fake-openai"].pid,
                      "fake_graph": procs.running["fake-graph"].pid})
    watch.start()
    posted = load.finish(stop=True)
    deadline = killed_at + args.observe
    while time.monotonic() < deadline:  # bounded by --observe
        dump = http_json(f"{graph_url}/_dump", timeout=30)
        if {to for to, _ in dump["sends"]} >= expected:
            break
        time.sleep(0.2)
    time.sleep(0.5)  # a duplicate, if any, arrives
    dump = http_json(f"{graph_url}/_dump", timeout=30)
    cpu = watch.stop()
    procs.stop(f"eki-{index}-after")
    first_reply: dict[str, float] = {}
    for to, t in dump["sends"]:
        first_reply.setdefault(str(to), float(t))
    per_recipient = Counter(str(to) for to, _ in dump["sends"])
    after = {to: t - killed_at for to, t in first_reply.items() if t >= killed_at}
    inbox = dict(dbs.rows(db, "SELECT state, count(*) FROM inbound_messages GROUP BY state"))
    outbox = dict(dbs.rows(db, "SELECT status, count(*) FROM outbound_messages GROUP BY status"))
    stored = int(dbs.scalar(db, "SELECT count(*) FROM inbound_messages"))
    log = procs.tail(f"eki-{index}-after", 12)
    return {
        "run": index,
        "stored_before_kill": stored,
        "webhooks_acknowledged": posted["ok"],
        "in_flight_at_kill": in_flight,
        "replies_before_kill": replies_before,
        "answered_within_15s": sum(1 for s in after.values() if s <= GOAL_WINDOW_S),
        "answered_within_observe": len(after),
        "unanswered": len(expected - first_reply.keys()),
        "duplicates": sum(1 for n in per_recipient.values() if n > 1),
        "first_reply_after_restart_s": min(after.values(), default=None),
        "last_reply_after_restart_s": max(after.values(), default=None),
        "inbox_states": inbox,
        "outbox_statuses": outbox,
        "restarted_log_tail": log,
        "cpu_after_restart": cpu,
    }


def main() -> int:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--delay", type=float, default=3.0, help="model latency (s)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--observe", type=float, default=30.0,
                        help="how long after the restart replies are awaited (s)")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    require_wrk()
    if args.runs < 1 or args.students < 1:
        parser.error("--runs and --students must be at least 1")
    args.turns, args.template_sql, args.import_students = args.students, [], True
    args.fake_token = "bench-" + secrets.token_hex(8)
    started = time.monotonic()
    secret = secrets.token_hex(16)
    dbs = Databases(args.pg_url, f"eki_bench_crash_{secrets.token_hex(4)}")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="eki-bench-crash-") as tmp:
        workdir = Path(tmp)
        procs = Processes(workdir)
        try:
            template = prepare_template(args, dbs, workdir, secret)
            graph_port, llm_port = free_port(), free_port()
            procs.start("fake-graph", [PYTHON, SUPPORT, "fake-graph", "--port", str(graph_port),
                                       "--phone-number-id", PHONE_NUMBER_ID, "--token",
                                       args.fake_token], base_env())
            procs.start("fake-openai", [PYTHON, LLM_SUPPORT, "fake-openai", "--port",
                                        str(llm_port), "--delay", str(args.delay),
                                        "--calls-per-answer", "1"], base_env())
            graph_url, llm_url = f"http://{HOST}:{graph_port}", f"http://{HOST}:{llm_port}"
            wait_ready(procs, "fake-graph", f"{graph_url}/_stats")
            wait_ready(procs, "fake-openai", f"{llm_url}/_stats")
            for index in range(args.runs):
                runs.append(one_run(args, dbs, procs, workdir, template, secret, graph_url,
                                    llm_url, index))
        finally:
            procs.stop_all()
            dbs.drop_all()
    result = {"students": args.students, "delay": args.delay, "observe_s": args.observe,
              "runs": runs, "wall_s": time.monotonic() - started}
    within = [r["answered_within_15s"] for r in runs]
    result["goal_all_within_15s"] = bool(runs) and statistics.median(within) >= args.students
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"== kill -9 of a default eki serve while {args.students} students wait on a "
          f"{args.delay:g} s model, restarted at once; {len(runs)} runs ==")
    for r in runs:
        print(f"  run {r['run']}: {r['in_flight_at_kill']} model calls in flight and "
              f"{r['stored_before_kill']} messages stored at the kill, {r['replies_before_kill']}"
              f" replies before it; after the restart: {r['answered_within_15s']} answered "
              f"within {GOAL_WINDOW_S:g} s, {r['answered_within_observe']} within "
              f"{args.observe:g} s, {r['unanswered']} unanswered, {r['duplicates']} duplicates "
              f"(first reply {r['first_reply_after_restart_s'] or 0:.1f} s, last "
              f"{r['last_reply_after_restart_s'] or 0:.1f} s after the kill)")
        print(f"      inbox {r['inbox_states']}; outbox {r['outbox_statuses']}")
        cpu = r["cpu_after_restart"]
        print(f"      cpu from the restart to the last reply (100% = one core): "
              f"eki serve {cpu['eki_cpu_pct']:.0f}%  postgres {cpu['postgres_cpu_pct']:.0f}%  "
              f"fake model {cpu['fake_model_cpu_pct']:.0f}%  fake Graph API "
              f"{cpu['fake_graph_cpu_pct']:.0f}%  machine {cpu['machine_busy_pct']:.0f}% of "
              f"{100 * cpu['machine_cores']:.0f}% over {cpu['window_s']:.1f} s")
    print(f"  answered within {GOAL_WINDOW_S:g} s of the restart: {mmm(within)} of "
          f"{args.students} (min–median–max; goal: all) "
          f"{'OK' if result['goal_all_within_15s'] else 'MISSED'}; unanswered after "
          f"{args.observe:g} s: {mmm([r['unanswered'] for r in runs])}")
    print(f"total wall time {result['wall_s']:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: child processes stopped and databases dropped", file=sys.stderr)
        sys.exit(130)
