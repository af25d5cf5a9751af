"""Understanding: classification latency per message, training time, memory of the model.

Usage::

    python bench/bench_intents.py [--repeat R] [--json]

Measures, on the corpus shipped in ``eki_adapters.understanding``:

* ``classify_p50_ms`` / ``classify_p99_ms``: the CPU time (of this thread) of the whole
  pipeline EKI runs per message (``understand()``: the rules, the language, the classifier)
  over every held-out utterance, ``R`` passes; the rules' caches are emptied before each
  message, so every message is read as if it were new (goal: p99 <= 1 ms). The
  ``classify_wall_*`` figures are the same in wall-clock time, which on a shared machine
  also counts the time other processes held the CPU;
* ``answer_p50_ms`` / ``answer_p99_ms``: CPU time of ``RuleBasedAssistant.answer`` end to
  end with an in-memory toolbox (our own CPU per turn, classification included);
* ``load_s``: CPU time of loading the shipped trained model (``intent_model.bin``), what EKI
  does at start, best of 3 (the issue's "shipped as a small file or trained at first use in
  under 2 s": goal <= 2 s);
* ``train_s``: CPU time of training on the whole corpus from cold caches, best of 3 (what
  ``scripts/build_intent_model`` does, and EKI at start only when the file is stale; goal
  <= 2 s, the issue's "trained at first use in under 2 s");
  ``train_wall_s`` the same in wall-clock time;
* ``model_mb``: memory held by the loaded model (tracemalloc, after collection; goal <= 20).

The machine this runs on may be shared: run it several times and read the spread.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from eki_adapters.understanding import linear, load_corpus, split, stored, train
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import Student
from eki_domain.ports.assistant import JsonDict, Turn
from eki_domain.ports.llm import ToolSpec
from eki_domain.services import intents, slots
from eki_domain.services.responder import RuleBasedAssistant
from eki_domain.services.understanding import understand

GOALS = {"classify_p99_ms": 1.0, "load_s": 2.0, "train_s": 2.0, "model_mb": 20.0}

_TOOLS: dict[str, JsonDict] = {
    "get_my_profile": {"found": True, "name": "Ana Pérez", "phone": "+57300***4567",
                       "tags": ["grado 10"], "registered_on": "2026-01-15"},
    "get_my_progress": {"courses": [
        {"course": "Matemáticas", "average": 4.3, "band": "Alto", "passing": True,
         "graded": 5, "total": 8},
        {"course": "Inglés", "average": 2.5, "band": "Bajo", "passing": False,
         "graded": 2, "total": 6}], "overall_average": 3.4},
    "get_my_grades": {"courses": [{"course": "Matemáticas", "average": 4.3, "grades": [
        {"title": "Quiz 1", "status": "graded", "score": 4.5, "weight": 20}]}]},
    "get_my_attendance": {"courses": [
        {"course": "Matemáticas", "absences": 3, "excused": 1, "late": 2, "sessions": 30,
         "rate": 0.9}], "total_absences": 3, "total_late": 2},
    "get_my_pending_assignments": {"pending": [
        {"course": "Matemáticas", "title": "Taller 3", "due_date": "2026-03-04"}]},
}  # fmt: skip


class _Toolbox:
    def names(self) -> tuple[str, ...]:
        return tuple(_TOOLS)

    def schemas(self) -> Sequence[ToolSpec]:
        return ()  # the rule-based level never offers tools to a model

    async def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> JsonDict:
        return _TOOLS[name]


def _cold() -> None:
    intents._analyze.cache_clear()  # a new message each time
    intents._correct.cache_clear()
    intents._word_key.cache_clear()
    linear._word_features.cache_clear()
    slots._subject_word.cache_clear()


def _timed(run: Any) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread): on a shared machine the wall clock also
    counts the time other processes held the CPU; the thread's CPU time is our own cost."""
    wall, cpu = time.perf_counter(), time.thread_time()
    run()
    return time.perf_counter() - wall, time.thread_time() - cpu


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 * 1000, p99 * 1000


def bench_train() -> tuple[float, float]:
    """(wall, CPU) seconds, each the best of 3."""
    examples = [(u.text, u.intent) for u in load_corpus()]
    best_wall = best_cpu = float("inf")
    for _ in range(3):
        _cold()
        wall, cpu = _timed(lambda: train(examples))
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


def _shipped() -> Any:
    model = stored.load_shipped()
    if model is None:
        raise SystemExit("the shipped intent model is stale: run scripts/build_intent_model")
    return model


def bench_load() -> float:
    """CPU seconds, best of 3."""
    best = float("inf")
    for _ in range(3):
        best = min(best, _timed(_shipped)[1])
    return best


def bench_memory() -> float:
    _shipped()  # imports and caches outside the measure
    _cold()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    model = _shipped()
    _cold()  # keep only what the model holds
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del model
    return held / 1_000_000


def bench_classify(repeat: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """((wall p50, p99), (CPU p50, p99)) in ms."""
    training, held_out = split(load_corpus())
    model = train((u.text, u.intent) for u in training)
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(repeat):
        for item in held_out:
            _cold()
            spent = _timed(lambda text=item.text: understand(text, None, model))
            wall.append(spent[0])
            cpu.append(spent[1])
    return _percentiles(wall), _percentiles(cpu)


def bench_answer(repeat: int) -> tuple[float, float]:
    training, held_out = split(load_corpus())
    model = train((u.text, u.intent) for u in training)
    student = Student.register("Ana Pérez", PhoneNumber.parse("3001234567"),
                               registered_at=datetime(2026, 1, 15, tzinfo=UTC))  # fmt: skip
    student.id = 1
    assistant = RuleBasedAssistant(classifier=model)
    tools = _Toolbox()

    async def run() -> list[float]:
        samples: list[float] = []
        for _ in range(repeat):
            for item in held_out:
                _cold()
                started = time.thread_time()
                await assistant.answer(Turn(student=student, text=item.text), tools)
                samples.append(time.thread_time() - started)
        return samples

    return _percentiles(asyncio.run(run()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="passes over the held-out set")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    (wall_p50, wall_p99), (cpu_p50, cpu_p99) = bench_classify(args.repeat)
    answer_p50, answer_p99 = bench_answer(max(1, args.repeat // 2))
    train_wall, train_cpu = bench_train()
    results = {
        "classify_p50_ms": round(cpu_p50, 3),
        "classify_p99_ms": round(cpu_p99, 3),
        "classify_wall_p50_ms": round(wall_p50, 3),
        "classify_wall_p99_ms": round(wall_p99, 3),
        "answer_p50_ms": round(answer_p50, 3),
        "answer_p99_ms": round(answer_p99, 3),
        "load_s": round(bench_load(), 3),
        "train_s": round(train_cpu, 3),
        "train_wall_s": round(train_wall, 3),
        "model_mb": round(bench_memory(), 2),
    }
    if args.json:
        print(json.dumps(results))
    else:
        for name, value in results.items():
            goal = GOALS.get(name)
            verdict = "" if goal is None else (
                f" (goal <= {goal}) {'OK' if value <= goal else 'MISSED'}")
            print(f"{name}: {value}{verdict}")
    return 0 if all(results[k] <= v for k, v in GOALS.items()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
