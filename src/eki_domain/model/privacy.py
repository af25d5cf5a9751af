"""Privacy by law (issue 18): data requests, their legal deadlines, erasure reports and
retention.

Colombia's Ley 1581 de 2012 gives a *consulta* (what do you hold about me?) 10 business days
and a *reclamo* (correct or delete it) 15, counted from the day after the request, skipping
weekends and Colombian public holidays (:func:`~eki_domain.model.schedule.add_business_days`).

A person is never named in the audit log or in logs by phone: :func:`person_reference` is an
HMAC of the E.164 number under the secret key, stable (the same person always gets the same
reference) and useless without the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum

import attrs

from eki_domain.errors import InvalidInput
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.schedule import add_business_days, business_days_between

#: Longest note kept with a request (it is typed by staff).
NOTE_MAX = 500
#: A request is "due soon" (the dashboard shows it) this many calendar days ahead.
DUE_SOON_DAYS = 3
#: Rows deleted per transaction by the retention purge (no long locks on a live database).
PURGE_BATCH = 10_000
#: Rows one erasure may touch in one transaction; a person with more is erased after a
#: purge (``eki privacy purge``) or by raising the bound in code, never half-way.
ERASE_MAX_ROWS = 200_000


class RequestKind(StrEnum):
    CONSULTA = "consulta"
    RECLAMO = "reclamo"

    @property
    def business_days(self) -> int:
        """The legal deadline (Ley 1581, arts. 14 and 15)."""
        return 10 if self is RequestKind.CONSULTA else 15

    @classmethod
    def parse(cls, raw: object) -> RequestKind:
        text = str(raw).strip().lower() if raw is not None else ""
        for kind in cls:
            if kind.value == text:
                return kind
        raise InvalidRequest("El tipo de solicitud debe ser «consulta» o «reclamo».")


class InvalidRequest(InvalidInput):
    code = "INVALID_PRIVACY_REQUEST"


class RequestNotFound(InvalidInput):
    code = "PRIVACY_REQUEST_NOT_FOUND"


class TooMuchToErase(InvalidInput):
    code = "TOO_MUCH_TO_ERASE"


def person_reference(key: bytes, phone: PhoneNumber) -> str:
    """``ref:`` + 16 hex digits of HMAC-SHA256(key, E.164): how the audit log and the
    register name a person without their number."""
    mac = hmac.new(key, b"person\x00" + phone.e164.encode(), hashlib.sha256).hexdigest()
    return "ref:" + mac[:16]


def _note(value: object) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= NOTE_MAX else text[: NOTE_MAX - 1] + "…"


@attrs.define
class PrivacyRequest:
    """A consulta or reclamo, with its legal deadline. ``phone`` is None once the person's
    data was erased (``reference`` stays: proof the request was answered)."""

    kind: RequestKind
    phone: str | None
    reference: str
    opened_at: datetime
    due_on: date
    note: str = attrs.field(default="", converter=_note)
    closed_at: datetime | None = None
    closed_by: str | None = None
    opened_by: str = ""
    id: int | None = None

    @classmethod
    def open(cls, kind: RequestKind, phone: PhoneNumber, reference: str, *, at: datetime,
             today: date, note: object = "", by: str = "") -> PrivacyRequest:
        """Opened ``at`` (``today`` in the school's time zone): due ``kind.business_days``
        business days later."""
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        return cls(kind=kind, phone=phone.e164, reference=reference, opened_at=at,
                   due_on=add_business_days(today, kind.business_days), note=note,
                   opened_by=by)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def close(self, at: datetime, by: str) -> None:
        if self.closed_at is not None:
            raise InvalidRequest(f"La solicitud {self.id} ya estaba cerrada.")
        self.closed_at = at
        self.closed_by = by

    def business_days_left(self, today: date) -> int:
        """Business days from ``today`` to the deadline (0 on the day, negative: late)."""
        return business_days_between(today, self.due_on)

    def due_soon(self, today: date) -> bool:
        return self.is_open and self.due_on <= today + timedelta(days=DUE_SOON_DAYS)

    def as_dict(self, today: date | None = None) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.id, "kind": self.kind.value, "phone": self.phone,
            "reference": self.reference, "opened_at": self.opened_at.isoformat(),
            "due_on": self.due_on.isoformat(), "note": self.note,
            "opened_by": self.opened_by,
            "closed_at": None if self.closed_at is None else self.closed_at.isoformat(),
            "closed_by": self.closed_by}
        if today is not None:
            out["business_days_left"] = self.business_days_left(today)
            out["overdue"] = self.is_open and self.due_on < today
        return out


@attrs.frozen
class Person:
    """Everything that identifies one person in storage: the forms of their number
    (E.164 and WhatsApp ids, with the 521/549/9th-digit variants), and the student and
    guardian records found under them."""

    phone: PhoneNumber
    e164s: tuple[str, ...]
    student_ids: tuple[int, ...] = ()
    guardian_ids: tuple[int, ...] = ()

    @classmethod
    def of(cls, phone: PhoneNumber, *, student_ids: Sequence[int] = (),
           guardian_ids: Sequence[int] = ()) -> Person:
        return cls(phone=phone, e164s=phone.match_candidates(),
                   student_ids=tuple(sorted(set(student_ids))),
                   guardian_ids=tuple(sorted(set(guardian_ids))))

    @property
    def wa_ids(self) -> tuple[str, ...]:
        """The E.164 forms without ``+`` (how WhatsApp and raw bodies write them)."""
        return tuple(e[1:] for e in self.e164s)

    @property
    def digit_forms(self) -> tuple[str, ...]:
        """Digit strings whose presence in a text means the number is there: the WhatsApp
        ids and the national numbers (a spreadsheet cell holds ``3001112233``); longest
        first, so a replacement never leaves a country code behind."""
        nationals = []
        for e164 in self.e164s:
            national = PhoneNumber.parse(e164).national_number
            if len(national) >= 7:
                nationals.append(national)
        return tuple(dict.fromkeys(sorted([*self.wa_ids, *nationals], key=len, reverse=True)))

    @property
    def known(self) -> bool:
        return bool(self.student_ids or self.guardian_ids)


@attrs.frozen
class ExportSection:
    """One table's rows about a person, with a short Spanish explanation."""

    name: str
    title: str
    explanation: str
    rows: tuple[Mapping[str, object], ...]
    #: The table held more rows than an export lists: the document says so.
    truncated: bool = False

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"seccion": self.name, "titulo": self.title,
                                  "explicacion": self.explanation,
                                  "filas": [dict(r) for r in self.rows]}
        if self.truncated:
            out["incompleta"] = (f"Solo se incluyen las primeras {len(self.rows)} filas; "
                                 "pida el resto a la institución.")
        return out


