"""Logs at INFO never carry a full phone number, what a person wrote, or a name (issue 18,
"Also"): a realistic session — webhooks, turns through the rule-based and the LLM level,
imports, guardians, codes, staff commands and the privacy commands — runs with every log
record captured, and the captured text is searched for each of them."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from eki_entrypoints.logs import configure_logging
from eki_entrypoints.settings import Settings
from eki_testing.graph import FakeGraphAPI
from eki_testing.harness import EkiHarness
from eki_testing.openai import FakeOpenAIServer, answer, tool_calls
from tests.integration.privacy_seed import (
    ANA,
    ANA_NAME,
    ANA_SECRET_TEXT,
    LUIS,
    LUIS_NAME,
    MARTA,
    MARTA_NAME,
    seed,
)

PHONES = (ANA, LUIS, MARTA, "3209998877")
NAMES = (ANA_NAME, LUIS_NAME, MARTA_NAME, "Pérez", "Gómez", "Zoe Quintero")
TEXTS = (ANA_SECRET_TEXT, "¿cómo va en notas?", "quiero saber mi promedio de biología",
         "Tu promedio en Biología es 2,0")


def _forms(national: str) -> tuple[str, ...]:
    return (national, "57" + national, "+57" + national)


class _Everything(logging.Handler):
    """Every record of every logger, formatted with its arguments and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.INFO:
            return
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.levelname} {record.name}: {text}")


def test_no_phone_text_or_name_in_the_logs(
        database_url: str, graph: FakeGraphAPI, cli: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The production configuration at INFO (it quiets the HTTP clients' request lines,
    # which name the business's phone-number id in their URLs).
    configure_logging(Settings(database_url=database_url, log_level="INFO"))
    handler = _Everything()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        with FakeOpenAIServer(default=answer("Sigue así.")) as openai:
            openai.then(tool_calls(("get_my_progress", {"course": "biología"})),
                        answer(TEXTS[3]))
            with EkiHarness.for_database(database_url, graph,
                                         openai_url=openai.url) as h:
                # webhooks, turns (the first through the model's tool call), imports with
                # errors, guardians, codes, a hand-off, an opt-out, audit entries
                seed(h)
                assert h.say(LUIS, TEXTS[2]) == "Sigue así."
                h.send("3209998877", "hola, soy Zoe Quintero")  # an unknown sender
                h.wait_for_reply("3209998877")
        # Staff at the terminal (each command configures logging at INFO itself).
        root.setLevel(logging.INFO)
        assert cli("students", "add", "Zoe Quintero", "320 999 8877")[0] == 0
        assert cli("students", "list")[0] == 0
        assert cli("privacy", "export", ANA, "--out", str(tmp_path / "a.json"))[0] == 0
        assert cli("privacy", "request", "add", LUIS, "--kind", "consulta")[0] == 0
        assert cli("privacy", "erase", ANA, "--yes")[0] == 0
        assert cli("privacy", "purge")[0] == 0
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    captured = "\n".join(handler.lines)
    assert len(handler.lines) > 20, captured  # the session did log (it is not silent)
    assert "privacy erasure of ref:" in captured
    leaks = [needle for needle in (*(f for p in PHONES for f in _forms(p)), *NAMES, *TEXTS)
             if needle in captured]
    assert leaks == [], "\n".join(line for line in handler.lines
                                  if any(n in line for n in leaks))
    # No run of 10+ digits at all (a number in any other spelling). The keyed pseudonyms
    # (``ref:`` + 16 hex digits of an HMAC) are not numbers, though one can begin with ten
    # decimal digits by chance (CI met 'ref:7623057936ea6b4f'): they are left out first.
    assert re.findall(r"\d{10,}", re.sub(r"ref:[0-9a-f]{16}\b", "ref:…", captured)) == []
    del capsys
