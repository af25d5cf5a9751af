"""Registering students and keeping their records: the registry's use cases."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from eki_domain.errors import DuplicatePhone, InvalidPhoneNumber, StudentNotFound
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import Student, normalize_tag
from eki_domain.ports.clock import Clock
from eki_domain.ports.repositories import StudentRepository, Transaction

_UNSET: object = object()


class StudentsUnitOfWork(Transaction, Protocol):
    """What this use case needs of a unit of work (``SqlUnitOfWork`` and
    ``InMemoryUnitOfWork`` are one)."""

    @property
    def students(self) -> StudentRepository: ...


class RegistrationService:
    """Register, look up, update, (de)activate, tag and list students.

    Phones may be given in any format a person would type or a spreadsheet
    would hold; they are parsed with ``default_region``.
    """

    def __init__(self, uow: Callable[[], StudentsUnitOfWork], clock: Clock, *,
                 default_region: str = "CO") -> None:
        self._uow = uow
        self._clock = clock
        self._region = default_region

    def parse_phone(self, raw: object) -> PhoneNumber:
        return PhoneNumber.parse(raw, self._region)

    def lookup_candidates(self, raw: object) -> tuple[str, ...]:
        """Every E.164 under which the student behind ``raw`` may be stored.

        Accepts what staff type (``300 123 4567``) and WhatsApp sender ids
        (``5215512345678``), handling the Mexico / Argentina / Brazil quirks.
        """
        try:
            phone = self.parse_phone(raw)
        except InvalidPhoneNumber as exc:
            digits = str(raw).strip().lstrip("+")
            if not digits.isdigit():
                raise
            try:
                phone = PhoneNumber.from_wa_id(digits)
            except InvalidPhoneNumber:
                raise exc from None
        return phone.match_candidates()

    async def register(
        self,
        name: object,
        phone: object,
        *,
        tags: Iterable[object] = (),
        active: bool = True,
    ) -> Student:
        number = phone if isinstance(phone, PhoneNumber) else self.parse_phone(phone)
        student = Student.register(
            name, number, registered_at=self._clock.now(), tags=tags, active=active
        )
        async with self._uow() as uow:
            if await uow.students.find_by_phones(number.match_candidates()) is not None:
                raise DuplicatePhone(number.e164)
            await uow.students.add(student)
            await uow.commit()
        return student

    async def find(self, phone: object) -> Student:
        """The student with this phone; raises StudentNotFound."""
        candidates = self.lookup_candidates(phone)
        async with self._uow() as uow:
            student = await uow.students.find_by_phones(candidates)
        if student is None:
            raise StudentNotFound(candidates[0])
        return student

    async def find_or_none(self, phone: object) -> Student | None:
        try:
            return await self.find(phone)
        except (StudentNotFound, InvalidPhoneNumber):
            return None

    async def update(
        self,
        phone: object,
        *,
        name: object = _UNSET,
        new_phone: object = _UNSET,
        active: bool | None = None,
        tags: Iterable[object] | None = None,
    ) -> Student:
        """Change any of name, phone, active and the whole tag set in one transaction."""
        parsed_new = None if new_phone is _UNSET else self.parse_phone(new_phone)
        candidates = self.lookup_candidates(phone)
        async with self._uow() as uow:
            student = await self._load(uow, candidates)
            if name is not _UNSET:
                student.rename(name)
            if parsed_new is not None and parsed_new != student.phone:
                other = await uow.students.find_by_phones(parsed_new.match_candidates())
                if other is not None and other.id != student.id:
                    raise DuplicatePhone(parsed_new.e164)
                student.change_phone(parsed_new)
            if active is not None:
                if active:
                    student.activate()
                else:
                    student.deactivate()
            if tags is not None:
                student.set_tags(tags)
            await uow.students.save(student)
            await uow.commit()
        return student

    async def activate(self, phone: object) -> Student:
        return await self.update(phone, active=True)

    async def deactivate(self, phone: object) -> Student:
        return await self.update(phone, active=False)

    async def tag(self, phone: object, *tags: object) -> Student:
        candidates = self.lookup_candidates(phone)
        async with self._uow() as uow:
            student = await self._load(uow, candidates)
            student.tag(*tags)
            await uow.students.save(student)
            await uow.commit()
        return student

    async def untag(self, phone: object, *tags: object) -> Student:
        candidates = self.lookup_candidates(phone)
        async with self._uow() as uow:
            student = await self._load(uow, candidates)
            student.untag(*tags)
            await uow.students.save(student)
            await uow.commit()
        return student

    async def list(
        self,
        *,
        tag: object | None = None,
        active: bool | None = None,
        page: PageRequest | None = None,
    ) -> Page[Student]:
        normalized = None if tag is None else normalize_tag(tag)
        async with self._uow() as uow:
            return await uow.students.list(
                tag=normalized, active=active, page=page or PageRequest()
            )

    async def count(self, *, active: bool | None = None) -> int:
        async with self._uow() as uow:
            return await uow.students.count(active=active)

    @staticmethod
    async def _load(uow: StudentsUnitOfWork, candidates: tuple[str, ...]) -> Student:
        student = await uow.students.find_by_phones(candidates)
        if student is None:
            raise StudentNotFound(candidates[0])
        return student
