"""Who may do what: principals, actions, and the one function that decides.

Every request and command runs as a :class:`Principal` — a member of staff (role + tags),
``system`` (the shared ``EKI_ADMIN_TOKEN``), ``cli:<OS user>`` (the machine's operator) or
``eki`` (the service itself). :func:`decide` is the only place that turns (principal,
action, target) into a decision; routes, CLI commands and services ask it, and a teacher's
listings are filtered in the query by :func:`student_scope`, not after it.

The table (docs/admin.md shows the same):

============  ============================================================role          may
============  ===================================================================
admin         everything, including staff accounts, the audit log and settings
coordinator   all students, imports, progress imports, every conversation, data requests,
              hand-offs, broadcasts, alerts, exports, guardians, verification codes; not
              staff or audit
teacher       only students carrying one of their tags: profile, progress,
              conversations and hand-offs of those students, and their guardians
              (read only)
viewer        the dashboard's aggregate figures only
============  ===================================================================

A teacher asking for a student outside their tags is told the student does not exist
(:attr:`Decision.HIDE` → 404), so nothing is revealed.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum, StrEnum

import attrs

from eki_domain.errors import EkiError, StudentNotFound
from eki_domain.model.staff import Role, StaffMember


class PrincipalKind(StrEnum):
    STAFF = "staff"
    SYSTEM = "system"
    CLI = "cli"
    SERVICE = "service"


@attrs.frozen
class Principal:
    """Who is acting. Build with the named constructors."""

    kind: PrincipalKind
    #: The audit log's ``actor``: an e-mail, ``system``, ``cli:<user>`` or ``eki``.
    actor: str
    role: Role
    tags: frozenset[str] = frozenset()
    staff_id: int | None = None

    @classmethod
    def staff(cls, member: StaffMember) -> Principal:
        return cls(kind=PrincipalKind.STAFF, actor=member.email, role=member.role,
                   tags=member.tags, staff_id=member.id)

    @classmethod
    def system(cls) -> Principal:
        """The shared ``EKI_ADMIN_TOKEN``: full access to ``/api`` (break-glass)."""
        return cls(kind=PrincipalKind.SYSTEM, actor="system", role=Role.ADMIN)

    @classmethod
    def cli(cls, os_user: str) -> Principal:
        """The operator of the machine running ``eki``."""
        user = "".join(ch for ch in os_user if ch.isprintable() and not ch.isspace())[:64]
        return cls(kind=PrincipalKind.CLI, actor=f"cli:{user or 'unknown'}", role=Role.ADMIN)

    @classmethod
    def service(cls) -> Principal:
        """EKI itself (the worker, scheduled jobs)."""
        return cls(kind=PrincipalKind.SERVICE, actor="eki", role=Role.ADMIN)

    @property
    def is_staff(self) -> bool:
        return self.kind is PrincipalKind.STAFF


class Action(StrEnum):
    """Everything a principal can be allowed or refused."""

    VIEW_DASHBOARD = "dashboard.view"  # aggregate figures only
    LIST_STUDENTS = "students.list"  # filtered by student_scope()
    VIEW_STUDENT = "student.view"  # profile and progress; target: the student's tags
    EDIT_STUDENT = "student.edit"
    VIEW_CONVERSATION = "conversation.view"  # target: the student's tags
    MANAGE_HANDOFF = "handoff.manage"  # take / release / reply; target: the student's tags
    VIEW_HANDOFFS = "handoffs.list"  # filtered by student_scope()
    #: Issue 15: the live events (GET /api/events, /admin/events), each filtered by the
    #: conversation rule (a teacher: her students' events only).
    WATCH_EVENTS = "events.watch"
    RUN_IMPORT = "import.run"
    RUN_PROGRESS_IMPORT = "progress_import.run"
    VIEW_IMPORTS = "imports.view"  # import history and error files (they hold rows)
    EXPORT = "export.download"
    MANAGE_BROADCASTS = "broadcast.manage"
    #: Issue 16: switch academic alert rules, see what went out (admins, coordinators).
    MANAGE_ALERTS = "alerts.manage"
    VIEW_WEBHOOK_LOG = "webhooks.view"  # raw deliveries: every student's messages
    MANAGE_STAFF = "staff.manage"
    VIEW_AUDIT = "audit.view"
    MANAGE_SETTINGS = "settings.manage"
    # issue 17 (families): link, unlink and change guardians' links (viewing a guardian is
    # part of viewing the student: VIEW_STUDENT / LIST_STUDENTS, scoped for teachers)
    MANAGE_GUARDIANS = "guardians.manage"
    # issue 17: issue verification codes, approve or reject redemptions
    MANAGE_CODES = "codes.manage"
    # Issue 18: export or erase a person's data, the register of data requests, the purge.
    # Admins and coordinators (not admin-only: coordinators answer the families).
    MANAGE_PRIVACY = "privacy.manage"
    # Issue #15 (staff inbox): the school's saved answers ("/atajo"), shared by everyone who
    # replies; admins and coordinators manage them, teachers use them.
    MANAGE_QUICK_REPLIES = "quick_replies.manage"


class Decision(Enum):
    ALLOW = "allow"
    #: Refused, and the principal may know the thing exists (403).
    FORBID = "forbid"
    #: Refused as if the thing did not exist (404): a student outside a teacher's tags.
    HIDE = "hide"


#: Actions about one student: a teacher may do them for students carrying one of their tags.
STUDENT_SCOPED = frozenset({Action.VIEW_STUDENT, Action.VIEW_CONVERSATION,
                            Action.MANAGE_HANDOFF})
#: Listings a teacher sees filtered to their students.
SCOPED_LISTINGS = frozenset({Action.LIST_STUDENTS, Action.VIEW_HANDOFFS,
                             Action.WATCH_EVENTS})

_ADMIN_ONLY = frozenset({Action.MANAGE_STAFF, Action.VIEW_AUDIT, Action.MANAGE_SETTINGS})
_ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.COORDINATOR: frozenset(Action) - _ADMIN_ONLY,
    Role.TEACHER: frozenset({Action.VIEW_DASHBOARD}) | STUDENT_SCOPED | SCOPED_LISTINGS,
    Role.VIEWER: frozenset({Action.VIEW_DASHBOARD}),
}


class PermissionDenied(EkiError):
    code = "FORBIDDEN"

    def __init__(self, principal: Principal, action: Action) -> None:
        super().__init__(
            f"Su rol ({principal.role.value}) no permite esta acción ({action.value}). "
            "Pida a un administrador del colegio que le dé el permiso si lo necesita.")
        self.action = action


def decide(principal: Principal, action: Action,
           student_tags: Iterable[str] | None = None) -> Decision:
    """The decision for ``principal`` doing ``action``; for a student-scoped action pass
    the student's tags (``None`` means "no particular student")."""
    if action not in _ROLE_ACTIONS[principal.role]:
        return Decision.FORBID
    scope = student_scope(principal)
    if scope is None or action not in STUDENT_SCOPED or student_tags is None:
        return Decision.ALLOW
    return Decision.ALLOW if scope.intersection(student_tags) else Decision.HIDE


def can(principal: Principal, action: Action,
        student_tags: Iterable[str] | None = None) -> bool:
    return decide(principal, action, student_tags) is Decision.ALLOW


def require(principal: Principal, action: Action, student_tags: Iterable[str] | None = None,
            *, reference: str = "ese dato") -> None:
    """Raise unless allowed: :class:`PermissionDenied` (403) or, for a student the
    principal may not see, :class:`StudentNotFound` (404) naming ``reference``."""
    decision = decide(principal, action, student_tags)
    if decision is Decision.FORBID:
        raise PermissionDenied(principal, action)
    if decision is Decision.HIDE:
        raise StudentNotFound(reference)


def student_scope(principal: Principal) -> frozenset[str] | None:
    """The tags that bound the students ``principal`` may see: ``None`` for everyone
    (admins, coordinators, system), the teacher's tags for a teacher (possibly empty: no
    student), and the empty set for a viewer."""
    if principal.role is Role.TEACHER:
        return principal.tags
    if principal.role is Role.VIEWER:
        return frozenset()
    return None
