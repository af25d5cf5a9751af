"""The printed report of bench/bench_pipeline.py (min–median–max over the runs)."""

from __future__ import annotations

import statistics
from typing import Any

from _harness import fmt, mmm, ok

GOAL_RATIO, GOAL_P99_MS, GOAL_TURNS = 0.5, 250.0, 300.0


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
        print(f"== Ingest: wrk, {ing['connections']} connections, {len(ing['runs'])} runs of "
              f"{ing['seconds']:g} s per app (after a 1 s warm-up each), distinct signed ~1 KB "
              "text webhooks; min–median–max of the runs ==")
        for label, title in (("reference", "reference (Starlette + one psycopg INSERT)"),
                             ("eki", "EKI (eki serve --no-worker)")):
            rs = [run[label] for run in ing["runs"]]
            print(f"  {title}:")
            print(f"      acks/s {mmm([r['per_s'] for r in rs])}   p50 "
                  f"{mmm([r['p50_ms'] for r in rs], '.1f')} ms   p99 "
                  f"{mmm([r['p99_ms'] for r in rs], '.1f')} ms   max "
                  f"{mmm([r['max_ms'] for r in rs], '.0f')} ms   non-200 "
                  f"{sum(r['non_200'] for r in rs)}   socket errors "
                  f"{sum(sum(r['errors'].values()) for r in rs)}"
                  + ("   BODIES REUSED (raise --bodies-per-second)"
                     if any(r["bodies_reused"] for r in rs) else ""))
            print(f"      cpu (100% = one core): {label} {mmm([r['server_cpu_pct'] for r in rs])}%"
                  f"  postgres {mmm([r['postgres_cpu_pct'] for r in rs])}%  wrk "
                  f"{mmm([r['wrk_cpu_pct'] for r in rs])}%  other processes "
                  f"{mmm([r['other_cpu_pct'] for r in rs])}%  machine "
                  f"{mmm([r['machine_busy_pct'] for r in rs])}% of "
                  f"{100 * rs[0]['machine_cores']}%")
            print(f"      stored rows {ing['rows'][label]} for {ing['acknowledged'][label]} "
                  f"acknowledged ({'consistent' if ing['rows_ok'][label] else 'MISMATCH'}); "
                  f"database connections opened {ing[label + '_db_connections_opened']}")
        print("  per run (reference | EKI acks/s, ratio, EKI p99): " + "; ".join(
            f"{run['reference']['per_s']:.0f} | {run['eki']['per_s']:.0f}, "
            f"{fmt(run['ratio'], '.2f')}, {run['eki']['p99_ms']:.0f} ms" for run in ing["runs"]))
        print(f"  EKI/reference {mmm([r['ratio'] for r in ing['runs']], '.2f')} (goal >= "
              f"{GOAL_RATIO}, median) {ok(ing['goal_ratio_ok'])}")
        print(f"  EKI p99 {mmm([r['eki']['p99_ms'] for r in ing['runs']], '.0f')} ms (goal <= "
              f"{GOAL_P99_MS:g} ms at 100 connections, median) {ok(ing['goal_p99_ok'])}")
    runs = result.get("e2e") or []
    if runs:
        who = "known students" if result.get("known_senders") else "unknown senders"
        print(f"== End to end: {result['turns']} {who} write \"hola\" at once (wrk, each body "
              "once), fake Graph API on the light asyncio server; fresh database each run ==")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault(r["label"], []).append(r)
    for label, group in groups.items():
        done = [r for r in group if "skipped" not in r]
        for r in group:
            if "skipped" in r:
                print(f"  {label} run {r['run']}: skipped ({r['skipped']})")
        if not done:
            continue
        first = done[0]
        how = ("eki serve --no-worker + eki worker" if first["split_worker"] else "eki serve")
        how += "" if first["concurrency"] is None else f" --concurrency {first['concurrency']}"
        med = statistics.median(r["turns_per_s"] for r in done)
        print(f"  {how}: {mmm([r['turns_per_s'] for r in done], '.1f')} turns/s over "
              f"{len(done)} runs (goal >= {GOAL_TURNS:g}/s, median) {ok(med >= GOAL_TURNS)}"
              f"{'' if all(r['complete'] for r in done) else '  INCOMPLETE run(s)'}")
        print(f"      receive->reply p50 {mmm([r['latency_p50_ms'] for r in done])} ms  p95 "
              f"{mmm([r['latency_p95_ms'] for r in done])} ms  max "
              f"{mmm([r['latency_max_ms'] for r in done])} ms; webhook ack p99 "
              f"{mmm([r['webhook_ack_p99_ms'] for r in done])} ms; stored "
              f"{mmm([r['ingest_per_s'] for r in done])} messages/s")
        print(f"      cpu (100% = one core): eki serve {mmm([r['server_cpu_pct'] for r in done])}%"
              + (f"  eki worker {mmm([r['worker_cpu_pct'] for r in done])}%"
                 if first["split_worker"] else "")
              + f"  postgres {mmm([r['postgres_cpu_pct'] for r in done])}%  fake Graph API "
              f"{mmm([r['fake_cpu_pct'] for r in done])}%  wrk "
              f"{mmm([r['wrk_cpu_pct'] for r in done])}%"
              f"  other processes {mmm([r['other_cpu_pct'] for r in done])}%  machine "
              f"{mmm([r['machine_busy_pct'] for r in done])}% of {100 * first['machine_cores']}%")
        for r in done:
            print(f"      run {r['run']}: {r['turns_per_s']:.1f} turns/s ({r['replies']} replies "
                  f"in {r['span_s']:.2f} s); exactly one reply each: {r['exactly_one_each']} "
                  f"(unanswered {r['missing']}, duplicates {r['duplicates']}, unexpected "
                  f"{r['unexpected_recipients']}){'  STALLED' if r['stalled'] else ''}; posts "
                  f"non-200 {r['post_non_200']} {r['post_errors'] or ''}; fake "
                  f"{r['fake_counters']}; inbox {r['inbox_states']}; outbox "
                  f"{r['outbox_statuses']}")
            print(f"             per turn: eki CPU {r['eki_cpu_ms_per_turn']:.1f} ms, postgres "
                  f"CPU {r['postgres_cpu_ms_per_turn']:.1f} ms, "
                  f"{r['db_transactions_per_turn']:.1f} transactions, "
                  f"{r['db_rows_read_per_turn']:.0f} rows read, database grew "
                  f"{r['db_bytes_per_turn'] / 1024:.1f} KiB; connections opened "
                  f"{r['db_connections_opened']}; before the load, warm-up "
                  f"{r.get('warmup_cpu_s', 0):.1f} s of CPU in {r.get('warmup_wait_s', 0):.1f} s")
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
