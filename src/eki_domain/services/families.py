"""Managing families: guardians, their links to students, audited (``eki guardians``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import attrs

from eki_domain.errors import (
    DuplicateGuardianLink,
    GuardianNotFound,
    InvalidInput,
    InvalidPhoneNumber,
    StudentNotFound,
)
from eki_domain.model.guardian import Guardian, GuardianLink, Relationship, parse_relationship
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import Student
from eki_domain.ports.clock import Clock
from eki_domain.ports.guardians import Guardians
from eki_domain.ports.repositories import StudentRepository, Transaction
from eki_domain.ports.staff import AuditLog
from eki_domain.services.staff import Caller

GUARDIAN_LINKED = "guardian.linked"
GUARDIAN_UNLINKED = "guardian.unlinked"
GUARDIAN_CREATED = "guardian.created"
GUARDIAN_VIEWED = "guardian.viewed"  # a guardian's page or API record read by staff


class FamilyUnitOfWork(Transaction, Protocol):
    @property
    def students(self) -> StudentRepository: ...

    @property
    def guardians(self) -> Guardians: ...

    @property
    def audit(self) -> AuditLog: ...


@attrs.frozen
class FamilyLink:
    """A link with both ends, for listings."""

    guardian: Guardian
    student: Student
    link: GuardianLink


@attrs.frozen
class GuardianCard:
    """A guardian with the links the reader may see (a teacher: their students' only)."""

    guardian: Guardian
    links: tuple[FamilyLink, ...]


#: The largest priority a link takes (1 = first contact).
MAX_PRIORITY = 99


def in_scope(student: Student, any_tags: frozenset[str] | None) -> bool:
    return any_tags is None or bool(any_tags & student.tags)


async def find_student(uow: FamilyUnitOfWork, phone: PhoneNumber) -> Student | None:
    return await uow.students.find_by_phones(phone.match_candidates())


async def link_guardian(uow: FamilyUnitOfWork, caller: Caller, at_now: Guardian | None, *,
                        name: object, phone: PhoneNumber, student: Student,
                        relationship: Relationship, may_see_grades: bool,
                        may_receive_alerts: bool, clock: Clock,
                        via: str = "cli") -> tuple[Guardian, bool]:
    """Create the guardian if needed (``at_now``: the one already stored under the phone)
    and link it to ``student``, with the audit entry, inside the caller's unit of work.
    Returns the guardian and whether it was created."""
    now = clock.now()
    created = at_now is None
    guardian = at_now if at_now is not None else await uow.guardians.add(
        Guardian.register(name, phone, created_at=now))
    if guardian.id is None or student.id is None:  # pragma: no cover - stored records
        raise LookupError("unsaved guardian or student")
    if created:
        await uow.audit.append(caller.entry(now, GUARDIAN_CREATED, target_type="guardian",
                                            target_id=str(guardian.id), via=via))
    existing = await uow.guardians.links_of_guardian(guardian.id)
    priority = next((k.priority for k in existing if k.student_id == student.id), None)
    if priority is None:
        others = await uow.guardians.links_of_student(student.id)
        priority = 1 + max((k.priority for k in others), default=0)
    await uow.guardians.link(GuardianLink(
        guardian_id=guardian.id, student_id=student.id, relationship=relationship,
        may_see_grades=may_see_grades, may_receive_alerts=may_receive_alerts,
        priority=priority))
    await uow.audit.append(caller.entry(
        now, GUARDIAN_LINKED, target_type="student", target_id=str(student.id),
        guardian_id=guardian.id, relationship=relationship.value,
        may_see_grades=may_see_grades, may_receive_alerts=may_receive_alerts, via=via))
    return guardian, created


class FamilyService:
    """Add, link, unlink and list guardians; every change is audited in its own unit of
    work."""

    def __init__(self, uow: Callable[[], FamilyUnitOfWork], clock: Clock, *,
                 region: str = "CO") -> None:
        self._uow = uow
        self._clock = clock
        self._region = region

    def parse_phone(self, raw: object) -> PhoneNumber:
        return PhoneNumber.parse(raw, self._region)

    async def add(self, caller: Caller, name: object, phone: object, *, student_phone: object,
                  relationship: object = None, may_see_grades: bool = True,
                  may_receive_alerts: bool = True, replace: bool = True,
                  via: str = "cli") -> tuple[Guardian, Student]:
        """Create the guardian when the phone is new (rename it otherwise) and link the
        student. An existing link is replaced, or with ``replace=False`` refused
        (:class:`DuplicateGuardianLink`)."""
        number = self.parse_phone(phone)
        kid_phone = self.parse_phone(student_phone)
        kind = parse_relationship(relationship)
        if number.e164 == kid_phone.e164:
            raise InvalidInput("El acudiente no puede tener el mismo teléfono del estudiante.",
                               code="SAME_PHONE")
        async with self._uow() as uow:
            student = await find_student(uow, kid_phone)
            if student is None or student.id is None:
                raise StudentNotFound(f"el teléfono {kid_phone.e164}")
            stored = await uow.guardians.find_by_phones(number.match_candidates())
            if stored is not None and stored.id is not None:
                if not replace and any(k.student_id == student.id for k in
                                       await uow.guardians.links_of_guardian(stored.id)):
                    raise DuplicateGuardianLink(stored.phone.e164)
                stored.rename(name)
                await uow.guardians.save(stored)
            guardian, _ = await link_guardian(
                uow, caller, stored, name=name, phone=number, student=student,
                relationship=kind, may_see_grades=may_see_grades,
                may_receive_alerts=may_receive_alerts, clock=self._clock, via=via)
            await uow.commit()
        return guardian, student

    async def unlink(self, caller: Caller, phone: object, *, student_phone: object,
                     via: str = "cli") -> bool:
        number = self.parse_phone(phone)
        kid_phone = self.parse_phone(student_phone)
        async with self._uow() as uow:
            guardian = await uow.guardians.find_by_phones(number.match_candidates())
            if guardian is None or guardian.id is None:
                raise GuardianNotFound(f"el teléfono {number.e164}")
            student = await find_student(uow, kid_phone)
            if student is None or student.id is None:
                raise StudentNotFound(f"el teléfono {kid_phone.e164}")
            removed = await uow.guardians.unlink(guardian.id, student.id)
            if removed:
                await uow.audit.append(caller.entry(
                    self._clock.now(), GUARDIAN_UNLINKED, target_type="student",
                    target_id=str(student.id), guardian_id=guardian.id, via=via))
                await uow.commit()
        return removed

    async def update_link(self, caller: Caller, phone: object, *, student_phone: object,
                          relationship: object = None, may_see_grades: bool | None = None,
                          may_receive_alerts: bool | None = None, priority: int | None = None,
                          via: str = "cli") -> FamilyLink:
        """Change an existing link (what is None stays), audited as ``guardian.linked``
        with ``change=update``."""
        number = self.parse_phone(phone)
        kid_phone = self.parse_phone(student_phone)
        kind = None if relationship is None else parse_relationship(relationship)
        if priority is not None and not 1 <= priority <= MAX_PRIORITY:
            raise InvalidInput(f"La prioridad va de 1 a {MAX_PRIORITY} (1 = primer contacto).",
                               code="INVALID_PRIORITY")
        async with self._uow() as uow:
            guardian = await uow.guardians.find_by_phones(number.match_candidates())
            if guardian is None or guardian.id is None:
                raise GuardianNotFound(f"el teléfono {number.e164}")
            student = await find_student(uow, kid_phone)
            if student is None or student.id is None:
                raise StudentNotFound(f"el teléfono {kid_phone.e164}")
            link = next((k for k in await uow.guardians.links_of_guardian(guardian.id)
                         if k.student_id == student.id), None)
            if link is None:
                raise GuardianNotFound(f"el teléfono {number.e164} vinculado a ese estudiante")
            changed = attrs.evolve(
                link, relationship=kind or link.relationship,
                may_see_grades=link.may_see_grades if may_see_grades is None
                else may_see_grades,
                may_receive_alerts=link.may_receive_alerts if may_receive_alerts is None
                else may_receive_alerts,
                priority=link.priority if priority is None else priority)
            if changed != link:
                await uow.guardians.link(changed)
                await uow.audit.append(caller.entry(
                    self._clock.now(), GUARDIAN_LINKED, target_type="student",
                    target_id=str(student.id), guardian_id=guardian.id, change="update",
                    relationship=changed.relationship.value,
                    may_see_grades=changed.may_see_grades,
                    may_receive_alerts=changed.may_receive_alerts,
                    priority=changed.priority, via=via))
                await uow.commit()
        return FamilyLink(guardian, student, changed)

    async def page(self, *, search: str | None = None, student_phone: object = None,
                   any_tags: frozenset[str] | None = None,
                   page: PageRequest = PageRequest(),  # noqa: B008 - frozen value object
                   ) -> Page[GuardianCard]:
        """Guardians by name with their links; ``any_tags`` (a teacher's scope) keeps the
        guardians of those students and, of each, the links to them only."""
        async with self._uow() as uow:
            student_id = None
            if student_phone is not None:
                kid = await find_student(uow, self.parse_phone(student_phone))
                if kid is None or kid.id is None or not in_scope(kid, any_tags):
                    raise StudentNotFound(f"el teléfono {student_phone}"[:60])
                student_id = kid.id
            found = await uow.guardians.page(search=search, student_id=student_id,
                                             any_tags=any_tags, page=page)
            cards = [await self._card(uow, g, any_tags) for g in found.items]
        return Page(items=tuple(cards), total=found.total, limit=found.limit,
                    offset=found.offset)

    async def card(self, phone: object, *,
                   any_tags: frozenset[str] | None = None) -> GuardianCard:
        """One guardian and the links the reader may see; a teacher asking for a guardian
        of none of their students gets :class:`GuardianNotFound`, as if it did not
        exist."""
        number = self.parse_phone(phone)
        async with self._uow() as uow:
            guardian = await uow.guardians.find_by_phones(number.match_candidates())
            if guardian is None:
                raise GuardianNotFound(f"el teléfono {number.e164}")
            card = await self._card(uow, guardian, any_tags)
        if any_tags is not None and not card.links:
            raise GuardianNotFound(f"el teléfono {number.e164}")
        return card

    @staticmethod
    async def _card(uow: FamilyUnitOfWork, guardian: Guardian,
                    any_tags: frozenset[str] | None) -> GuardianCard:
        links = []
        for link in await uow.guardians.links_of_guardian(guardian.id or 0):
            student = await uow.students.get(link.student_id)
            if student is not None and in_scope(student, any_tags):
                links.append(FamilyLink(guardian, student, link))
        return GuardianCard(guardian, tuple(links))

    async def links(self, *, student_phone: object = None) -> list[FamilyLink]:
        """Every link (by guardian name), or those of one student."""
        async with self._uow() as uow:
            if student_phone is not None:
                kid = await find_student(uow, self.parse_phone(student_phone))
                if kid is None or kid.id is None:
                    raise StudentNotFound(f"el teléfono {student_phone}")
                return await self._of_student(uow, kid)
            out: list[FamilyLink] = []
            for guardian in await uow.guardians.list():
                for link in await uow.guardians.links_of_guardian(guardian.id or 0):
                    student = await uow.students.get(link.student_id)
                    if student is not None:
                        out.append(FamilyLink(guardian, student, link))
            return out

    async def of_student(self, student: Student) -> list[FamilyLink]:
        async with self._uow() as uow:
            return await self._of_student(uow, student)

    @staticmethod
    async def _of_student(uow: FamilyUnitOfWork, student: Student) -> list[FamilyLink]:
        out: list[FamilyLink] = []
        for link in await uow.guardians.links_of_student(student.id or 0):
            guardian = await uow.guardians.get(link.guardian_id)
            if guardian is not None:
                out.append(FamilyLink(guardian, student, link))
        return out

    async def guardians(self) -> Sequence[Guardian]:
        async with self._uow() as uow:
            return await uow.guardians.list()


__all__ = ["FamilyLink", "FamilyService", "FamilyUnitOfWork", "GuardianCard",
           "InvalidPhoneNumber", "link_guardian"]
