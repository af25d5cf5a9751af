"""Data requests' legal deadlines, the person's number forms and reference, retention
cut-offs (issue 18)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from eki_domain.errors import InvalidInput
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.privacy import (
    NOTE_MAX,
    Person,
    PrivacyRequest,
    RequestKind,
    RetentionPolicy,
    person_reference,
)

ANA = PhoneNumber.parse("3001112233")
AT = datetime(2026, 12, 18, 20, tzinfo=UTC)


def test_deadlines_count_business_days_and_colombian_holidays() -> None:
    # Friday 18 Dec 2026: 21–24 (4), 25 Christmas, 28–31 (4), 1 Jan holiday, 4–8 (5)…
    consulta = PrivacyRequest.open(RequestKind.CONSULTA, ANA, "ref:x", at=AT,
                                   today=date(2026, 12, 18))
    assert consulta.due_on == date(2027, 1, 5)
    reclamo = PrivacyRequest.open(RequestKind.RECLAMO, ANA, "ref:x", at=AT,
                                  today=date(2026, 12, 18))
    # 11 Jan 2027 is Reyes Magos (moved to Monday): one more day.
    assert reclamo.due_on == date(2027, 1, 13)
    assert consulta.business_days_left(date(2026, 12, 18)) == 10
    assert consulta.business_days_left(date(2027, 1, 6)) == -1
    assert not consulta.due_soon(date(2026, 12, 18))
    assert consulta.due_soon(date(2027, 1, 2)) and consulta.due_soon(date(2027, 2, 1))
    consulta.close(AT + timedelta(days=3), "cli:ana")
    assert not consulta.due_soon(date(2027, 1, 4)) and not consulta.is_open
    with pytest.raises(InvalidInput):
        consulta.close(AT, "cli:ana")


def test_kinds_notes_and_dict() -> None:
    assert RequestKind.parse(" Reclamo ") is RequestKind.RECLAMO
    with pytest.raises(InvalidInput, match="consulta"):
        RequestKind.parse("queja")
    request = PrivacyRequest.open(RequestKind.CONSULTA, ANA, "ref:x", at=AT, today=AT.date(),
                                  note="  línea\nuno  " + "x" * 600)
    assert len(request.note) == NOTE_MAX and request.note.startswith("línea uno x")
    shown = request.as_dict(today=AT.date())
    assert shown["phone"] == "+573001112233" and shown["overdue"] is False
    with pytest.raises(ValueError, match="timezone-aware"):
        PrivacyRequest.open(RequestKind.CONSULTA, ANA, "ref:x", at=datetime(2026, 1, 1),
                            today=AT.date())


def test_a_person_is_found_under_every_form_of_the_number() -> None:
    person = Person.of(ANA, student_ids=[3, 1, 3])
    assert person.e164s == ("+573001112233",) and person.wa_ids == ("573001112233",)
    assert person.digit_forms == ("573001112233", "3001112233")
    assert person.student_ids == (1, 3) and person.known
    mexico = Person.of(PhoneNumber.from_wa_id("5215512345678"))
    assert set(mexico.wa_ids) == {"525512345678", "5215512345678"}
    assert mexico.digit_forms[0] == "5215512345678"  # longest first: replaced first


def test_the_reference_is_keyed_and_stable() -> None:
    one = person_reference(b"k1", ANA)
    assert one == person_reference(b"k1", PhoneNumber.parse("+57 300 111 2233"))
    assert one != person_reference(b"k2", ANA) and one.startswith("ref:") and len(one) == 20


def test_retention_cutoffs() -> None:
    cut = RetentionPolicy(webhook_days=0, message_days=730, audit_days=1825).cutoffs(AT)
    assert cut == {"webhooks": AT, "messages": AT - timedelta(days=730),
                   "audit": AT - timedelta(days=1825)}


async def test_export_erase_and_purge_on_memory_say_they_need_the_database() -> None:
    """The in-memory store has no tables to walk: a clear error, not an AttributeError."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    import pytest

    from eki_adapters.memory import InMemoryStore
    from eki_adapters.system.clock import FixedClock
    from eki_domain.errors import EkiError
    from eki_domain.model.permissions import Principal
    from eki_domain.model.phone import PhoneNumber
    from eki_domain.services.privacy import PrivacyDesk
    from eki_domain.services.staff import Caller

    async def key() -> bytes:
        return b"k" * 32

    store = InMemoryStore()
    desk = PrivacyDesk(store.uow, FixedClock(datetime(2026, 12, 1, tzinfo=UTC)), key,
                       zone=ZoneInfo("America/Bogota"))
    caller = Caller(Principal.system())
    phone = PhoneNumber.parse("3001112233")
    for attempt in (desk.export(caller, phone), desk.erase(caller, phone),
                    desk.preview_erase(caller, phone), desk.purge()):
        with pytest.raises(EkiError) as raised:
            await attempt
        assert raised.value.code == "NEEDS_DATABASE"
