"""Ports of staff accounts: the directory, personal API tokens, one-time setup links, the
audit log, and the two pieces of cryptography the domain leaves to libraries (password
hashing, TOTP)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, Self

from eki_domain.model.audit import AuditEntry, AuditFilter
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.staff import ApiToken, SetupLink, StaffMember


class StaffDirectory(Protocol):
    async def add(self, member: StaffMember) -> StaffMember:
        """Store a new member and return it with its id; raises
        :class:`~eki_domain.errors.DuplicateStaffEmail` when the e-mail is taken."""
        ...

    async def save(self, member: StaffMember) -> None:
        """Store every field of an existing member (by id)."""
        ...

    async def get(self, staff_id: int) -> StaffMember | None: ...

    async def get_by_email(self, email: str) -> StaffMember | None:
        """``email`` already normalised (:func:`~eki_domain.model.staff.normalize_email`)."""
        ...

    async def list(self) -> Sequence[StaffMember]:
        """Every member, by e-mail."""
        ...

    async def count_active_admins(self) -> int: ...


class ApiTokens(Protocol):
    async def add(self, token: ApiToken) -> ApiToken: ...

    async def get(self, token_id: int) -> ApiToken | None: ...

    async def find(self, token_hash: str) -> ApiToken | None:
        """The token whose digest this is (usable or not)."""
        ...

    async def list_for(self, staff_id: int) -> Sequence[ApiToken]:
        """A member's tokens, newest first."""
        ...

    async def revoke(self, token_id: int, at: datetime) -> bool:
        """False when there is no such token or it was already revoked."""
        ...

    async def touch(self, token_id: int, at: datetime) -> None:
        """Record a use (``last_used_at``)."""
        ...


class SetupLinks(Protocol):
    async def add(self, link: SetupLink) -> SetupLink:
        """Store a new link; the member's earlier unused links stop working."""
        ...

    async def find(self, token_hash: str) -> SetupLink | None: ...

    async def use(self, link_id: int, at: datetime) -> bool:
        """Mark the link used; False when it was used already (two tabs, a replay): only
        one caller ever gets True."""
        ...


class AuditLog(Protocol):
    async def append(self, entry: AuditEntry) -> None: ...

    async def list(self, where: AuditFilter, page: PageRequest) -> Page[AuditEntry]:
        """Entries matching every given field, newest first."""
        ...

    async def times_of(self, action: str, *, since: datetime, target_id: str | None = None,
                       ip: str | None = None, limit: int = 100) -> Sequence[datetime]:
        """When ``action`` was recorded since ``since`` for that target or address,
        oldest first (at most ``limit``): the sign-in lockout counts failures with it."""
        ...


class StaffUnitOfWork(Protocol):
    """What the staff use cases need from a unit of work."""

    @property
    def staff(self) -> StaffDirectory: ...

    @property
    def api_tokens(self) -> ApiTokens: ...

    @property
    def setup_links(self) -> SetupLinks: ...

    @property
    def audit(self) -> AuditLog: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...


class PasswordHasher(Protocol):
    """Argon2id in production (``eki_adapters.passwords``). Synchronous and slow on
    purpose (tens of milliseconds): services call it off the event loop."""

    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool:
        """True when the password matches; False for a wrong password or an unreadable
        hash (never raises for those)."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """The hash was made with other parameters than today's: re-hash on sign-in."""
        ...


class SecondFactor(Protocol):
    """Time-based one-time passwords (RFC 6238; ``pyotp`` in production)."""

    def new_secret(self) -> str: ...

    def verify(self, secret: str, code: str, at: datetime) -> bool:
        """The 6-digit code is valid at ``at`` (one step of clock drift allowed)."""
        ...

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        """The ``otpauth://`` URI an authenticator app reads (as a QR code or typed)."""
        ...
