"""The register of data requests on every backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from eki_domain.model.phone import PhoneNumber
from eki_domain.model.privacy import PrivacyRequest, RequestKind
from eki_domain.ports import UnitOfWorkFactory

AT = datetime(2026, 12, 1, 15, tzinfo=UTC)


def _request(kind: RequestKind, phone: str, days_ago: int) -> PrivacyRequest:
    at = AT - timedelta(days=days_ago)
    return PrivacyRequest.open(kind, PhoneNumber.parse(phone), f"ref:{phone[-4:]}", at=at,
                               today=at.date(), note=f"nota {phone[-4:]}", by="cli:tests")


async def test_add_list_close_and_forget(uow_factory: UnitOfWorkFactory) -> None:
    uow: Any
    async with uow_factory() as uow:
        late = await uow.privacy_requests.add(_request(RequestKind.CONSULTA, "3001110001", 30))
        fresh = await uow.privacy_requests.add(_request(RequestKind.RECLAMO, "3001110002", 0))
        other = await uow.privacy_requests.add(_request(RequestKind.CONSULTA, "3001110002", 1))
        await uow.commit()
    assert late.id is not None and fresh.id is not None and other.id is not None
    async with uow_factory() as uow:
        listed = await uow.privacy_requests.list()
        assert [r.id for r in listed] == [late.id, other.id, fresh.id]  # nearest deadline first
        got = await uow.privacy_requests.get(late.id)
        assert got is not None and got.kind is RequestKind.CONSULTA
        assert got.phone == "+573001110001" and got.note == "nota 0001"
        assert got.opened_by == "cli:tests" and got.due_on == late.due_on
        assert await uow.privacy_requests.get(999_999) is None
        got.close(AT, "rectora@colegio.edu.co")
        await uow.privacy_requests.save(got)
        await uow.commit()
    async with uow_factory() as uow:
        assert [r.id for r in await uow.privacy_requests.list(open_only=True)] == [
            other.id, fresh.id]
        assert [r.id for r in await uow.privacy_requests.list()][-1] == late.id  # closed last
        due = await uow.privacy_requests.list(due_by=other.due_on)
        assert [r.id for r in due] == [other.id]
        assert await uow.privacy_requests.forget_phone(["+573001110002"]) == 2
        # Not committed: rolled back.
    async with uow_factory() as uow:
        assert {r.phone for r in await uow.privacy_requests.list()} == {
            "+573001110001", "+573001110002"}
        assert await uow.privacy_requests.forget_phone(["+573001110002"]) == 2
        await uow.commit()
    async with uow_factory() as uow:
        kept = await uow.privacy_requests.get(fresh.id)
        assert kept is not None and kept.phone is None and kept.reference == "ref:0002"
        closed = await uow.privacy_requests.get(late.id)
        assert closed is not None and closed.closed_by == "rectora@colegio.edu.co"
        assert closed.closed_at == AT and isinstance(closed.due_on, date)
