"""A small school for the admin tests: students, a conversation with delivery states, a
hand-off, grades, model usage and a rejected webhook — all written through EKI's own
services and ports (no SQL, no mocks)."""

from __future__ import annotations

from datetime import timedelta

from eki_adapters.whatsapp import parse_meta_webhook
from eki_domain.model.imports import sheet_from_records
from eki_domain.model.pagination import PageRequest
from eki_domain.ports.llm import UsageRecord
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.worker import PipelineWorker
from eki_testing import meta

ANA = "573001234567"
BRUNO = "573009876543"
CARLA = "573005551234"


async def deliver(eki: Eki, payload: dict) -> None:  # type: ignore[type-arg]
    parsed = parse_meta_webhook(payload, now=eki.clock.now())
    await eki.ingest.ingest(channel="meta", body=meta.encode(payload).decode(),
                            messages=parsed.messages, statuses=parsed.statuses)


async def seed_school(eki: Eki) -> dict[str, int]:
    ana = await eki.registration.register("Ana María Pérez", ANA, tags=["grado 10"])
    bruno = await eki.registration.register("Bruno Díaz", BRUNO, tags=["grado 11"],
                                            active=False)
    carla = await eki.registration.register("Carla Gómez", CARLA, tags=["grado 10"])
    assert ana.id and bruno.id and carla.id
    await eki.progress_import.import_sheet(sheet_from_records([
        {"telefono": ANA, "curso": "Matemáticas", "actividad": "Taller 1", "nota": 4.5},
        {"telefono": ANA, "curso": "Matemáticas", "actividad": "Examen", "nota": 3.8},
    ], "notas.json"))

    await deliver(eki, meta.text_message(ANA, "hola, ¿cómo voy en matemáticas?"))
    await deliver(eki, meta.text_message(CARLA, "quiero hablar con una persona"))
    await PipelineWorker(eki).drain()
    async with eki.uow() as uow:
        history = await uow.history.page(ana.id, PageRequest())
        replies = [e for e in history.items if e.direction == "out" and e.provider_id]
        await uow.usage.record(UsageRecord(
            at=eki.clock.now() - timedelta(minutes=5), student_id=ana.id, model="gpt-4o-mini",
            prompt_tokens=900, completion_tokens=100, cached_tokens=0, cost_usd=0.0012,
            latency_ms=800, outcome="ok", tools=("get_my_progress",)))
        await uow.usage.record(UsageRecord(
            at=eki.clock.now() - timedelta(minutes=4), student_id=ana.id, model="gpt-4o-mini",
            prompt_tokens=0, completion_tokens=0, cached_tokens=0, cost_usd=0.0,
            latency_ms=15000, outcome="timeout"))
        await uow.commit()
    assert replies, "the seeded conversation produced no sent reply"
    await deliver(eki, meta.status_update(replies[0].provider_id or "", "delivered", ANA))
    await eki.ingest.record_rejected(channel="meta", reason="firma inválida; 120 bytes")
    return {"ana": ana.id, "bruno": bruno.id, "carla": carla.id}
