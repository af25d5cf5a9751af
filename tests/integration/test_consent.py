"""Consent before data (issue 18) through the real pipeline, on SQLite and PostgreSQL: the
notice, the kept question answered after ACEPTO, NO ACEPTO, REVOCAR, a new policy version,
a guardian consenting for their children, the rule-based and the LLM levels (the real openai
SDK over httpx2.MockTransport: no model call and no tool before ACEPTO).

Ana 4,5 and Luis 3,2 in Matemáticas; Marta is their mother; +57 310 555 0009 is nobody."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eki_adapters.openai import OpenAIChatModel
from eki_adapters.system import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.consent import ConsentDecision, ConsentMedium, ConsentRole
from eki_domain.model.imports import sheet_from_records
from eki_domain.model.permissions import Principal
from eki_domain.services.families import FamilyService
from eki_domain.services.staff import Caller
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.chat import ChatAnswer, ChatSession
from eki_entrypoints.settings import Settings
from eki_testing.openai import ScriptedOpenAI, completion

pytestmark = pytest.mark.consent

ANA, LUIS, MARTA, NOBODY = "3001112233", "3004445566", "3105550001", "3105550009"
ANA_E164, LUIS_E164, MARTA_E164 = "+57" + ANA, "+57" + LUIS, "+57" + MARTA
START = datetime(2026, 3, 2, 15, tzinfo=UTC)
SCHOOL = "Colegio San José"
URL = "https://colegio.test/datos"


def settings(database_url: str, **extra: Any) -> Settings:
    return Settings(database_url=database_url, school_name=SCHOOL, privacy_policy_url=URL,
                    **extra)


async def _seed(app: Eki) -> None:
    for name, phone in (("Ana Pérez", ANA), ("Luis Pérez", LUIS)):
        await app.registration.register(name, phone)
    await app.progress_import.import_sheet(sheet_from_records([
        {"telefono": phone, "curso": "Matemáticas", "actividad": "Taller", "nota": grade}
        for phone, grade in ((ANA, "4,5"), (LUIS, "3,2"))], "notas"))
    families = FamilyService(app.uow, app.clock)  # type: ignore[arg-type]
    caller = Caller(Principal.cli("tests"))
    await families.add(caller, "Marta Gómez", MARTA, student_phone=ANA, relationship="mamá")
    await families.add(caller, "Marta Gómez", MARTA, student_phone=LUIS, relationship="mamá")


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await bootstrap(settings(database_url), channel=ConsoleChannel(name="cli"),
                          clock=FixedClock(START))
    await _seed(app)
    yield app
    await app.aclose()


async def say(eki: Eki, phone: str, text: str) -> ChatAnswer:
    assert isinstance(eki.channel, ConsoleChannel)
    session = await ChatSession.open(eki, eki.channel, phone)
    return await session.say(text)


# -- the rule-based level ------------------------------------------------------------------


async def test_the_first_question_gets_the_notice_and_is_answered_after_acepto(
        eki: Eki) -> None:
    notice = await say(eki, ANA, "¿cómo voy en matemáticas?")
    assert notice.intent == "consent_required" and notice.tools == ()
    assert "4,5" not in notice.reply and "Ana" not in notice.reply  # nothing disclosed
    assert SCHOOL in notice.reply and URL in notice.reply and "Ley 1581" in notice.reply
    assert "ACEPTO" in notice.reply
    assert await eki.consent.history([ANA_E164]) == []  # asking is no decision
    assert await eki.consent.lacking_consent([ANA_E164, LUIS_E164]) == {ANA_E164, LUIS_E164}

    accepted = await say(eki, ANA, "Acepto")
    assert accepted.reply.startswith("Gracias, quedó registrada tu autorización")
    assert "4,5" in accepted.reply and "get_my_progress" in accepted.tools  # the kept question
    (record,) = await eki.consent.history([ANA_E164])
    assert record.decision is ConsentDecision.GRANTED and record.role is ConsentRole.STUDENT
    assert record.medium is ConsentMedium.WHATSAPP and record.policy_version == "1"
    assert record.message_id is not None and record.message_id.startswith("cli-")
    assert record.student_id is not None and record.decided_at == START
    assert await eki.consent.lacking_consent([ANA_E164, LUIS_E164]) == {LUIS_E164}

    later = await say(eki, ANA, "mis notas")  # consented: no more notices
    assert "4,5" in later.reply and later.intent != "consent_required"
    again = await say(eki, ANA, "ACEPTO")
    assert again.reply.startswith("Tu autorización ya está registrada")
    assert len(await eki.consent.history([ANA_E164])) == 1


async def test_acepto_without_a_kept_question_asks_how_to_help(eki: Eki) -> None:
    accepted = await say(eki, ANA, "sí, acepto")
    assert accepted.intent == "consent_granted" and accepted.reply.endswith(
        "¿En qué te puedo ayudar?")
    assert [r.decision for r in await eki.consent.history([ANA_E164])] == [
        ConsentDecision.GRANTED]


async def test_a_kept_question_older_than_a_day_is_not_answered(eki: Eki) -> None:
    await say(eki, ANA, "¿cómo voy en matemáticas?")
    assert isinstance(eki.clock, FixedClock)
    eki.clock.advance(timedelta(hours=25))
    accepted = await say(eki, ANA, "ACEPTO")
    assert "4,5" not in accepted.reply and accepted.tools == ()


async def test_no_acepto_is_recorded_and_nothing_is_disclosed_after(eki: Eki) -> None:
    await say(eki, ANA, "hola")
    refused = await say(eki, ANA, "NO ACEPTO")
    assert refused.intent == "consent_refused" and "no autorizas" in refused.reply
    (record,) = await eki.consent.history([ANA_E164])
    assert record.decision is ConsentDecision.REFUSED
    for question in ("¿cómo voy en matemáticas?", "mis datos", "1"):
        answer = await say(eki, ANA, question)
        assert answer.intent == "consent_required" and answer.tools == ()
        assert "4,5" not in answer.reply and "Ana" not in answer.reply
        assert "ACEPTO" in answer.reply and "Ley 1581" in answer.reply  # the short reminder
    changed = await say(eki, ANA, "bueno, acepto")  # changing one's mind is a new row
    assert changed.intent == "consent_granted"
    assert [r.decision for r in await eki.consent.history([ANA_E164])] == [
        ConsentDecision.REFUSED, ConsentDecision.GRANTED]


async def test_revocar_withdraws_and_stops_messages_like_baja(eki: Eki) -> None:
    await say(eki, ANA, "acepto")
    revoked = await say(eki, ANA, "REVOCAR")
    assert revoked.intent == "consent_withdrawn" and "revocaste" in revoked.reply
    assert [r.decision for r in await eki.consent.history([ANA_E164])] == [
        ConsentDecision.GRANTED, ConsentDecision.WITHDRAWN]
    assert await eki.consent.lacking_consent([ANA_E164]) == {ANA_E164}
    async with eki.uow() as uow:
        assert await uow.opt_outs.opted_out_among([ANA_E164]) == {ANA_E164}
    silent = await say(eki, ANA, "¿cómo voy?")  # opted out: silence
    assert silent.reply == "" and silent.tools == ()
    back = await say(eki, ANA, "ALTA")  # back in: asked again before any data
    assert back.intent == "opt_in"
    asked = await say(eki, ANA, "¿cómo voy?")
    assert asked.intent == "consent_required" and "4,5" not in asked.reply


async def test_a_new_policy_version_asks_again(database_url: str) -> None:
    clock = FixedClock(START)
    first = await bootstrap(settings(database_url), channel=ConsoleChannel(name="cli"),
                            clock=clock)
    try:
        await _seed(first)
        await say(first, ANA, "acepto")
        assert "4,5" in (await say(first, ANA, "notas")).reply
    finally:
        await first.aclose()
    second = await bootstrap(settings(database_url, privacy_policy_version="2026-02"),
                             channel=ConsoleChannel(name="cli"), clock=clock)
    try:
        asked = await say(second, ANA, "notas")
        assert asked.intent == "consent_required" and "4,5" not in asked.reply
        accepted = await say(second, ANA, "acepto")
        assert "versión 2026-02" in accepted.reply and "4,5" in accepted.reply
        assert [r.policy_version for r in await second.consent.history([ANA_E164])] == [
            "1", "2026-02"]
    finally:
        await second.aclose()


async def test_a_guardian_consents_on_behalf_of_each_child(eki: Eki) -> None:
    notice = await say(eki, MARTA, "¿cómo van las notas?")
    assert notice.intent == "consent_required" and "tus hijos" in notice.reply
    assert "Ana" not in notice.reply and "Luis" not in notice.reply  # not even the names
    chosen = await say(eki, MARTA, "acepto")  # the kept question: which child?
    assert "¿Sobre quién quieres consultar?" in chosen.reply
    records = await eki.consent.history([MARTA_E164])
    assert {r.role for r in records} == {ConsentRole.GUARDIAN}
    assert len({r.student_id for r in records}) == 2 and len(records) == 2
    assert all(r.guardian_id is not None and r.granted for r in records)
    luis = await say(eki, MARTA, "2")
    assert "3,2" in luis.reply
    # The children have not consented themselves: their own chats still ask.
    assert await eki.consent.lacking_consent([MARTA_E164, ANA_E164]) == {ANA_E164}


async def test_an_english_question_gets_an_english_notice(eki: Eki) -> None:
    notice = await say(eki, ANA, "how am I doing in math?")
    assert notice.reply.startswith("Hi! Before we go on:") and "ACCEPT" in notice.reply
    accepted = await say(eki, ANA, "I accept")
    assert accepted.reply.startswith("Thank you, your authorisation is recorded")
    assert "4.5" in accepted.reply or "4,5" in accepted.reply


async def test_unknown_numbers_get_the_unregistered_flow(eki: Eki) -> None:
    answer = await say(eki, NOBODY, "hola")
    assert answer.intent == "unknown_sender" and "ACEPTO" not in answer.reply
    revocar = await say(eki, NOBODY, "REVOCAR")
    assert revocar.intent == "unknown_sender"
    assert await eki.consent.history(["+57" + NOBODY]) == []


async def test_consent_off_answers_at_once(database_url: str) -> None:
    app = await bootstrap(settings(database_url, consent_required=False),
                          channel=ConsoleChannel(name="cli"), clock=FixedClock(START))
    try:
        await _seed(app)
        assert "4,5" in (await say(app, ANA, "notas")).reply
        assert await app.consent.lacking_consent([ANA_E164]) == set()
    finally:
        await app.aclose()


# -- the LLM level ---------------------------------------------------------------------------


@pytest.fixture
def server() -> ScriptedOpenAI:
    return ScriptedOpenAI()


@pytest.fixture
async def llm_eki(database_url: str, server: ScriptedOpenAI) -> AsyncIterator[Eki]:
    model = OpenAIChatModel(api_key="sk-test", http_client=server.client(),
                            backoff_initial=0.01, backoff_max=0.02)
    app = await bootstrap(settings(database_url), language_model=model,
                          channel=ConsoleChannel(name="cli"), clock=FixedClock(START))
    await _seed(app)
    yield app
    await app.aclose()
    await model.aclose()


async def test_no_model_call_and_no_tool_before_acepto(llm_eki: Eki,
                                                       server: ScriptedOpenAI) -> None:
    notice = await say(llm_eki, ANA, "¿cómo voy en mate?")
    assert notice.intent == "consent_required" and notice.tools == ()
    refused = await say(llm_eki, LUIS, "NO ACEPTO")
    assert refused.intent == "consent_refused"
    reminder = await say(llm_eki, LUIS, "dame mis notas")
    assert reminder.tools == () and "3,2" not in reminder.reply
    assert server.requests == []  # the model never saw a question before consent

    server.then(
        completion(tool_calls=[("call_1", "get_my_progress",
                                '{"course": "mate", "period": null}')], usage=(900, 20, 0)),
        completion("Vas con *4,5* en Matemáticas, Ana.", usage=(1000, 30, 0)),
    )
    accepted = await say(llm_eki, ANA, "ACEPTO")
    assert accepted.reply.startswith("Gracias, quedó registrada tu autorización")
    assert accepted.reply.endswith("Vas con *4,5* en Matemáticas, Ana.")
    assert accepted.tools == ("get_my_progress",)
    first = server.requests[0]
    assert first["messages"][-1] == {"role": "user", "content": "¿cómo voy en mate?"}


# -- the whole service: signed Meta webhooks, the worker, the fake Graph API -----------------


def test_over_the_webhook_the_wamid_is_the_proof(database_url: str, graph: Any) -> None:
    from eki_testing.harness import EkiHarness, harness_settings

    with EkiHarness(harness_settings(database_url, graph, consent_required=True,
                                     school_name=SCHOOL), graph) as harness:
        harness.register("Ana Pérez", ANA)
        notice = harness.say(ANA, "hola, ¿cómo voy?")
        assert SCHOOL in notice and "ACEPTO" in notice
        before = len(harness.replies(ANA))
        wamid = harness.send(ANA, "ACEPTO")
        thanks = harness.wait_for_reply(ANA, after=before)
        assert thanks.startswith("Gracias, quedó registrada tu autorización")
        harness.wait_for_reply(ANA, after=before + 1)  # then the kept question's answer
        (record,) = harness.call(harness.eki.consent.history, [ANA_E164])
        assert record.message_id == wamid and record.granted
