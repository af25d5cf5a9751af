"""Storage ports. Implement them without inheriting: they are Protocols."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from eki_domain.model.pagination import PageRequest

# For the annotations only: importing this module (every service does) loads no other port.
if TYPE_CHECKING:
    from eki_domain.model.pagination import Page
    from eki_domain.model.student import Student
    from eki_domain.ports.alerts import AlertOptOuts
    from eki_domain.ports.consent import ConsentLedger
    from eki_domain.ports.conversations import Handoffs, History, OptOuts, WebhookLog
    from eki_domain.ports.guardians import Guardians
    from eki_domain.ports.imports import ImportRepository, RosterRepository
    from eki_domain.ports.llm import UsageLedger
    from eki_domain.ports.messaging import Inbox, NoWhatsApp, Outbox
    from eki_domain.ports.operations import OperationsStats
    from eki_domain.ports.outbound import HandoffAssignments, ServiceWindows, Templates
    from eki_domain.ports.progress import ProgressRepository


class StudentRepository(Protocol):
    """Students, keyed by id and by their unique E.164 phone."""

    async def add(self, student: Student) -> Student:
        """Store a new student, set ``student.id`` and return it.

        Raises :class:`eki_domain.errors.DuplicatePhone` if the phone is taken.
        """
        ...

    async def save(self, student: Student) -> None:
        """Persist changes to a student that has an id (name, phone, active, tags).

        Raises DuplicatePhone if the new phone belongs to another student and
        StudentNotFound if the id does not exist.
        """
        ...

    async def get(self, student_id: int) -> Student | None: ...

    async def get_many(self, student_ids: Sequence[int]) -> dict[int, Student]:
        """The stored students among ``student_ids``, by id, in one look-up (ids not found
        are left out)."""
        ...

    async def find_by_phones(self, candidates: Sequence[str]) -> Student | None:
        """The student stored under the first of ``candidates`` (E.164 strings) that matches."""
        ...

    async def find_each_by_phones(
        self, candidate_lists: Sequence[Sequence[str]]
    ) -> list[Student | None]:
        """:meth:`find_by_phones` for each list, in one look-up (the worker identifies every
        sender it claims at once)."""
        ...

    async def list(
        self,
        *,
        tag: str | None = None,
        active: bool | None = None,
        page: PageRequest = PageRequest(),  # noqa: B008 - frozen value object
        search: str | None = None,
        any_tags: frozenset[str] | None = None,
    ) -> Page[Student]:
        """Newest registrations first (then highest id). ``any_tags`` (when not None) keeps
        students carrying at least one of those tags (an empty set keeps none): a teacher's
        scope. ``search`` keeps students whose
        name contains it (case-insensitive) or whose phone contains its digits (3 or
        more)."""
        ...

    async def count(self, *, active: bool | None = None) -> int: ...


class Transaction(Protocol):
    """``async with uow:`` … ``await uow.commit()``: rolled back unless committed. A use
    case that needs only some repositories types its unit of work as this plus those (e.g.
    ``DeliveryUnitOfWork``); every full :class:`UnitOfWork` satisfies it."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class UnitOfWork(Transaction, Protocol):
    """One atomic piece of work over every repository: ``async with uow:`` rolls back unless
    committed."""

    @property
    def students(self) -> StudentRepository: ...

    @property
    def roster(self) -> RosterRepository: ...

    @property
    def imports(self) -> ImportRepository: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def no_whatsapp(self) -> NoWhatsApp: ...

    @property
    def webhook_log(self) -> WebhookLog: ...

    @property
    def opt_outs(self) -> OptOuts: ...

    @property
    def handoffs(self) -> Handoffs: ...

    @property
    def history(self) -> History: ...

    @property
    def progress(self) -> ProgressRepository: ...

    @property
    def usage(self) -> UsageLedger: ...

    @property
    def operations(self) -> OperationsStats: ...

    @property
    def guardians(self) -> Guardians: ...

    @property
    def templates(self) -> Templates: ...

    @property
    def windows(self) -> ServiceWindows: ...

    @property
    def assignments(self) -> HandoffAssignments: ...

    @property
    def consents(self) -> ConsentLedger: ...

    @property
    def alert_opt_outs(self) -> AlertOptOuts:
        """Issue 16: the alert rules each person asked not to receive."""
        ...


#: Something that makes a fresh unit of work each time it is called.
UnitOfWorkFactory = Callable[[], UnitOfWork]
