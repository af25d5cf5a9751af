"""The report of bench/bench_llm.py: one round's figures from what the fakes saw, and the
printed summary (min–median–max over the runs)."""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from typing import Any

from _harness import fmt, mmm, ok
from _pipeline_support import pct

GOAL_P95_MS, GOAL_VARIABLE_TOKENS = 4000.0, 400
QUESTIONS = ("¿cómo voy?", "¿y en cuál voy peor?")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1000 * seconds


def summary(values: list[float]) -> dict[str, float | None]:
    return {"n": len(values), "mean": sum(values) / len(values) if values else None,
            "p50": pct(values, 0.5), "p95": pct(values, 0.95),
            "max": max(values, default=None)}


def ms_summary(seconds: list[float]) -> dict[str, float | None]:
    out = summary([1000 * s for s in seconds])
    return out


def round_report(args: argparse.Namespace, round_no: int, posted: dict[str, Any],
                 sends: list[tuple[str, float]], records: list[dict[str, Any]],
                 wa_of_sid: dict[str, str], expected: set[str], complete: bool,
                 stalled: bool, watch_samples: list[dict[str, Any]]) -> dict[str, Any]:
    acks: dict[str, float] = posted["acks"]
    first_post = float(posted["first_post"])
    per_recipient = Counter(to for to, _ in sends)
    missing = expected - per_recipient.keys()
    duplicates = {to: n for to, n in per_recipient.items() if n > 1}
    strangers = set(per_recipient) - expected
    first_reply: dict[str, float] = {}
    for to, t in sends:
        first_reply.setdefault(to, t)
    latencies = [t - acks[to] for to, t in first_reply.items() if to in acks]
    last_reply = max(first_reply.values(), default=first_post)
    span = last_reply - first_post

    calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
    unknown_sid = 0
    for record in records:
        wa_id = wa_of_sid.get(str(record.get("sid")))
        if wa_id is None:
            unknown_sid += 1
            continue
        calls[wa_id].append(record)
    calls_per_turn = Counter(len(v) for v in calls.values())

    # Where a turn's time goes (only turns with exactly the 2 expected calls).
    phases: dict[str, list[float]] = defaultdict(list)
    tokens_turn: dict[str, list[float]] = defaultdict(list)
    for wa_id, turn in calls.items():
        turn.sort(key=lambda r: r["t_in"])
        total = sum(r["prompt_tokens"] for r in turn)
        tokens_turn["prompt_total"].append(total)
        tokens_turn["variable"].append(sum(r["tokens"]["variable"] for r in turn))
        tokens_turn["variable_text"].append(sum(r["text_tokens"]["variable"] for r in turn))
        for part in ("context", "history", "user", "tool_exchange"):
            tokens_turn[part].append(sum(r["tokens"][part] for r in turn))
            tokens_turn[f"{part}_text"].append(sum(r["text_tokens"][part] for r in turn))
        ack, reply = acks.get(wa_id), first_reply.get(wa_id)
        if [r["kind"] for r in turn] == ["final"]:  # one call per answer
            (only,) = turn
            if ack is not None:
                phases["ack -> model call arrives"].append(only["t_in"] - ack)
            phases["model call (server)"].append(only["t_out"] - only["t_in"])
            if reply is not None:
                phases["answer sent -> reply at Graph API"].append(reply - only["t_out"])
            continue
        if [r["kind"] for r in turn] != ["tool_call", "final"]:
            continue
        first, second = turn
        if ack is not None:
            phases["ack -> 1st model call arrives"].append(first["t_in"] - ack)
        phases["1st model call (server)"].append(first["t_out"] - first["t_in"])
        phases["1st answer sent -> 2nd call arrives"].append(second["t_in"] - first["t_out"])
        phases["2nd model call (server)"].append(second["t_out"] - second["t_in"])
        if reply is not None:
            phases["2nd answer sent -> reply at Graph API"].append(reply - second["t_out"])
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_kind[record["kind"]].append(record)
    per_call = {}
    for kind, items in by_kind.items():
        per_call[kind] = {
            "calls": len(items),
            "body_bytes": summary([r["body_bytes"] for r in items]),
            "prompt_tokens": summary([r["prompt_tokens"] for r in items]),
            "variable_tokens": summary([r["tokens"]["variable"] for r in items]),
            "variable_text_tokens": summary([r["text_tokens"]["variable"] for r in items]),
            "fixed_system_text_tokens": max((r["text_tokens"]["fixed_system"] for r in items),
                                            default=0),
            "fixed_system_tokens": max((r["tokens"]["fixed_system"] for r in items), default=0),
            "tools_tokens": max((r["tokens"]["tools"] for r in items), default=0),
            "parts_tokens_mean": {p: sum(r["tokens"][p] for r in items) / len(items)
                                  for p in ("context", "history", "user", "tool_exchange")},
        }
    # The inbox over time: when did the last message leave "pending"?
    timeline = []
    drained_at = None
    for sample in watch_samples:
        rel = sample["t"] - first_post
        pending = int(sample["inbox"].get("pending", 0))
        timeline.append({"t_s": round(rel, 2), "pending": pending,
                         "processing": int(sample["inbox"].get("processing", 0)),
                         "done": int(sample["inbox"].get("done", 0)),
                         "outbox_queued": int(sample["outbox"].get("queued", 0))})
        if pending > 0:
            drained_at = None  # pending again (or still): not drained yet
        elif drained_at is None and rel > 0 and sample["inbox"]:
            drained_at = rel  # the first sample of the final stretch with nothing pending
    if duplicates or strangers:
        verdict = "NO"
    elif missing:
        verdict = "not verified: " + ("stalled" if stalled else "timed out")
    else:
        verdict = "yes"
    p95 = _ms(pct(latencies, 0.95))
    variable = tokens_turn["variable"]
    return {
        "round": round_no,
        "question": QUESTIONS[min(round_no - 1, len(QUESTIONS) - 1)],
        "replies": len(sends),
        "answered": len(first_reply.keys() & expected),
        "missing": len(missing),
        "duplicates": len(duplicates),
        "unexpected_recipients": len(strangers),
        "exactly_one_each": verdict,
        "complete": complete,
        "stalled": stalled,
        "post_statuses": posted["statuses"],
        "post_errors": posted["errors"],
        "post_span_s": float(posted["last_ack"]) - first_post,
        "webhook_ack_p50_ms": posted["ack_p50_ms"],
        "webhook_ack_p99_ms": posted["ack_p99_ms"],
        "latency_ms": ms_summary(latencies),
        "span_s": span,
        "turns_per_s": len(first_reply) / span if span > 0 else 0.0,
        "model_calls": len(records),
        "model_calls_by_kind": {k: len(v) for k, v in by_kind.items()},
        "calls_per_turn": {str(k): v for k, v in sorted(calls_per_turn.items())},
        "calls_unmatched": unknown_sid,
        "schema_ok": all(r.get("schema_ok", True) for r in records),
        "tool_ids_match": all(r.get("tool_ids_match", True) for r in records),
        "fixed_prompt_matches": all(r["fixed_matches"] for r in records),
        "stored": sorted({str(r.get("store")) for r in records}),
        "per_call": per_call,
        "tokens_per_turn": {k: summary(v) for k, v in tokens_turn.items()},
        "phases_ms": {k: ms_summary(v) for k, v in phases.items()},
        "inbox_drained_s": drained_at,
        "inbox_timeline": timeline,
        "goal_p95_ok": p95 is not None and p95 <= GOAL_P95_MS and verdict == "yes",
        "goal_tokens_ok": bool(variable) and max(variable) < GOAL_VARIABLE_TOKENS,
    }