@attrs.frozen
class TableCount:
    """Rows of one table an erasure deleted (``deleted``), reduced to anonymous data
    (``anonymised``) or left as they were (``kept``, with why in ``note``)."""

    table: str
    deleted: int = 0
    anonymised: int = 0
    kept: int = 0
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"table": self.table, "deleted": self.deleted, "anonymised": self.anonymised,
                "kept": self.kept, "note": self.note}


@attrs.frozen
class RetentionPolicy:
    """Days each kind of data is kept (``EKI_RETENTION_*_DAYS``). Webhook bodies 0: none
    survives the next purge."""

    webhook_days: int = 30
    message_days: int = 730
    audit_days: int = 1825

    def cutoffs(self, now: datetime) -> dict[str, datetime]:
        """Per kind of data (``webhooks``, ``messages``, ``audit``): rows older than this go."""
        return {"webhooks": now - timedelta(days=self.webhook_days),
                "messages": now - timedelta(days=self.message_days),
                "audit": now - timedelta(days=self.audit_days)}


@attrs.frozen
class PurgeReport:
    """Rows per table the purge deleted (or, in a dry run, would delete)."""

    dry_run: bool
    counts: Mapping[str, int]
    batches: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, object]:
        return {"dry_run": self.dry_run, "counts": dict(self.counts), "total": self.total,
                "batches": self.batches}
