"""The model API answers 429 or 500 for a while: every student who writes meanwhile is
answered by the rule-based fallback within 5 s, and once the model is back it answers
again."""

from __future__ import annotations

import time

import pytest

from eki_testing.graph import FakeGraphAPI
from eki_testing.harness import EkiHarness, harness_settings
from eki_testing.openai import FakeOpenAIServer, answer, error

STUDENTS = 8


@pytest.mark.parametrize("status", [429, 500])
def test_students_are_answered_by_the_fallback_while_the_model_fails(
        database_url: str, status: int) -> None:
    outage = [error(status) for _ in range(200)]  # every call during the outage fails
    with (FakeGraphAPI() as graph, FakeOpenAIServer(*outage) as model,
          EkiHarness(harness_settings(database_url, graph, openai_url=model.url), graph,
                     worker_concurrency=64,  # turns waiting on the model do not queue
                     migrate_first=database_url.startswith("sqlite")) as eki):
        phones = [f"30055500{n:02d}" for n in range(STUDENTS)]
        for n, phone in enumerate(phones):
            eki.register(f"Estudiante Número {n}", phone)
        started = {}
        for phone in phones:
            started[phone] = time.monotonic()
            eki.send(phone, "¿cómo voy en matemáticas?")
        waits = {}
        for phone in phones:
            reply = eki.wait_for_reply(phone, timeout=10)
            waits[phone] = time.monotonic() - started[phone]
            assert reply  # the fallback's answer, in Spanish
        assert max(waits.values()) <= 5, waits
        assert len(model.requests) >= STUDENTS  # the model was asked, and failed
        assert all(len(eki.replies(phone)) == 1 for phone in phones)
        # The model is back: the next question gets its answer.
        with model.lock:
            model.script.clear()  # the outage is over
        model.default = answer("¡Vas muy bien en matemáticas!")
        eki.send(phones[0], "¿y en inglés?")
        assert "Vas muy bien" in eki.wait_for_reply(phones[0], after=1, timeout=10)