# -- report -----------------------------------------------------------------------------------


def _s(stats: dict[str, Any], spec: str = ".0f") -> str:
    return (f"p50 {fmt(stats.get('p50'), spec)}  p95 {fmt(stats.get('p95'), spec)}  "
            f"max {fmt(stats.get('max'), spec)}")


def _print_tokens(r: dict[str, Any]) -> None:
    """Token figures of one run (KeyError when the run recorded none)."""
    tok = r["tokens_per_turn"]
    print(f"    prompt tokens per turn (both calls, usage = tokens of the JSON of "
          f"messages + tools): mean {fmt(tok['prompt_total']['mean'], '.0f')} (max "
          f"{fmt(tok['prompt_total']['max'], '.0f')})")
    def mean(key: str, tok: dict[str, Any] = tok) -> str:
        return fmt(tok[key]["mean"], ".0f")

    print(f"    variable part per turn (outside the fixed system prompt and tools): "
          f"as JSON mean {mean('variable')} max {fmt(tok['variable']['max'], '.0f')} "
          f"(goal < {GOAL_VARIABLE_TOKENS}) = context {mean('context')} + history "
          f"{mean('history')} + message {mean('user')} + tool call/result "
          f"{mean('tool_exchange')}; as text read by the model mean "
          f"{mean('variable_text')} max {fmt(tok['variable_text']['max'], '.0f')} = "
          f"{mean('context_text')} + {mean('history_text')} + {mean('user_text')} + "
          f"{mean('tool_exchange_text')}  -> {ok(r['goal_tokens_ok'])}")
    for kind, c in r["per_call"].items():
        print(f"      {kind:9} call: body {fmt(c['body_bytes']['mean'], '.0f')} B, prompt "
              f"{fmt(c['prompt_tokens']['mean'], '.0f')} tokens = system prompt "
              f"{c['fixed_system_tokens']} + tools {c['tools_tokens']} + variable "
              f"{fmt(c['variable_tokens']['mean'], '.0f')} (max "
              f"{fmt(c['variable_tokens']['max'], '.0f')}; as text "
              f"{fmt(c['variable_text_tokens']['mean'], '.0f')})")


