"""Verification codes (docs/families.md): issue one per student, redeem from an unknown
number, approve when the school wants to, lock a number after too many wrong codes."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from eki_domain.errors import CodeNotPending, EkiError
from eki_domain.model.codes import (
    MAX_WRONG_CODES,
    CodePurpose,
    VerificationCode,
    code_hash,
    display_code,
    new_code,
    read_code,
)
from eki_domain.model.guardian import Relationship
from eki_domain.model.messages import OutboundMessage
from eki_domain.model.pagination import PageRequest
from eki_domain.model.permissions import Principal
from eki_domain.model.phone import PhoneNumber, phone_candidates
from eki_domain.model.schedule import window_left
from eki_domain.model.student import Student
from eki_domain.ports.clock import Clock
from eki_domain.ports.codes import VerificationCodes
from eki_domain.ports.messaging import Outbox
from eki_domain.ports.outbound import ServiceWindows
from eki_domain.services.families import FamilyUnitOfWork, link_guardian
from eki_domain.services.staff import Caller

CODE_ISSUED = "code.issued"
CODE_REDEEMED = "code.redeemed"
CODE_FAILED = "code.failed"
CODE_LOCKED = "code.locked"
CODE_APPROVED = "code.approved"
CODE_REJECTED = "code.rejected"
EKI = Caller(Principal.service())

WRONG = ("Ese código no es válido o ya se usó. Revísalo (8 caracteres, como ABCD-2345) o "
         "pide uno nuevo al colegio.")
LOCKED = ("Este número escribió demasiados códigos equivocados hoy. Intenta de nuevo mañana "
          "o comunícate con el colegio.")
PENDING = ("Recibimos tu código. El colegio debe aprobar el registro; te avisaremos cuando "
           "puedas consultar.")
REJECTED = ("El colegio no aprobó el registro de este número. Si crees que es un error, "
            "comunícate con el colegio.")


def linked_reply(student: Student, purpose: CodePurpose) -> str:
    if purpose is CodePurpose.STUDENT:
        return (f"¡Listo, {student.first_name}! Este número quedó registrado como el tuyo. "
                "Escribe «menú» para ver lo que puedo consultar.")
    return (f"¡Listo! Quedaste registrado(a) como acudiente de {student.first_name}. "
            "Pregúntame por sus notas, fallas o pendientes.")


class CodeUnitOfWork(FamilyUnitOfWork, Protocol):
    @property
    def codes(self) -> VerificationCodes: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def windows(self) -> ServiceWindows: ...


@attrs.frozen
class CodeDecision:
    """An approval or rejection, and whether the number was told (inside its 24-hour
    window only: free text outside it would not be delivered)."""

    code: VerificationCode
    student: Student
    approved: bool
    notified: bool


@attrs.frozen
class IssuedCode:
    student: Student
    code: str  # shown as ABCD-2345
    expires_at: datetime


class CodeDesk:
    def __init__(self, uow: Callable[[], CodeUnitOfWork], clock: Clock, *, days: int = 30,
                 approval: bool = False,
                 randbelow: Callable[[int], int] = secrets.randbelow) -> None:
        self._uow = uow
        self._clock = clock
        self._days = days
        self._approval = approval
        self._randbelow = randbelow

    async def issue(self, caller: Caller, *, tags: Iterable[str] = (),
                    purpose: CodePurpose = CodePurpose.GUARDIAN) -> list[IssuedCode]:
        """One code per active student (with any of ``tags``, when given); re-issuing
        revokes the student's earlier unused code of the same purpose."""
        now = self._clock.now()
        expires = now + timedelta(days=self._days)
        wanted: list[str | None] = [*tags] or [None]
        out: list[IssuedCode] = []
        async with self._uow() as uow:
            seen: set[int] = set()
            for tag in wanted:
                offset = 0
                while True:
                    page = await uow.students.list(tag=tag, active=True,
                                                   page=PageRequest(limit=500, offset=offset))
                    for student in page.items:
                        if student.id is None or student.id in seen:
                            continue
                        seen.add(student.id)
                        code = new_code(self._randbelow)
                        await uow.codes.issue(VerificationCode(
                            code_hash=code_hash(code), student_id=student.id, purpose=purpose,
                            created_at=now, expires_at=expires))
                        out.append(IssuedCode(student, display_code(code), expires))
                    offset += len(page.items)
                    if not page.items or offset >= page.total:
                        break
            await uow.audit.append(caller.entry(now, CODE_ISSUED, target_type="codes",
                                                purpose=purpose.value, count=len(out),
                                                tags=",".join(t for t in wanted if t) or None))
            await uow.commit()
        out.sort(key=lambda item: item.student.name)
        return out

    async def redeem(self, wa_id: str, text: str) -> str:
        """The reply to an unknown number that wrote something that looks like a code."""
        now = self._clock.now()
        phone = (phone_candidates(wa_id) or ("+" + wa_id,))[0]
        async with self._uow() as uow:
            failures = await uow.audit.times_of(CODE_FAILED, since=now - timedelta(days=1),
                                                target_id=phone, limit=MAX_WRONG_CODES)
            if len(failures) >= MAX_WRONG_CODES:
                return LOCKED
            code = read_code(text)
            found = await uow.codes.find(code_hash(code)) if code else None
            student = await uow.students.get(found.student_id) if found else None
            if found is None or found.id is None or student is None or not found.usable(now) \
                    or not await uow.codes.redeem(found.id, now, phone,
                                                  approved=not self._approval):
                await uow.audit.append(EKI.entry(now, CODE_FAILED, target_type="phone",
                                                 target_id=phone))
                locked = len(failures) + 1 >= MAX_WRONG_CODES
                if locked:
                    await uow.audit.append(EKI.entry(now, CODE_LOCKED, target_type="phone",
                                                     target_id=phone))
                await uow.commit()
                return LOCKED if locked else WRONG
            await uow.audit.append(EKI.entry(
                now, CODE_REDEEMED, target_type="student", target_id=str(student.id),
                purpose=found.purpose.value, pending=self._approval))
            if not self._approval:
                await self._link(uow, EKI, found, student, phone)
            await uow.commit()
        return PENDING if self._approval else linked_reply(student, found.purpose)

    async def _link(self, uow: CodeUnitOfWork, caller: Caller, code: VerificationCode,
                    student: Student, phone: str) -> None:
        number = PhoneNumber.from_wa_id(phone.lstrip("+"))
        if code.purpose is CodePurpose.STUDENT:
            student.change_phone(number)
            await uow.students.save(student)
            await uow.audit.append(caller.entry(self._clock.now(), "student.updated",
                                                target_type="student",
                                                target_id=str(student.id), via="code"))
            return
        stored = await uow.guardians.find_by_phones(number.match_candidates())
        await link_guardian(uow, caller, stored, name=f"Acudiente de {student.name}"[:100],
                            phone=number, student=student, relationship=Relationship.ACUDIENTE,
                            may_see_grades=True, may_receive_alerts=True, clock=self._clock,
                            via="code")

    async def pending(self) -> Sequence[tuple[VerificationCode, Student]]:
        async with self._uow() as uow:
            codes = await uow.codes.pending()
            students = await uow.students.get_many([code.student_id for code in codes])
        return [(code, students[code.student_id]) for code in codes
                if code.student_id in students]

    async def approve(self, caller: Caller, phone: object, *, region: str = "CO") -> int:
        """Approve every redemption waiting from this number; returns how many."""
        number = PhoneNumber.parse(phone, region)
        now = self._clock.now()
        approved = 0
        async with self._uow() as uow:
            for code in await uow.codes.pending():
                if code.used_by not in number.match_candidates() or code.id is None:
                    continue
                student = await uow.students.get(code.student_id)
                if student is None or not await uow.codes.approve(code.id, now):
                    continue
                await uow.audit.append(caller.entry(now, CODE_APPROVED, target_type="student",
                                                    target_id=str(student.id)))
                await self._link(uow, caller, code, student, number.e164)
                approved += 1
            if not approved:
                raise EkiError(f"No hay registros por aprobar del número {number.e164}. "
                               "Vea la lista con `eki codes pending`.", code="NOTHING_PENDING")
            await uow.commit()
        return approved

    async def decide(self, caller: Caller, code_id: int, *, approve: bool, via: str = "cli",
                     notify_channel: str | None = None) -> CodeDecision:
        """Approve (link the number) or reject one redemption waiting for approval,
        audited ``code.approved`` / ``code.rejected``; with ``notify_channel`` the number
        is told (the linked reply, or :data:`REJECTED`) when its 24-hour window is open. A
        code that is not waiting (never redeemed, decided already, unknown) raises
        :class:`CodeNotPending`."""
        now = self._clock.now()
        async with self._uow() as uow:
            code = next((c for c in await uow.codes.pending() if c.id == code_id), None)
            student = await uow.students.get(code.student_id) if code is not None else None
            if code is None or student is None or code.used_by is None:
                raise CodeNotPending(code_id)
            done = (await uow.codes.approve(code_id, now) if approve
                    else await uow.codes.reject(code_id, now))
            if not done:  # decided by someone else meanwhile
                raise CodeNotPending(code_id)
            await uow.audit.append(caller.entry(
                now, CODE_APPROVED if approve else CODE_REJECTED, target_type="student",
                target_id=str(student.id), code_id=code_id, purpose=code.purpose.value,
                via=via))
            if approve:
                await self._link(uow, caller, code, student, code.used_by)
            notified = False
            if notify_channel is not None:
                text = linked_reply(student, code.purpose) if approve else REJECTED
                notified = await self._tell(uow, caller, code.used_by, text, now,
                                            notify_channel, approve)
            await uow.commit()
        return CodeDecision(code, student, approve, notified)

    @staticmethod
    async def _tell(uow: CodeUnitOfWork, caller: Caller, e164: str, text: str,
                    now: datetime, channel: str, approved: bool) -> bool:
        """Queue ``text`` to the number that redeemed, if it wrote in the last 24 hours."""
        wa_ids = [c.lstrip("+") for c in PhoneNumber.from_wa_id(e164.lstrip("+"))
                  .match_candidates()]
        last = await uow.windows.last_inbound_at(wa_ids)
        if not last:
            return False
        to, at = max(last.items(), key=lambda item: item[1])
        if window_left(at, now) <= timedelta(0):
            return False
        await uow.outbox.enqueue(OutboundMessage(
            to=to, body=text, created_at=now, channel=channel,
            intent="code_approved" if approved else "code_rejected",
            author=caller.principal.actor))
        return True
