"""`eki intents eval` and `eki intents try` end to end (in-process, real argument parsing)."""

from __future__ import annotations

import json

from eki_entrypoints.cli.intents import GOAL


def test_eval_prints_accuracy_precision_recall_and_confusion(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("intents", "eval", "--json")
    report = json.loads(out)
    assert code == (0 if report["accuracy"] >= GOAL else 1)
    assert report["held_out"] == report["total"] > 200
    assert set(report["per_intent"]["asistencia"]) == {"precision", "recall", "support"}
    labels = report["labels"]
    assert len(report["confusion"]) == len(labels)
    assert sum(map(sum, report["confusion"])) == report["total"]
    assert "misses" not in report
    code, text, _ = cli("intents", "eval")
    assert "accuracy" in text and "confusion" in text and "asistencia" in text


def test_try_shows_how_a_message_is_read(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("intents", "try", "--json", "estoy perdiendo mate?")
    assert code == 0
    reading = json.loads(out)
    assert reading["intent"] == "progreso" and reading["language"] == "es"
    assert reading["course"] == "mate"
