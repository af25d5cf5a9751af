"""The per-sender inbound flood limit: the guard alone, then conversation turns through
``bootstrap`` with the in-memory adapters (no model call, one notice, then silence)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from eki_adapters.memory import InMemoryStore
from eki_adapters.system import FixedClock
from eki_adapters.whatsapp import ConsoleChannel, parse_meta_webhook
from eki_domain.model.messages import IncomingMessage
from eki_domain.ports.assistant import AssistantReply, StudentToolbox, Turn
from eki_domain.services.flood import FLOOD_NOTICE, FloodGuard, FloodVerdict
from eki_domain.services.windows import FixedWindowCounter
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings
from eki_entrypoints.worker import PipelineWorker
from eki_testing import meta

ANA = "573001234567"
T0 = datetime(2026, 3, 2, 15, tzinfo=UTC)


async def test_guard_counts_per_sender_in_fixed_windows() -> None:
    guard = FloodGuard(limit=3, window=timedelta(minutes=1))
    assert [await guard.admit("a", 1, T0) for _ in range(3)] == [FloodVerdict.OK] * 3
    assert await guard.admit("b", 1, T0) is FloodVerdict.OK
    assert await guard.admit("a", 1, T0) is FloodVerdict.NOTICE
    assert await guard.admit("a", 2, T0 + timedelta(seconds=59)) is FloodVerdict.SILENT
    assert await guard.admit("a", 1, T0 + timedelta(seconds=60)) is FloodVerdict.OK
    assert await guard.admit("c", 5, T0) is FloodVerdict.NOTICE  # a burst counts every message
    assert await FloodGuard(limit=0).admit("a", 10_000, T0) is FloodVerdict.OK
    with pytest.raises(ValueError, match="limit"):
        FloodGuard(limit=-1)


async def test_guard_forgets_expired_senders() -> None:
    counter = FixedWindowCounter(60)
    guard = FloodGuard(limit=1, counter=counter)
    counter.sweep_at = 10
    for n in range(10):
        await guard.admit(f"s{n}", 1, T0)
    await guard.admit("late", 1, T0 + timedelta(minutes=2))
    assert len(counter._windows) == 1


class CountingAssistant:
    """A fake at the Assistant port: answers and counts the calls (the 'model')."""

    def __init__(self) -> None:
        self.calls = 0

    async def answer(self, turn: Turn, tools: StudentToolbox) -> AssistantReply:
        self.calls += 1
        return AssistantReply(text=f"respuesta {self.calls}", intent="llm")


@pytest.fixture
async def eki() -> AsyncIterator[Eki]:
    app = await bootstrap(Settings(flood_limit=3), uow=InMemoryStore().uow,
                          clock=FixedClock(T0), channel=ConsoleChannel(name="meta"),
                          assistant=CountingAssistant())
    await app.registration.register("Ana María Pérez", ANA)
    yield app
    await app.aclose()


def message(text: str) -> IncomingMessage:
    [parsed] = parse_meta_webhook(meta.text_message(ANA, text)).messages
    return parsed


async def say(eki: Eki, text: str) -> list[str]:
    channel = eki.channel
    assert isinstance(channel, ConsoleChannel)
    before = len(channel.sent)
    await eki.ingest.ingest(channel="meta", body="{}", messages=[message(text)], statuses=[])
    await PipelineWorker(eki).drain()
    return [body for _, body, _ in channel.sent[before:]]


async def test_over_the_limit_one_notice_then_silence_until_the_window_passes(eki: Eki) -> None:
    assistant = eki.assistant
    assert isinstance(assistant, CountingAssistant)
    answers = [await say(eki, f"pregunta {n}") for n in range(3)]
    assert answers == [["respuesta 1"], ["respuesta 2"], ["respuesta 3"]]
    assert await say(eki, "pregunta 4") == [FLOOD_NOTICE]
    assert await say(eki, "pregunta 5") == []
    assert await say(eki, "pregunta 6") == []
    assert assistant.calls == 3  # no assistant (model) call over the limit
    assert isinstance(eki.clock, FixedClock)
    eki.clock.advance(timedelta(seconds=61))
    assert await say(eki, "pregunta 7") == ["respuesta 4"]


async def test_opt_out_is_honoured_during_a_flood(eki: Eki) -> None:
    for n in range(4):
        await say(eki, f"pregunta {n}")
    [confirmation] = await say(eki, "BAJA")
    assert "baja" in confirmation.lower() or "ALTA" in confirmation
    async with eki.uow() as uow:
        assert await uow.opt_outs.opted_out_among(["+" + ANA]) == {"+" + ANA}


async def test_no_notice_while_a_person_has_the_conversation(eki: Eki) -> None:
    [confirmation] = await say(eki, "quiero hablar con un asesor")
    assert confirmation
    for n in range(5):
        assert await say(eki, f"mensaje {n}") == []  # the bot is paused: not even the notice
    assistant = eki.assistant
    assert isinstance(assistant, CountingAssistant) and assistant.calls == 0
