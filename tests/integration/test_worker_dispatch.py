"""The running worker sends every part of a long answer at once: a part waiting behind the
one before it (same recipient) goes out as soon as that one is sent, not at the next poll."""

from __future__ import annotations

import asyncio
import time

from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_domain.ports.assistant import AssistantReply, StudentToolbox, Turn
from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Settings
from eki_entrypoints.worker import PipelineWorker

LONG = " ".join(f"Frase número {n} de una respuesta muy larga." for n in range(300))


class LongWinded:
    async def answer(self, turn: Turn, tools: StudentToolbox) -> AssistantReply:
        return AssistantReply(text=LONG, intent="largo")


async def test_the_parts_of_a_long_answer_go_out_without_waiting_for_the_poll(
        database_url: str) -> None:
    eki = await bootstrap(Settings(database_url=database_url),
                          channel=ConsoleChannel(name="meta"), assistant=LongWinded())
    worker = PipelineWorker(eki, poll_interval=30)  # only wake-ups can make this quick
    try:
        await eki.registration.register("Ana María Pérez", "573001234567")
        await worker.start()
        started = time.monotonic()
        await eki.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
            IncomingMessage(channel="meta", provider_id="wamid.LONG", wa_id="573001234567",
                            type=MessageType.TEXT, sent_at=eki.clock.now(), text="hola")])
        worker.wake(1)
        channel = eki.channel
        assert isinstance(channel, ConsoleChannel)
        for _ in range(100):  # up to 10 s
            if len(channel.sent) >= 4:
                break
            await asyncio.sleep(0.1)
        elapsed = time.monotonic() - started
        parts = [body for _, body, _ in channel.sent]
        assert len(parts) >= 4, f"only {len(parts)} part(s) sent after {elapsed:.1f}s"
        assert elapsed < 10
        assert " ".join(parts).split() == LONG.split()  # every word, in order
    finally:
        await worker.stop()
        await eki.aclose()
