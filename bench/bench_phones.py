"""Throughput of eki_domain.model.phone.PhoneNumber.parse.

Usage::

    python bench/bench_phones.py [--n N] [--repeat R] [--json]

Prints one line per scenario, e.g. ``clean_co_mobiles_per_s: 812345 (goal >= 500000) OK``.
Invalid values count as processed (an import has to reject them too).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from eki_domain.errors import InvalidPhoneNumber
from eki_domain.model.phone import PhoneNumber

GOALS: dict[str, int] = {
    "clean_co_mobiles_per_s": 500_000,
    "clean_co_mobiles_numeric_per_s": 500_000,
    "messy_spreadsheet_values_per_s": 40_000,
}

# Prefixes assigned to Colombian mobile operators (all valid for phonenumbers).
_CO_PREFIXES = ("300", "301", "302", "304", "310", "311", "312", "313", "315", "316", "320", "350")


def _co_mobile(rng: random.Random) -> str:
    return rng.choice(_CO_PREFIXES) + f"{rng.randrange(10_000_000):07d}"


def clean_strings(n: int, rng: random.Random) -> list[object]:
    return [_co_mobile(rng) for _ in range(n)]


def clean_numbers(n: int, rng: random.Random) -> list[object]:
    values: list[object] = []
    for i in range(n):
        digits = _co_mobile(rng)
        values.append(float(digits) if i % 2 else int(digits))  # calamine gives floats
    return values


def _messy(rng: random.Random) -> object:
    m = _co_mobile(rng)
    pretty = f"{m[:3]} {m[3:6]} {m[6:]}"
    landline = f"60{rng.choice('124578')} {rng.randrange(2_000_000, 8_000_000)}"
    choices: list[object] = [
        float(m),  # calamine float
        float("57" + m),
        f"{m}.0",
        f"+57 {pretty}",
        f"({m[:3]}) {m[3:6]}-{m[6:]}",
        f"(+57) {m[:3]}.{m[3:6]}.{m[6:]}",
        f"0057 {pretty}",
        f"'{m}",
        f"\u00a0{m[:3]}\u00a0{m[3:6]}\u00a0{m[6:]}\u00a0",
        f"{m} / {_co_mobile(rng)}",
        f"{m[0]}.{m[1:]}E9",
        f"{m[0]}.{m[1:6]}E+09",  # digits lost: rejected
        landline,  # valid, fixed line: warning
        f"{landline} ext {rng.randrange(1, 999)}",
        str(rng.randrange(2_000_000, 8_000_000)),  # old 7-digit landline: rejected
        m[:9],  # one digit missing: rejected
        "",
        "Cel " + m,  # letters: rejected
        f"+52 55 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}",
        m,
    ]
    return rng.choice(choices)


def messy_values(n: int, rng: random.Random) -> list[object]:
    return [_messy(rng) for _ in range(n)]


def _run(values: Sequence[object]) -> int:
    parse = PhoneNumber.parse
    rejected = 0
    for value in values:
        try:
            parse(value)
        except InvalidPhoneNumber:
            rejected += 1
    return rejected


def best_rate(values: Sequence[object], repeat: int) -> tuple[float, int]:
    best = float("inf")
    rejected = 0
    for _ in range(repeat):
        start = time.perf_counter()
        rejected = _run(values)
        best = min(best, time.perf_counter() - start)
    return len(values) / best, rejected


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=200_000, help="values per scenario")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (best is kept)")
    parser.add_argument("--seed", type=int, default=1290)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    scenarios: dict[str, Callable[[int, random.Random], list[object]]] = {
        "clean_co_mobiles_per_s": clean_strings,
        "clean_co_mobiles_numeric_per_s": clean_numbers,
        "messy_spreadsheet_values_per_s": messy_values,
    }
    results: dict[str, object] = {}
    all_ok = True
    for name, make in scenarios.items():
        values = make(args.n, rng)
        rate, rejected = best_rate(values, args.repeat)
        ok = rate >= GOALS[name]
        all_ok &= ok
        results[name] = round(rate)
        results[name.removesuffix("_per_s") + "_rejected"] = rejected
        if not args.json:
            verdict = "OK" if ok else "BELOW GOAL"
            print(f"{name}: {rate:.0f} (goal >= {GOALS[name]}) {verdict}")
            if rejected:
                print(f"  ({rejected} of {len(values)} values rejected as invalid)")
    results["n"] = args.n
    results["repeat"] = args.repeat
    results["all_goals_met"] = all_ok
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
