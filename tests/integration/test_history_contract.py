"""recent_history_each on every backend: exactly recent_history, for many students at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eki_domain import PhoneNumber, Student
from eki_domain.model.messages import IncomingMessage, MessageType, OutboundMessage
from eki_domain.ports import UnitOfWorkFactory

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PHONES = {"Ana": "573001234567", "Beto": "573001234568", "Caro": "573001234569"}


async def converse(uow_factory: UnitOfWorkFactory, wa_id: str, student_id: int,
                   turns: int, start: datetime) -> None:
    """``turns`` questions from ``wa_id``, each answered 2 s later, as the worker does."""
    for turn in range(turns):
        at = start + timedelta(minutes=turn)
        async with uow_factory() as uow:
            await uow.inbox.add([IncomingMessage(
                channel="meta", provider_id=f"w-{wa_id}-{turn}", wa_id=wa_id,
                type=MessageType.TEXT, sent_at=at, text=f"pregunta {turn}")], at)
            await uow.commit()
        async with uow_factory() as uow:
            batch = await uow.inbox.claim(at, timedelta(minutes=1))
            assert batch is not None and batch.wa_id == wa_id
            await uow.outbox.enqueue(OutboundMessage(
                to=wa_id, body=f"respuesta {turn}", created_at=at + timedelta(seconds=2),
                student_id=student_id, inbound_id=batch.items[-1].id))
            assert await uow.inbox.complete(batch, at, student_id=student_id, intent="x")
            await uow.commit()


async def test_each_students_recent_history_read_together(
        uow_factory: UnitOfWorkFactory) -> None:
    ids: dict[str, int] = {}
    async with uow_factory() as uow:
        for name, phone in PHONES.items():
            student = await uow.students.add(Student.register(
                name, PhoneNumber.parse("+" + phone), registered_at=NOW))
            assert student.id is not None
            ids[name] = student.id
        await uow.commit()
    await converse(uow_factory, PHONES["Ana"], ids["Ana"], 5, NOW)
    await converse(uow_factory, PHONES["Beto"], ids["Beto"], 1, NOW + timedelta(seconds=30))
    # Caro never wrote.

    wanted = [ids["Beto"], ids["Ana"], ids["Caro"], ids["Ana"]]  # order and repeats as asked
    for limit in (0, 1, 3, 20):
        async with uow_factory() as uow:
            together = await uow.history.recent_each(wanted, limit)
            one_by_one = {sid: await uow.history.recent(sid, limit)
                          for sid in ids.values()}
        assert together == one_by_one, limit
    assert [e.text for e in one_by_one[ids["Ana"]][:4]] == [
        "respuesta 4", "pregunta 4", "respuesta 3", "pregunta 3"]
    assert len(one_by_one[ids["Beto"]]) == 2 and one_by_one[ids["Caro"]] == []
    async with uow_factory() as uow:
        assert await uow.history.recent_each([], 6) == {}
