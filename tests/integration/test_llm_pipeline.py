"""The AI assistant inside the real pipeline: the openai SDK over httpx2.MockTransport,
SQLite and PostgreSQL, usage accounting, the fallback ladder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from eki_adapters.openai import OpenAIChatModel
from eki_adapters.system import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.imports import sheet_from_records
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.chat import ChatSession
from eki_entrypoints.settings import Settings
from eki_testing.openai import ScriptedOpenAI, completion, error

ANA = "3001234567"


@pytest.fixture
def server() -> ScriptedOpenAI:
    return ScriptedOpenAI()


@pytest.fixture
async def eki(database_url: str, server: ScriptedOpenAI) -> AsyncIterator[Eki]:
    model = OpenAIChatModel(api_key="sk-test", http_client=server.client(), backoff_initial=0.01,
                            backoff_max=0.02)
    app = await bootstrap(Settings(database_url=database_url), language_model=model,
                          channel=ConsoleChannel(name="cli"),
                          clock=FixedClock(datetime(2026, 3, 2, 15, tzinfo=UTC)))
    await app.registration.register("Ana María Pérez", ANA)
    await app.registration.register("Beto Ruiz", "3109876543")
    await app.progress_import.import_sheet(sheet_from_records([
        {"telefono": ANA, "curso": "Matemáticas", "actividad": "Taller", "nota": "4,5"},
        {"telefono": "3109876543", "curso": "Matemáticas", "actividad": "Taller", "nota": "2,0"},
    ], "notas"))
    yield app
    await app.aclose()
    await model.aclose()


async def ask(eki: Eki, text: str) -> tuple[str, str | None, tuple[str, ...]]:
    assert isinstance(eki.channel, ConsoleChannel)
    session = await ChatSession.open(eki, eki.channel, ANA)
    answer = await session.say(text)
    return answer.reply, answer.intent, answer.tools


async def usage_rows(eki: Eki) -> list[tuple[object, ...]]:
    assert eki.engine is not None
    async with eki.engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(sa.text(
            "SELECT model, prompt_tokens, completion_tokens, cached_tokens, cost_usd, outcome "
            "FROM llm_usage ORDER BY id"))]


async def test_tool_call_then_answer_with_the_students_own_data(eki: Eki,
                                                                 server: ScriptedOpenAI) -> None:
    server.then(
        completion(tool_calls=[("call_1", "get_my_progress", '{"course": "mate", "period": null}')],
                   usage=(900, 20, 0)),
        completion("Vas con *4,5* en Matemáticas, Ana. ¡Muy bien!", usage=(1000, 30, 512)),
    )
    reply, intent, tools = await ask(eki, "¿cómo voy en mate? 🙏")
    assert reply == "Vas con *4,5* en Matemáticas, Ana. ¡Muy bien!"
    assert intent == "llm" and tools == ("get_my_progress",)
    first, second = server.requests
    assert first["model"] == "gpt-4o-mini" and first["store"] is False
    assert {t["function"]["name"] for t in first["tools"]} >= {"get_my_progress",
                                                               "get_my_profile"}
    tool_message = next(m for m in second["messages"] if m["role"] == "tool")
    assert tool_message["tool_call_id"] == "call_1"
    assert '"average":4.5' in tool_message["content"]
    assert "2.0" not in tool_message["content"]  # never Beto's grade
    everything = json.dumps(server.requests, ensure_ascii=False)
    assert ANA not in everything and "573001234567" not in everything  # no phone in prompts
    assert "Ana" in everything and "Pérez" not in everything  # first name only
    rows = await usage_rows(eki)
    assert [r[5] for r in rows] == ["ok", "ok"]
    assert rows[1][1:4] == (1000, 30, 512)
    expected = (488 * 0.15 + 512 * 0.075 + 30 * 0.60) / 1_000_000
    assert rows[1][4] == pytest.approx(expected)


async def test_model_errors_fall_back_to_the_rules(eki: Eki, server: ScriptedOpenAI) -> None:
    server.then(error(500, "boom"))
    reply, intent, tools = await ask(eki, "¿cómo voy en mate?")
    assert intent is not None and intent.startswith("fallback:")
    assert "4,5" in reply and "get_my_progress" in tools
    assert [r[5] for r in await usage_rows(eki)] == ["server"]


async def test_a_question_in_english_asks_the_model_to_answer_in_english(
        eki: Eki, server: ScriptedOpenAI) -> None:
    server.then(
        completion(tool_calls=[("call_1", "get_my_progress", '{"course": "math", "period": null}')],
                   usage=(900, 20, 0)),
        completion("You have *4.5* in Math, Ana. Well done!", usage=(1000, 30, 0)),
    )
    reply, intent, tools = await ask(eki, "how am I doing in math?")
    assert reply == "You have *4.5* in Math, Ana. Well done!"
    assert intent == "llm" and tools == ("get_my_progress",)
    request = server.requests[0]
    system = " ".join(m["content"] for m in request["messages"] if m["role"] == "system")
    assert "responde en el idioma en que escribe el estudiante" in system
    assert "Si escribe en inglés, responde en inglés" in system
    assert request["messages"][-1] == {"role": "user", "content": "how am I doing in math?"}
