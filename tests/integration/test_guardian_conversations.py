"""Who writes and whom the answer is about: the identity matrix (student, guardian of one,
guardian of two, both roles, unlinked, no may_see_grades) through the rule-based level and
the LLM level (the real openai SDK over httpx2.MockTransport), on SQLite and PostgreSQL.

Data: Ana 4,5, Luis 3,2, Beto 2,0, Carolina 3,9 in Matemáticas. Marta is Ana's and Luis's
mother, Jorge Ana's father, Rosa Luis's acudiente without grades, Carolina a student and
Beto's mother; +57 310 555 0009 is nobody."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from eki_adapters.openai import OpenAIChatModel
from eki_adapters.system import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.imports import sheet_from_records
from eki_domain.model.permissions import Principal
from eki_domain.services.families import FamilyService
from eki_domain.services.staff import Caller
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.chat import ChatAnswer, ChatSession
from eki_entrypoints.settings import Settings
from eki_testing.openai import ScriptedOpenAI, completion

ANA, LUIS, BETO, CAROLINA = "3001112233", "3004445566", "3109876543", "3201234567"
MARTA, JORGE, ROSA, NOBODY = "3105550001", "3105550002", "3105550003", "3105550009"
E164 = {name: "+57" + phone for name, phone in
        (("ana", ANA), ("luis", LUIS), ("beto", BETO), ("carolina", CAROLINA))}
CLI = Caller(Principal.cli("tests"))
START = datetime(2026, 3, 2, 15, tzinfo=UTC)


async def _seed(app: Eki) -> None:
    for name, phone in (("Ana Pérez", ANA), ("Luis Pérez", LUIS), ("Beto Ruiz", BETO),
                        ("Carolina Ruiz", CAROLINA)):
        await app.registration.register(name, phone)
    await app.progress_import.import_sheet(sheet_from_records([
        {"telefono": phone, "curso": "Matemáticas", "actividad": "Taller", "nota": grade}
        for phone, grade in ((ANA, "4,5"), (LUIS, "3,2"), (BETO, "2,0"), (CAROLINA, "3,9"))
    ], "notas"))
    families = FamilyService(app.uow, app.clock)  # type: ignore[arg-type]
    await families.add(CLI, "Marta Gómez", MARTA, student_phone=ANA, relationship="mamá")
    await families.add(CLI, "Marta Gómez", MARTA, student_phone=LUIS, relationship="mamá")
    await families.add(CLI, "Jorge Pérez", JORGE, student_phone=ANA, relationship="papá")
    await families.add(CLI, "Rosa Díaz", ROSA, student_phone=LUIS, may_see_grades=False)
    await families.add(CLI, "Carolina Ruiz", CAROLINA, student_phone=BETO, relationship="madre")


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await bootstrap(Settings(database_url=database_url),
                          channel=ConsoleChannel(name="cli"), clock=FixedClock(START))
    await _seed(app)
    yield app
    await app.aclose()


async def say(eki: Eki, phone: str, text: str) -> ChatAnswer:
    assert isinstance(eki.channel, ConsoleChannel)
    session = await ChatSession.open(eki, eki.channel, phone)
    return await session.say(text)


# -- the rule-based level ------------------------------------------------------------------


async def test_a_student_is_answered_about_themself(eki: Eki) -> None:
    answer = await say(eki, ANA, "¿cómo voy?")
    assert "4,5" in answer.reply and "Sobre" not in answer.reply
    assert answer.about == E164["ana"]


async def test_a_guardian_of_one_child_is_answered_about_that_child(eki: Eki) -> None:
    answer = await say(eki, JORGE, "¿cómo va en notas?")
    assert answer.reply.startswith("Sobre *Ana*:")
    assert "4,5" in answer.reply and "3,2" not in answer.reply
    assert answer.about == E164["ana"]
    other = await say(eki, JORGE, "¿y Luis?")  # not his child: still about Ana
    assert "3,2" not in other.reply and other.about == E164["ana"]


async def test_a_guardian_of_two_chooses_and_switches(eki: Eki) -> None:
    first = await say(eki, MARTA, "¿cómo van las notas?")
    assert "¿Sobre quién quieres consultar?" in first.reply
    assert "1) Ana" in first.reply and "2) Luis" in first.reply
    assert first.about is None and first.intent == "choose_student"
    chosen = await say(eki, MARTA, "2")  # the pending question is answered
    assert chosen.reply.startswith("Sobre *Luis*:") and "3,2" in chosen.reply
    assert chosen.about == E164["luis"]
    switched = await say(eki, MARTA, "¿y Ana?")
    assert switched.reply.startswith("Sobre *Ana*:") and "4,5" in switched.reply
    assert switched.about == E164["ana"]
    remembered = await say(eki, MARTA, "notas")
    assert "4,5" in remembered.reply and remembered.about == E164["ana"]
    by_name = await say(eki, MARTA, "ahora luis pérez")
    assert "3,2" in by_name.reply and by_name.about == E164["luis"]
    stranger = await say(eki, MARTA, "¿y Beto?")  # nobody of hers: no one else's data
    assert "2,0" not in stranger.reply and stranger.about == E164["luis"]
    assert isinstance(eki.clock, FixedClock)
    eki.clock.advance(timedelta(hours=13))  # EKI_CHILD_CHOICE_HOURS=12 passed
    again = await say(eki, MARTA, "notas")
    assert "¿Sobre quién quieres consultar?" in again.reply and again.about is None
    named = await say(eki, MARTA, "Luis")
    assert "3,2" in named.reply


async def test_a_guardian_without_grades_gets_a_polite_sentence(eki: Eki) -> None:
    answer = await say(eki, ROSA, "¿cómo va en notas?")
    assert "no tengo autorización" in answer.reply and "3,2" not in answer.reply
    assert answer.about == E164["luis"] and answer.intent == "grades_restricted"
    absences = await say(eki, ROSA, "¿cuántas fallas tiene?")
    assert "no tengo autorización" in absences.reply


async def test_both_roles_choose_between_themself_and_the_child(eki: Eki) -> None:
    first = await say(eki, CAROLINA, "mis notas")
    assert "1) Carolina" in first.reply and "2) Beto" in first.reply
    own = await say(eki, CAROLINA, "1")
    assert "3,9" in own.reply and "Sobre" not in own.reply
    assert own.about == E164["carolina"]
    child = await say(eki, CAROLINA, "¿y Beto?")
    assert child.reply.startswith("Sobre *Beto*:") and "2,0" in child.reply
    assert child.about == E164["beto"]


async def test_an_unlinked_number_is_unknown(eki: Eki) -> None:
    answer = await say(eki, NOBODY, "notas de Ana")
    assert answer.intent == "unknown_sender" and answer.about is None
    assert "4,5" not in answer.reply


# -- the LLM level ----------------------------------------------------------------------------


@pytest.fixture
def server() -> ScriptedOpenAI:
    return ScriptedOpenAI()


@pytest.fixture
async def llm_eki(database_url: str, server: ScriptedOpenAI) -> AsyncIterator[Eki]:
    model = OpenAIChatModel(api_key="sk-test", http_client=server.client(),
                            backoff_initial=0.01, backoff_max=0.02)
    app = await bootstrap(Settings(database_url=database_url), language_model=model,
                          channel=ConsoleChannel(name="cli"), clock=FixedClock(START))
    await _seed(app)
    yield app
    await app.aclose()
    await model.aclose()


def _tool_messages(server: ScriptedOpenAI) -> list[str]:
    """The tool results of the turn (the last request repeats every earlier one)."""
    return [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"]


async def test_the_model_cannot_reach_another_child_by_name(llm_eki: Eki,
                                                            server: ScriptedOpenAI) -> None:
    server.then(
        completion(tool_calls=[("c1", "select_student", '{"name": "Beto"}')]),
        completion(tool_calls=[("c2", "get_my_progress", '{"course": null, "period": null}')]),
        completion("Ana va con 4,5 en Matemáticas."),
    )
    answer = await say(llm_eki, JORGE, "¿cómo le va a Beto?")
    assert answer.about == E164["ana"] and answer.reply.startswith("Sobre *Ana*:")
    tools = _tool_messages(server)
    assert "no encontrado" in tools[0]
    assert '"average":4.5' in tools[1]
    everything = json.dumps(server.requests, ensure_ascii=False)
    assert "2.0" not in everything and "Beto Ruiz" not in everything
    assert "acudiente de Ana" in everything  # the model is told who writes
    names = {t["function"]["name"] for t in server.requests[0]["tools"]}
    assert {"list_my_students", "select_student", "get_my_progress"} <= names


async def test_the_model_switches_only_among_the_linked_children(
        llm_eki: Eki, server: ScriptedOpenAI) -> None:
    assert "¿Sobre quién" in (await say(llm_eki, MARTA, "notas")).reply
    await say(llm_eki, MARTA, "Luis")  # selected; the pending "notas" answered by rules
    server.then(
        completion(tool_calls=[("c1", "list_my_students", "{}"),
                               ("c2", "select_student", '{"name": "ana"}')]),
        completion(tool_calls=[("c3", "get_my_grades", '{"course": null}')]),
        completion("Ana tiene 4,5 en el taller de Matemáticas."),
    )
    answer = await say(llm_eki, MARTA, "¿y cómo le fue a la niña en el taller?")
    tools = _tool_messages(server)
    assert json.loads(tools[0]) == {"students": ["Ana", "Luis"], "current": "Luis"}
    assert json.loads(tools[1]) == {"found": True, "selected": "Ana"}
    assert "4.5" in tools[2] and "3.2" not in tools[2]
    assert answer.about == E164["ana"] and answer.reply.startswith("Sobre *Ana*:")
    remembered = await say(llm_eki, MARTA, "1")  # the menu's "1" (progress) about Ana now
    assert "4,5" in remembered.reply and remembered.about == E164["ana"]


async def test_the_model_gets_no_grades_without_permission(llm_eki: Eki,
                                                           server: ScriptedOpenAI) -> None:
    server.then(
        completion(tool_calls=[("c1", "get_my_grades", '{"course": null}'),
                               ("c2", "get_my_attendance", '{"course": null}')]),
        completion("Lo siento, no puedo compartir esas notas."),
    )
    refused = await say(llm_eki, ROSA, "¿qué notas sacó en el taller de mate?")
    assert refused.intent == "grades_restricted" and not server.requests  # the rules refuse
    answer = await say(llm_eki, ROSA, "cuéntame de su semestre")  # the model tries anyway
    assert answer.about == E164["luis"]
    tools = _tool_messages(server)
    assert all('"restricted":true' in t for t in tools)
    assert "3.2" not in json.dumps(server.requests)


async def test_user_changed_number_never_moves_a_link(eki: Eki) -> None:
    from eki_domain.model.messages import IncomingMessage, MessageType

    new = "573105559999"
    message = IncomingMessage(
        channel="cli", provider_id="cli-changed", wa_id="57" + JORGE,
        type=MessageType.SYSTEM, sent_at=eki.clock.now(), system_type="user_changed_number",
        new_wa_id=new, text="Jorge cambió de número", raw="{}")
    await eki.ingest.ingest(channel="cli", body="{}", messages=[message], statuses=[])
    while await eki.conversation.process_next(channels=("cli",)):
        pass
    async with eki.uow() as uow:
        old = await uow.guardians.find_by_phones(["+57" + JORGE])
        assert old is not None and old.id is not None
        assert len(await uow.guardians.links_of_guardian(old.id)) == 1
        assert await uow.guardians.find_by_phones(["+" + new]) is None
    answer = await say(eki, new[2:], "notas")  # the new number must verify first
    assert answer.intent == "unknown_sender" and answer.about is None


async def test_a_guardian_is_not_promised_a_handoff(eki: Eki) -> None:
    answer = await say(eki, JORGE, "quiero hablar con un asesor")
    assert answer.intent == "handoff_guardian" and "no puedo pasarte" in answer.reply
    student = await say(eki, ANA, "notas")  # Ana's own conversation is not paused
    assert "4,5" in student.reply
