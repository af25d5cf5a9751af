"""Staff accounts: creating and changing them, signing in, one-time setup links and
personal API tokens. Every change is checked with :func:`~eki_domain.model.permissions.require`
and written to the audit log in the same unit of work."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

import attrs

from eki_domain.errors import (
    DuplicateStaffEmail,
    InvalidCredentials,
    InvalidInput,
    SignInLocked,
    StaffNotFound,
)
from eki_domain.model.audit import AuditAction, AuditEntry
from eki_domain.model.permissions import Action, Principal, require
from eki_domain.model.staff import (
    ApiToken,
    InvalidEmail,
    Role,
    SetupLink,
    StaffMember,
    check_password_policy,
    normalize_email,
)
from eki_domain.ports.clock import Clock
from eki_domain.ports.staff import PasswordHasher, SecondFactor, StaffUnitOfWork

#: The sign-in lockout: this many failures within the window lock for the window.
LOCK_WINDOW = timedelta(minutes=15)
ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 20
SETUP_LINK_TTL = timedelta(hours=24)
#: Personal API tokens start with this, so a leaked one is recognisable (secret scanners).
TOKEN_PREFIX = "eki_pat_"  # noqa: S105 - a prefix, not a secret
TOKEN_LABEL_MAX = 80
TOKEN_MAX_DAYS = 3650
#: A use of a token is written at most this often (not on every request).
TOKEN_TOUCH_EVERY = timedelta(minutes=5)
_BAD_SIGN_IN = "Correo, contraseña o código incorrectos."


def digest(secret: str) -> str:
    """The stored form of a setup link or API token: SHA-256 (they are 256-bit random
    values, so a slow hash adds nothing)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@attrs.frozen
class Caller:
    """Who asks, and from where (for the audit log)."""

    principal: Principal
    ip: str | None = None
    user_agent: str | None = None

    def entry(self, at: datetime, action: AuditAction | str, *, target_type: str | None = None,
              target_id: str | None = None, **details: str | int | bool | None) -> AuditEntry:
        return AuditEntry(at=at, actor=self.principal.actor, action=str(action),
                          target_type=target_type, target_id=target_id, ip=self.ip,
                          user_agent=self.user_agent, details=details)


@attrs.frozen
class NewToken:
    token: ApiToken
    #: The token itself: shown once, never stored.
    secret: str


def lock_remaining(failures: Sequence[datetime], threshold: int, now: datetime) -> int:
    """Seconds left of a lockout given the failure times (oldest first): a lock starts when
    ``threshold`` failures fall within :data:`LOCK_WINDOW` and lasts that long."""
    remaining = 0
    for i in range(threshold - 1, len(failures)):
        if failures[i] - failures[i - threshold + 1] <= LOCK_WINDOW:
            ends = failures[i] + LOCK_WINDOW
            remaining = max(remaining, int((ends - now).total_seconds()) + 1)
    return max(0, remaining)