def print_report(result: dict[str, Any]) -> None:
    cores = result["machine_cores"]
    print(f"== AI assistant: {result['students']} students ask at once, model delay "
          f"{result['delay']:g} s, {cores} cores{'' if cores == 2 else ' (goal is for 2)'} ==")
    if result["background_cpu_pct"] > 20:
        print(f"WARNING: other processes used {result['background_cpu_pct']:.0f}% of a core "
              "just before the run: the numbers below are depressed by that load.")
    grade = result.get("gradebook", {})
    print(f"  data: {result['students']} students + {grade.get('results', 0)} results "
          f"(6 courses × 5 activities each; import {grade.get('import_s', 0):.1f} s); tokens "
          f"counted by {result['token_counter']}")
    if result.get("pool_env"):
        print(f"  pools sized for several processes (docs/operations.md): {result['pool_env']}")
    if result.get("eki_env"):
        print(f"  EXPERIMENT: extra eki environment {result['eki_env']}")
    for run in result["runs"]:
        tuning = "" if run["concurrency"] is None else f" --concurrency {run['concurrency']}"
        if run.get("workers"):
            print(f"-- run {run['run']}: eki serve --no-worker + {run['workers']} × eki worker"
                  f"{tuning} --")
        else:
            print(f"-- run {run['run']}: eki serve{tuning or ' (default settings)'} --")
        for r in run["rounds"]:
            lat = r["latency_ms"]
            print(f"  round {r['round']} ({r['question']!r}): {r['answered']}/"
                  f"{result['students']} answered, exactly one reply each: "
                  f"{r['exactly_one_each']} (missing {r['missing']}, duplicates "
                  f"{r['duplicates']}){'  STALLED' if r['stalled'] else ''}")
            print(f"    receive->reply {_s(lat)} ms (goal p95 <= {GOAL_P95_MS:.0f} ms, all "
                  f"answered: {ok(r['goal_p95_ok'])}); {r['turns_per_s']:.1f} turns/s "
                  f"({r['answered']} in {r['span_s']:.2f} s); webhooks posted in "
                  f"{r['post_span_s']:.2f} s (ack p50 {fmt(r['webhook_ack_p50_ms'], '.0f')} ms"
                  f", p99 {fmt(r['webhook_ack_p99_ms'], '.0f')} ms) {r['post_statuses']} "
                  f"{r['post_errors'] or ''}")
            print(f"    model calls {r['model_calls']} {r['model_calls_by_kind']}, per turn "
                  f"{r['calls_per_turn']}, at most {r['fake_llm_max_in_flight']} in flight; "
                  f"schema args ok {r['schema_ok']}, tool ids ok {r['tool_ids_match']}, "
                  f"fixed prompt identical {r['fixed_prompt_matches']}, store={r['stored']}")
            try:
                _print_tokens(r)
            except KeyError:  # no per-turn token figures in this run
                print("    prompt tokens per turn: not recorded in this run")
            print("    where a turn's time goes (ms):")
            for phase, stats in r["phases_ms"].items():
                print(f"      {phase:40} {_s(stats)}")
            tl = r["inbox_timeline"]
            peak = max((s["pending"] for s in tl), default=0)
            peak_proc = max((s["processing"] for s in tl), default=0)
            print(f"    inbox: peak pending {peak}, peak processing {peak_proc}; nothing pending "
                  f"any more from {fmt(r['inbox_drained_s'], '.2f')} s after the first post "
                  f"(sampled every 0.25 s)")
            cpu = r.get("cpu")
            if cpu:
                workers = [k for k in cpu if k.startswith("worker")]
                other = max(0.0, cpu["machine_busy_pct"] - sum(cpu[k] for k in (
                    "server_cpu_pct", "fake_llm_cpu_pct", "fake_graph_cpu_pct",
                    "postgres_cpu_pct", *workers)) - 100 * r["wrk_cpu_s"] / cpu["window_s"])
                cpu["other_cpu_pct"] = other
                cpu["wrk_cpu_pct"] = 100 * r["wrk_cpu_s"] / cpu["window_s"]
                print(f"    cpu (100% = one core): eki serve {cpu['server_cpu_pct']:.0f}%  "
                      + "".join(f"eki {k.removesuffix('_cpu_pct')} {cpu[k]:.0f}%  "
                                for k in workers) +
                      f"postgres {cpu['postgres_cpu_pct']:.0f}%  fake model "
                      f"{cpu['fake_llm_cpu_pct']:.0f}%  fake graph {cpu['fake_graph_cpu_pct']:.0f}%"
                      f"  wrk {cpu['wrk_cpu_pct']:.0f}%  other processes "
                      f"{other:.0f}%  machine {cpu['machine_busy_pct']:.0f}% of "
                      f"{100 * cpu['machine_cores']}% over {cpu['window_s']:.1f} s")
                per = r["cpu_ms_per_turn"]
                print(f"    cpu per answered turn: eki {per['eki']:.1f} ms, postgres "
                      f"{per['postgres']:.1f} ms, whole machine {per['machine']:.1f} ms")
        if result.get("show_request") and run["rounds"]:
            example = run["rounds"][-1].get("example_request")
            print("  one second-call request (tools left out):\n    " + json.dumps(
                example, ensure_ascii=False, indent=1).replace("\n", "\n    "))
        print(f"  replies by intent {run['reply_intents']}; inbox {run['inbox_states']}; "
              f"ledger {run['llm_ledger']}; db connections opened {run['db_connections_opened']}")
        if run.get("server_log_tail"):
            print("  eki serve log tail:\n    " + run["server_log_tail"].replace("\n", "\n    "))
        profiled = run.get("profile")
        if profiled:
            print(f"  cProfile of eki serve: {profiled['profiled_s'][0]} s profiled, "
                  f"{profiled['profiled_s'][1]} s busy; self time by package:")
            for line in profiled["by_package"]:
                print("    ", line)
            print("  top functions by self time:")
            for line in profiled["by_self"]:
                print("    ", line)
        trace = run.get("trace")
        if trace:
            lag = trace["loop_lag_ms"]
            print(f"  trace: event-loop lag p50 {fmt(lag['p50'])} ms p95 {fmt(lag['p95'])} ms "
                  f"max {fmt(lag['max'])} ms; worker wakes {trace['wakes']}")
            rows = {**trace["sections"], **run.get("trace_llm", {})}
            for section, row in sorted(rows.items()):
                extra = (f"  p95 {row['p95_ms']:8.1f} ms" if "p95_ms" in row else "")
                print(f"    {section:48} {row['count']:>6} x  mean {row['mean_ms']:8.2f} ms"
                      f"{extra}  max {row['max_ms']:8.1f} ms  total {row['total_s']:7.2f} s")
            print("    SQL statements: " + ", ".join(
                f"{k} {v}" for k, v in list(trace.get("statements", {}).items())[:14]))
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in result["runs"]:
        if run["rounds"]:
            key = "default eki serve" if run["concurrency"] is None else \
                f"eki serve --concurrency {run['concurrency']}"
            groups.setdefault(key, []).append(run["rounds"][0])
    for key, firsts in groups.items():
        cpus = [r["cpu"] for r in firsts if r.get("cpu")]

        def cpu(name: str, cpus: list[dict[str, Any]] = cpus) -> str:
            return mmm([c.get(name) for c in cpus])

        print(f"== {key}, {len(firsts)} runs, min–median–max ==")
        print(f"  receive->reply p95 {mmm([r['latency_ms']['p95'] for r in firsts])} ms (goal <= "
              f"{GOAL_P95_MS:.0f} ms, median)  p50 {mmm([r['latency_ms']['p50'] for r in firsts])}"
              f" ms  max {mmm([r['latency_ms']['max'] for r in firsts])} ms; answered "
              f"{mmm([r['answered'] for r in firsts])} of {result['students']}; model calls per "
              f"answer {mmm([r['model_calls'] / max(r['answered'], 1) for r in firsts], '.2f')}")
        print(f"  cpu (100% = one core): eki serve {cpu('server_cpu_pct')}%  postgres "
              f"{cpu('postgres_cpu_pct')}%  fake model {cpu('fake_llm_cpu_pct')}%  fake graph "
              f"{cpu('fake_graph_cpu_pct')}%  wrk {cpu('wrk_cpu_pct')}%  other processes "
              f"{cpu('other_cpu_pct')}%  machine {cpu('machine_busy_pct')}%")
    for goal, passed in result["goals"].items():
        print(f"GOAL {goal}: {ok(passed)}")
    print(f"total wall time {result['wall_s']:.1f} s")
