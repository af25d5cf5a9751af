"""The usage ledger on every backend: one or many records per call, sums for the budgets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eki_domain import PhoneNumber, Student
from eki_domain.ports import UnitOfWorkFactory
from eki_domain.ports.llm import UsageRecord

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def usage(student_id: int | None, at: datetime, prompt: int, completion: int, cost: float,
          outcome: str = "ok", tools: tuple[str, ...] = ()) -> UsageRecord:
    return UsageRecord(at=at, student_id=student_id, model="gpt-4o-mini",
                       prompt_tokens=prompt, completion_tokens=completion, cached_tokens=0,
                       cost_usd=cost, latency_ms=1500, outcome=outcome, tools=tools)


async def test_records_one_or_many_at_a_time_and_sums_them(
        uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        ana = await uow.students.add(Student.register(
            "Ana", PhoneNumber.parse("+573001234567"), registered_at=NOW))
        beto = await uow.students.add(Student.register(
            "Beto", PhoneNumber.parse("+573001234568"), registered_at=NOW))
        await uow.commit()
    assert ana.id is not None and beto.id is not None
    async with uow_factory() as uow:
        await uow.usage.record(usage(ana.id, NOW, 1000, 50, 0.0002, tools=("get_my_progress",)))
        # A group commit writes several turns' calls in one call (one statement).
        await uow.usage.record(
            usage(ana.id, NOW + timedelta(seconds=1), 1200, 80, 0.0003),
            usage(beto.id, NOW + timedelta(seconds=2), 900, 40, 0.0001),
            usage(ana.id, NOW - timedelta(days=1), 5000, 500, 0.002),  # yesterday
            usage(beto.id, NOW, 0, 0, 0.0, outcome="timeout"),
        )
        await uow.usage.record()  # nothing: no statement, no error
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.usage.tokens_for(ana.id, NOW.date()) == 1000 + 50 + 1200 + 80
        assert await uow.usage.tokens_for(beto.id, NOW.date()) == 940
        assert await uow.usage.tokens_for(ana.id, (NOW - timedelta(days=1)).date()) == 5500
        assert abs(await uow.usage.spend_on(NOW.date()) - 0.0006) < 1e-9
        assert await uow.usage.tokens_for_each([beto.id, ana.id, 999_999, ana.id],
                                               NOW.date()) == {
            beto.id: 940, ana.id: 2330, 999_999: 0}
        assert await uow.usage.tokens_for_each([], NOW.date()) == {}


async def test_records_of_a_rolled_back_unit_of_work_are_gone(
        uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        ana = await uow.students.add(Student.register(
            "Ana", PhoneNumber.parse("+573001234567"), registered_at=NOW))
        await uow.commit()
    assert ana.id is not None
    async with uow_factory() as uow:
        await uow.usage.record(usage(ana.id, NOW, 1000, 50, 0.0002))
        # Inside the unit of work its own records count...
        assert await uow.usage.tokens_for(ana.id, NOW.date()) == 1050
        await uow.rollback()
    async with uow_factory() as uow:
        await uow.usage.record(usage(ana.id, NOW, 7, 3, 0.0001))
        # ...and leaving without commit() rolls them back too.
    async with uow_factory() as uow:
        assert await uow.usage.tokens_for(ana.id, NOW.date()) == 0
        assert await uow.usage.spend_on(NOW.date()) == 0
        assert (await uow.operations.usage_totals(NOW - timedelta(days=1))).calls == 0