class StaffService:
    def __init__(self, uow_factory: Callable[[], StaffUnitOfWork], hasher: PasswordHasher,
                 clock: Clock, second_factor: SecondFactor | None = None) -> None:
        self._uow_factory = uow_factory
        self._hasher = hasher
        self._clock = clock
        self._second_factor = second_factor
        self._decoy: str | None = None

    # -- accounts ---------------------------------------------------------------------

    async def add(self, caller: Caller, email: object, name: object, role: Role | str, *,
                  tags: Iterable[object] = (), password: str | None = None
                  ) -> tuple[StaffMember, str | None]:
        """Create an account. With ``password`` it is set at once; without, the returned
        setup token (for ``/admin/setup/<token>``) lets the person choose one."""
        require(caller.principal, Action.MANAGE_STAFF)
        now = self._clock.now()
        member = StaffMember.create(email, name, role, created_at=now, tags=tags)
        password_hash = None
        if password is not None:
            check_password_policy(password, email=member.email)
            password_hash = await asyncio.to_thread(self._hasher.hash, password)
            member.set_password_hash(password_hash)
        async with self._uow_factory() as uow:
            if await uow.staff.get_by_email(member.email) is not None:
                raise DuplicateStaffEmail(member.email)
            member = await uow.staff.add(member)
            assert member.id is not None
            setup = None if password_hash else await self._new_setup_link(uow, member.id, now)
            await uow.audit.append(caller.entry(
                now, AuditAction.STAFF_CREATED, target_type="staff", target_id=member.email,
                role=member.role.value, tags=",".join(sorted(member.tags)) or None))
            await uow.commit()
        return member, setup

    async def get(self, email: object) -> StaffMember:
        address = normalize_email(email)
        async with self._uow_factory() as uow:
            member = await uow.staff.get_by_email(address)
        if member is None:
            raise StaffNotFound(address)
        return member

    async def list(self, caller: Caller) -> Sequence[StaffMember]:
        require(caller.principal, Action.MANAGE_STAFF)
        async with self._uow_factory() as uow:
            return await uow.staff.list()

    async def update(self, caller: Caller, email: object, *, role: Role | str | None = None,
                     tags: Iterable[object] | None = None, name: object = None) -> StaffMember:
        require(caller.principal, Action.MANAGE_STAFF)
        now = self._clock.now()
        address = normalize_email(email)
        async with self._uow_factory() as uow:
            member = await self._member(uow, address)
            before = (member.role, member.tags, member.name)
            if role is not None:
                member.change_role(role)
            if tags is not None:
                member.set_tags(tags)
            if name is not None:
                member.rename(name)
            changed = [label for label, old, new in zip(
                ("role", "tags", "name"), before, (member.role, member.tags, member.name),
                strict=True) if old != new]
            if changed:
                await uow.staff.save(member)
                await uow.audit.append(caller.entry(
                    now, AuditAction.STAFF_UPDATED, target_type="staff", target_id=address,
                    changed=",".join(changed), role=member.role.value,
                    tags=",".join(sorted(member.tags)) or None))
                await uow.commit()
        return member

    async def set_active(self, caller: Caller, email: object, active: bool) -> StaffMember:
        require(caller.principal, Action.MANAGE_STAFF)
        now = self._clock.now()
        address = normalize_email(email)
        async with self._uow_factory() as uow:
            member = await self._member(uow, address)
            if member.active != active:
                member.enable() if active else member.disable()
                await uow.staff.save(member)
                await uow.audit.append(caller.entry(
                    now, AuditAction.STAFF_ENABLED if active else AuditAction.STAFF_DISABLED,
                    target_type="staff", target_id=address))
                await uow.commit()
        return member

    async def reset_password(self, caller: Caller, email: object) -> str:
        """The old password stops working, every session ends, and a new one-time setup
        token is returned."""
        require(caller.principal, Action.MANAGE_STAFF)
        now = self._clock.now()
        address = normalize_email(email)
        async with self._uow_factory() as uow:
            member = await self._member(uow, address)
            member.clear_password()
            await uow.staff.save(member)
            assert member.id is not None
            token = await self._new_setup_link(uow, member.id, now)
            await uow.audit.append(caller.entry(
                now, AuditAction.STAFF_PASSWORD_RESET, target_type="staff", target_id=address))
            await uow.commit()
        return token

    async def change_password(self, caller: Caller, member: StaffMember, current: str,
                              new: str) -> StaffMember:
        """A person changes their own password (the current one is asked again); every
        open session, this one included, ends."""
        if caller.principal.staff_id != member.id:
            require(caller.principal, Action.MANAGE_STAFF)
        async with self._uow_factory() as uow:
            fresh = await self._member_by_id(uow, member.id or 0)
        stored = fresh.password_hash or self._decoy_hash()
        if not await asyncio.to_thread(self._hasher.verify, stored, current[:1024]) \
                or fresh.password_hash is None:
            raise InvalidCredentials("La contraseña actual no es correcta.")
        check_password_policy(new, email=fresh.email)
        password_hash = await asyncio.to_thread(self._hasher.hash, new)
        now = self._clock.now()
        async with self._uow_factory() as uow:
            fresh = await self._member_by_id(uow, member.id or 0)
            fresh.set_password_hash(password_hash)
            await uow.staff.save(fresh)
            await uow.audit.append(caller.entry(
                now, AuditAction.STAFF_PASSWORD_SET, target_type="staff",
                target_id=fresh.email))
            await uow.commit()
        return fresh

    # -- one-time setup links ---------------------------------------------------------

    async def setup_link_member(self, token: str) -> StaffMember:
        """The account a still-usable setup token belongs to (for the setup page)."""
        now = self._clock.now()
        async with self._uow_factory() as uow:
            link = await uow.setup_links.find(digest(token))
            member = None if link is None else await uow.staff.get(link.staff_id)
        if link is None or member is None or not link.usable(now) or not member.active:
            raise _expired_link()
        return member

    async def complete_setup(self, token: str, password: str, *, ip: str | None = None,
                             user_agent: str | None = None) -> StaffMember:
        """Set the password chosen through a setup link; the link then stops working."""
        member = await self.setup_link_member(token)
        check_password_policy(password, email=member.email)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        now = self._clock.now()
        async with self._uow_factory() as uow:
            link = await uow.setup_links.find(digest(token))
            if link is None or not link.usable(now) or link.id is None \
                    or not await uow.setup_links.use(link.id, now):
                raise _expired_link()
            member = await self._member_by_id(uow, link.staff_id)
            member.set_password_hash(password_hash)
            await uow.staff.save(member)
            await uow.audit.append(Caller(Principal.staff(member), ip, user_agent).entry(
                now, AuditAction.STAFF_PASSWORD_SET, target_type="staff",
                target_id=member.email))
            await uow.commit()
        return member

    async def _new_setup_link(self, uow: StaffUnitOfWork, staff_id: int, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        await uow.setup_links.add(SetupLink(staff_id=staff_id, token_hash=digest(token),
                                            created_at=now, expires_at=now + SETUP_LINK_TTL))
        return token

    # -- signing in -------------------------------------------------------------------

    async def sign_in(self, email: str, password: str, *, ip: str | None,
                      user_agent: str | None = None, code: str | None = None) -> StaffMember:
        """The member whose e-mail and password (and TOTP code, when turned on) match.

        Raises :class:`SignInLocked` after :data:`ACCOUNT_FAILURES` failures for the
        account or :data:`ADDRESS_FAILURES` from the address within :data:`LOCK_WINDOW`,
        and :class:`InvalidCredentials` otherwise — never saying whether the e-mail exists.
        """
        now = self._clock.now()
        try:
            address = normalize_email(email)
        except InvalidEmail:
            address = " ".join(str(email).split()).lower()[:254]
        since = now - 2 * LOCK_WINDOW
        async with self._uow_factory() as uow:
            by_account = await uow.audit.times_of(
                AuditAction.STAFF_SIGN_IN_FAILED, since=since, target_id=address)
            by_address = (await uow.audit.times_of(
                AuditAction.STAFF_SIGN_IN_FAILED, since=since, ip=ip) if ip else ())
            member = await uow.staff.get_by_email(address)
        locked = max(lock_remaining(by_account, ACCOUNT_FAILURES, now),
                     lock_remaining(by_address, ADDRESS_FAILURES, now))
        if locked:
            raise SignInLocked(locked)
        usable = member is not None and member.active and member.password_hash is not None
        stored = member.password_hash if usable and member is not None else self._decoy_hash()
        ok = await asyncio.to_thread(self._hasher.verify, stored or "", password[:1024])
        ok = ok and usable and member is not None
        if ok and member is not None and member.totp_secret is not None:
            ok = self._second_factor is not None and self._second_factor.verify(
                member.totp_secret, (code or "").strip().replace(" ", ""), now)
        if not ok or member is None:
            # Nobody is signed in: the attempted address is both actor and target.
            async with self._uow_factory() as uow:
                await uow.audit.append(AuditEntry(
                    at=now, actor=address, action=AuditAction.STAFF_SIGN_IN_FAILED,
                    target_type="staff", target_id=address, ip=ip, user_agent=user_agent))
                await uow.commit()
            raise InvalidCredentials(_BAD_SIGN_IN)
        caller = Caller(Principal.staff(member), ip, user_agent)
        rehash = None
        if member.password_hash and self._hasher.needs_rehash(member.password_hash):
            rehash = await asyncio.to_thread(self._hasher.hash, password)
        async with self._uow_factory() as uow:
            fresh = await self._member_by_id(uow, member.id or 0)
            if rehash is not None:
                fresh.upgrade_password_hash(rehash)
            fresh.record_sign_in(now)
            await uow.staff.save(fresh)
            await uow.audit.append(caller.entry(
                now, AuditAction.STAFF_SIGN_IN, target_type="staff", target_id=fresh.email))
            await uow.commit()
        return fresh

    async def signed_out(self, member: StaffMember, *, ip: str | None = None,
                         user_agent: str | None = None) -> None:
        async with self._uow_factory() as uow:
            await uow.audit.append(Caller(Principal.staff(member), ip, user_agent).entry(
                self._clock.now(), AuditAction.STAFF_SIGN_OUT, target_type="staff",
                target_id=member.email))
            await uow.commit()

    async def principal_for_session(self, staff_id: int, epoch: int) -> StaffMember | None:
        """The member a session belongs to, while that session is still valid: the account
        is active and nothing ended its sessions (disable, role or password change)."""
        async with self._uow_factory() as uow:
            member = await uow.staff.get(staff_id)
        if member is None or not member.active or member.session_epoch != epoch:
            return None
        return member

    async def active_admins(self) -> int:
        async with self._uow_factory() as uow:
            return await uow.staff.count_active_admins()

    def _decoy_hash(self) -> str:
        # Verifying against a real hash when the account does not exist keeps the answer
        # time the same, so timing does not tell which e-mails have accounts.
        if self._decoy is None:
            self._decoy = self._hasher.hash(secrets.token_urlsafe(16))
        return self._decoy

    # -- second factor ----------------------------------------------------------------

    def new_second_factor_secret(self) -> str:
        if self._second_factor is None:
            raise InvalidInput("La verificación en dos pasos no está disponible.")
        return self._second_factor.new_secret()

    def second_factor_uri(self, member: StaffMember, secret: str, issuer: str) -> str:
        if self._second_factor is None:
            raise InvalidInput("La verificación en dos pasos no está disponible.")
        return self._second_factor.provisioning_uri(secret, account=member.email, issuer=issuer)

    async def set_second_factor(self, caller: Caller, member: StaffMember, secret: str | None,
                                code: str = "") -> StaffMember:
        """Turn TOTP on (``secret`` and a current ``code`` from the app) or off (None) for
        the caller's own account; ends the other sessions."""
        if caller.principal.staff_id != member.id:
            require(caller.principal, Action.MANAGE_STAFF)
        now = self._clock.now()
        if secret is not None and (self._second_factor is None or not self._second_factor.verify(
                secret, code.strip().replace(" ", ""), now)):
            raise InvalidCredentials(
                "El código no coincide. Revise la hora del teléfono y escriba el código de "
                "6 dígitos que muestra la aplicación ahora.")
        async with self._uow_factory() as uow:
            fresh = await self._member_by_id(uow, member.id or 0)
            if secret is None:
                fresh.disable_second_factor()
            else:
                fresh.enable_second_factor(secret)
            await uow.staff.save(fresh)
            await uow.audit.append(caller.entry(
                now, AuditAction.STAFF_SECOND_FACTOR, target_type="staff",
                target_id=fresh.email, enabled=secret is not None))
            await uow.commit()
        return fresh

    # -- personal API tokens ----------------------------------------------------------

    async def create_token(self, caller: Caller, email: object, label: str, *,
                           days: int | None = None) -> NewToken:
        require(caller.principal, Action.MANAGE_STAFF)
        label = " ".join(str(label).split())
        if not label or len(label) > TOKEN_LABEL_MAX:
            raise InvalidInput(
                f"Dé al token un nombre de 1 a {TOKEN_LABEL_MAX} caracteres "
                "(por ejemplo, «sistema de notas»).")
        if days is not None and not 1 <= days <= TOKEN_MAX_DAYS:
            raise InvalidInput(f"--days debe estar entre 1 y {TOKEN_MAX_DAYS}.")
        now = self._clock.now()
        address = normalize_email(email)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self._uow_factory() as uow:
            member = await self._member(uow, address)
            assert member.id is not None
            token = await uow.api_tokens.add(ApiToken(
                staff_id=member.id, label=label, token_hash=digest(secret), created_at=now,
                expires_at=None if days is None else now + timedelta(days=days)))
            await uow.audit.append(caller.entry(
                now, AuditAction.STAFF_TOKEN_CREATED, target_type="staff", target_id=address,
                token_id=token.id, label=label))
            await uow.commit()
        return NewToken(token=token, secret=secret)

    async def tokens(self, caller: Caller, email: object) -> Sequence[ApiToken]:
        require(caller.principal, Action.MANAGE_STAFF)
        async with self._uow_factory() as uow:
            member = await self._member(uow, normalize_email(email))
            return await uow.api_tokens.list_for(member.id or 0)

    async def revoke_token(self, caller: Caller, token_id: int) -> bool:
        require(caller.principal, Action.MANAGE_STAFF)
        now = self._clock.now()
        async with self._uow_factory() as uow:
            token = await uow.api_tokens.get(token_id)
            if token is None:
                return False
            revoked = await uow.api_tokens.revoke(token_id, now)
            if revoked:
                owner = await uow.staff.get(token.staff_id)
                await uow.audit.append(caller.entry(
                    now, AuditAction.STAFF_TOKEN_REVOKED, target_type="staff",
                    target_id=owner.email if owner else str(token.staff_id),
                    token_id=token_id))
                await uow.commit()
            return revoked

    async def principal_for_token(self, secret: str) -> Principal | None:
        """The owner of a usable personal token, as a principal with the owner's role."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        now = self._clock.now()
        async with self._uow_factory() as uow:
            token = await uow.api_tokens.find(digest(secret))
            if token is None or not token.usable(now) or token.id is None:
                return None
            member = await uow.staff.get(token.staff_id)
            if member is None or not member.active:
                return None
            if token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_EVERY:
                await uow.api_tokens.touch(token.id, now)
                await uow.commit()
        return Principal.staff(member)

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    async def _member(uow: StaffUnitOfWork, address: str) -> StaffMember:
        member = await uow.staff.get_by_email(address)
        if member is None:
            raise StaffNotFound(address)
        return member

    @staticmethod
    async def _member_by_id(uow: StaffUnitOfWork, staff_id: int) -> StaffMember:
        member = await uow.staff.get(staff_id)
        if member is None:
            raise StaffNotFound(f"el número {staff_id}")
        return member


def _expired_link() -> InvalidCredentials:
    return InvalidCredentials(
        "Este enlace ya se usó o venció (dura 24 horas y sirve una sola vez). Pida a un "
        "administrador un enlace nuevo (`eki staff reset-password`).")
