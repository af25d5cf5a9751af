"""Staff accounts: the model's rules, the permission table, and the service over the
in-memory adapters with the real Argon2 and TOTP libraries."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pyotp
import pytest

from eki_adapters.memory.uow import InMemoryStore
from eki_adapters.passwords import Argon2PasswordHasher, TotpSecondFactor
from eki_adapters.system import FixedClock
from eki_domain.errors import (
    DuplicateStaffEmail,
    InvalidCredentials,
    SignInLocked,
    StaffNotFound,
    StudentNotFound,
)
from eki_domain.model.audit import AuditAction, AuditFilter
from eki_domain.model.pagination import PageRequest
from eki_domain.model.permissions import (
    Action,
    Decision,
    PermissionDenied,
    Principal,
    decide,
    require,
    student_scope,
)
from eki_domain.model.staff import (
    InvalidEmail,
    InvalidRole,
    Role,
    StaffMember,
    WeakPassword,
    check_password_policy,
    normalize_email,
)
from eki_domain.services.staff import (
    ACCOUNT_FAILURES,
    ADDRESS_FAILURES,
    TOKEN_PREFIX,
    Caller,
    StaffService,
    lock_remaining,
)

GOOD = "caballo correcto bateria grapa"
CLI = Caller(Principal.cli("secretaria"))


def fast_hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def service(store: InMemoryStore, clock: FixedClock) -> StaffService:
    return StaffService(store.uow, fast_hasher(), clock, TotpSecondFactor())


async def audit_actions(store: InMemoryStore) -> list[str]:
    async with store.uow() as uow:
        page = await uow.audit.list(AuditFilter(), PageRequest(limit=500))
    return [e.action for e in reversed(page.items)]


# -- the model ---------------------------------------------------------------------------


def test_email_is_case_insensitive_and_validated() -> None:
    assert normalize_email("  Ana.Perez@Colegio.EDU.co ") == "ana.perez@colegio.edu.co"
    for bad in ("", "ana", "ana@", "@colegio.co", "ana perez@colegio.co", "a" * 250 + "@x.co"):
        with pytest.raises(InvalidEmail):
            normalize_email(bad)


@pytest.mark.parametrize("password", [
    "corta", "12345678901", "123456789012", "Password1234", "contraseña1234!!",
    "aaaaaaaaaaaaaaaa", "ana.perez@colegio.edu.co", "x" * 300,
])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword):
        check_password_policy(password, email="ana.perez@colegio.edu.co")


def test_a_long_uncommon_password_is_accepted() -> None:
    check_password_policy(GOOD, email="ana@colegio.edu.co")


def test_role_parse_lists_the_choices() -> None:
    assert Role.parse(" Teacher ") is Role.TEACHER
    with pytest.raises(InvalidRole, match="admin, coordinator, teacher, viewer"):
        Role.parse("rector")


def test_changes_that_must_end_sessions_bump_the_epoch(clock: FixedClock) -> None:
    member = StaffMember.create("a@b.co", "Ana Pérez", "teacher", created_at=clock.now())
    epoch = member.session_epoch
    member.change_role(Role.TEACHER)  # no change, no bump
    member.set_tags(["grado 10"])
    member.rename("Ana María Pérez")
    assert member.session_epoch == epoch
    member.change_role("coordinator")
    member.set_password_hash("$argon2id$x")
    member.disable()
    assert member.session_epoch == epoch + 3
    member.upgrade_password_hash("$argon2id$y")  # a re-hash keeps sessions
    assert member.session_epoch == epoch + 3


# -- the permission table ----------------------------------------------------------------


def principal(role: Role, *tags: str) -> Principal:
    member = StaffMember.create("p@colegio.co", "Pepa Pig", role,
                                created_at=FixedClock().now(), tags=tags)
    return Principal.staff(member)


def test_the_table() -> None:
    admin, coord = principal(Role.ADMIN), principal(Role.COORDINATOR)
    teacher, viewer = principal(Role.TEACHER, "grado 10"), principal(Role.VIEWER)
    for action in Action:
        assert decide(admin, action) is Decision.ALLOW
    for action in (Action.MANAGE_STAFF, Action.VIEW_AUDIT, Action.MANAGE_SETTINGS):
        assert decide(coord, action) is Decision.FORBID
    for action in (Action.RUN_IMPORT, Action.RUN_PROGRESS_IMPORT, Action.EXPORT,
                   Action.MANAGE_BROADCASTS, Action.VIEW_CONVERSATION):
        assert decide(coord, action) is Decision.ALLOW
    for action in (Action.RUN_IMPORT, Action.RUN_PROGRESS_IMPORT, Action.EXPORT,
                   Action.MANAGE_BROADCASTS, Action.EDIT_STUDENT, Action.MANAGE_STAFF):
        assert decide(teacher, action) is Decision.FORBID
    assert [a for a in Action if decide(viewer, a) is Decision.ALLOW] == [Action.VIEW_DASHBOARD]


def test_a_teacher_sees_only_students_with_one_of_their_tags() -> None:
    teacher = principal(Role.TEACHER, "grado 10", "coro")
    assert decide(teacher, Action.VIEW_STUDENT, {"coro", "banda"}) is Decision.ALLOW
    assert decide(teacher, Action.VIEW_STUDENT, {"grado 11"}) is Decision.HIDE
    assert decide(teacher, Action.VIEW_STUDENT, set()) is Decision.HIDE
    assert student_scope(teacher) == {"grado 10", "coro"}
    with pytest.raises(StudentNotFound):
        require(teacher, Action.VIEW_CONVERSATION, {"grado 11"}, reference="+573001234567")
    with pytest.raises(PermissionDenied):
        require(teacher, Action.RUN_IMPORT)
    assert student_scope(principal(Role.VIEWER)) == frozenset()
    assert student_scope(Principal.system()) is None


def test_principal_actors() -> None:
    assert Principal.system().actor == "system"
    assert Principal.service().actor == "eki"
    assert Principal.cli("ana\n maria").actor == "cli:anamaria"


# -- the service -------------------------------------------------------------------------


async def test_add_with_password_then_sign_in_and_audit(service: StaffService,
                                                        store: InMemoryStore) -> None:
    member, setup = await service.add(CLI, "Ana@Colegio.co", "Ana Pérez", "admin",
                                      password=GOOD)
    assert setup is None and member.has_password
    assert GOOD not in (member.password_hash or "")
    signed = await service.sign_in("ANA@colegio.co", GOOD, ip="10.0.0.1", user_agent="ua")
    assert signed.last_sign_in_at is not None
    assert await audit_actions(store) == ["staff.created", "staff.sign_in"]
    with pytest.raises(DuplicateStaffEmail):
        await service.add(CLI, "ana@colegio.co", "Otra Ana", "viewer", password=GOOD)


async def test_only_admins_manage_staff(service: StaffService) -> None:
    coordinator = Caller(principal(Role.COORDINATOR))
    with pytest.raises(PermissionDenied):
        await service.add(coordinator, "x@colegio.co", "Equis Ye", "teacher")


async def test_setup_link_is_single_use_and_expires(service: StaffService,
                                                    clock: FixedClock) -> None:
    _, token = await service.add(CLI, "t@colegio.co", "Tomás Ruiz", "teacher", tags=["coro"])
    assert token
    with pytest.raises(InvalidCredentials):
        await service.sign_in("t@colegio.co", GOOD, ip="1.1.1.1")  # no password yet
    with pytest.raises(WeakPassword):
        await service.complete_setup(token, "corta")
    await service.complete_setup(token, GOOD)
    with pytest.raises(InvalidCredentials, match="ya se usó o venció"):
        await service.complete_setup(token, GOOD + "x")
    await service.sign_in("t@colegio.co", GOOD, ip="1.1.1.1")
    fresh = await service.reset_password(CLI, "t@colegio.co")
    with pytest.raises(InvalidCredentials):
        await service.sign_in("t@colegio.co", GOOD, ip="1.1.1.1")  # the old one stopped
    clock.advance(timedelta(hours=24, seconds=1))
    with pytest.raises(InvalidCredentials):
        await service.complete_setup(fresh, GOOD)


async def test_a_new_link_voids_the_previous_one(service: StaffService) -> None:
    _, first = await service.add(CLI, "t@colegio.co", "Tomás Ruiz", "teacher")
    second = await service.reset_password(CLI, "t@colegio.co")
    assert first and second
    with pytest.raises(InvalidCredentials):
        await service.complete_setup(first, GOOD)
    await service.complete_setup(second, GOOD)


async def test_lockout_per_account_never_says_whether_the_email_exists(
        service: StaffService, clock: FixedClock, store: InMemoryStore) -> None:
    await service.add(CLI, "ana@colegio.co", "Ana Pérez", "admin", password=GOOD)
    messages = set()
    for email in ("ana@colegio.co", "nadie@colegio.co"):
        for _ in range(ACCOUNT_FAILURES):
            with pytest.raises(InvalidCredentials) as caught:
                await service.sign_in(email, "equivocada equivocada", ip=None)
            messages.add(caught.value.message)
        with pytest.raises(SignInLocked) as locked:
            await service.sign_in(email, GOOD if email.startswith("ana") else "x", ip=None)
        assert 14 * 60 < locked.value.retry_after_seconds <= 15 * 60 + 1
    assert len(messages) == 1
    clock.advance(timedelta(minutes=15, seconds=2))
    await service.sign_in("ana@colegio.co", GOOD, ip=None)
    assert "staff.sign_in_failed" in await audit_actions(store)


async def test_lockout_per_address(service: StaffService) -> None:
    await service.add(CLI, "ana@colegio.co", "Ana Pérez", "admin", password=GOOD)
    for n in range(ADDRESS_FAILURES):
        with pytest.raises(InvalidCredentials):
            await service.sign_in(f"u{n}@colegio.co", "equivocada equivocada", ip="6.6.6.6")
    with pytest.raises(SignInLocked):
        await service.sign_in("ana@colegio.co", GOOD, ip="6.6.6.6")
    await service.sign_in("ana@colegio.co", GOOD, ip="7.7.7.7")


def test_lock_needs_the_failures_within_the_window(clock: FixedClock) -> None:
    now = clock.now()
    spread = [now - timedelta(minutes=m) for m in (28, 24, 20, 16, 1)]
    assert lock_remaining(spread, 5, now) == 0
    close = [now - timedelta(minutes=m) for m in (5, 4, 3, 2, 1)]
    assert lock_remaining(close, 5, now) == 14 * 60 + 1


async def test_sessions_end_on_disable_role_change_and_password(service: StaffService) -> None:
    member, _ = await service.add(CLI, "c@colegio.co", "Carla Díaz", "coordinator",
                                  password=GOOD)
    assert member.id is not None
    epoch = member.session_epoch
    assert await service.principal_for_session(member.id, epoch) is not None
    changed = await service.update(CLI, "c@colegio.co", role="teacher")
    assert await service.principal_for_session(member.id, epoch) is None
    epoch = changed.session_epoch
    await service.update(CLI, "c@colegio.co", tags=["grado 9"])  # tags alone keep sessions
    assert await service.principal_for_session(member.id, epoch) is not None
    await service.set_active(CLI, "c@colegio.co", False)
    assert await service.principal_for_session(member.id, epoch) is None
    with pytest.raises(InvalidCredentials):
        await service.sign_in("c@colegio.co", GOOD, ip=None)


async def test_hash_upgraded_when_parameters_change(store: InMemoryStore,
                                                    clock: FixedClock) -> None:
    old = StaffService(store.uow, fast_hasher(), clock)
    await old.add(CLI, "a@colegio.co", "Ana Pérez", "admin", password=GOOD)
    stronger = Argon2PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    before = (await old.get("a@colegio.co")).password_hash
    member = await StaffService(store.uow, stronger, clock).sign_in("a@colegio.co", GOOD, ip=None)
    assert member.password_hash != before
    assert not stronger.needs_rehash(member.password_hash or "")


async def test_totp_second_factor(service: StaffService, clock: FixedClock) -> None:
    member, _ = await service.add(CLI, "a@colegio.co", "Ana Pérez", "admin", password=GOOD)
    secret = service.new_second_factor_secret()
    me = Caller(Principal.staff(member))
    with pytest.raises(InvalidCredentials):
        await service.set_second_factor(me, member, secret, "000000")
    code = pyotp.TOTP(secret).at(clock.now())
    await service.set_second_factor(me, member, secret, code)
    with pytest.raises(InvalidCredentials):
        await service.sign_in("a@colegio.co", GOOD, ip=None)  # the code is now required
    assert (await service.sign_in("a@colegio.co", GOOD, ip=None,
                                  code=pyotp.TOTP(secret).at(clock.now()))).id == member.id
    assert "otpauth://" in service.second_factor_uri(member, secret, "Colegio")


async def test_personal_tokens(service: StaffService, clock: FixedClock,
                               store: InMemoryStore) -> None:
    await service.add(CLI, "t@colegio.co", "Tomás Ruiz", "teacher", tags=["coro"],
                      password=GOOD)
    created = await service.create_token(CLI, "t@colegio.co", "notas", days=30)
    assert created.secret.startswith(TOKEN_PREFIX)
    assert created.secret not in repr(created.token)
    found = await service.principal_for_token(created.secret)
    assert found is not None and found.role is Role.TEACHER and found.tags == {"coro"}
    assert await service.principal_for_token(created.secret + "x") is None
    assert await service.principal_for_token("not-a-token") is None
    listed = await service.tokens(CLI, "t@colegio.co")
    assert [t.label for t in listed] == ["notas"]
    assert listed[0].last_used_at == clock.now()
    assert created.token.id is not None
    assert await service.revoke_token(CLI, created.token.id)
    assert not await service.revoke_token(CLI, created.token.id)
    assert await service.principal_for_token(created.secret) is None
    other = await service.create_token(CLI, "t@colegio.co", "corto", days=1)
    clock.advance(timedelta(days=1, seconds=1))
    assert await service.principal_for_token(other.secret) is None
    actions = await audit_actions(store)
    assert actions.count(AuditAction.STAFF_TOKEN_CREATED) == 2
    assert AuditAction.STAFF_TOKEN_REVOKED in actions
    with pytest.raises(StaffNotFound):
        await service.create_token(CLI, "nadie@colegio.co", "x")


async def test_nothing_stored_holds_a_password_or_token(service: StaffService,
                                                        store: InMemoryStore) -> None:
    await service.add(CLI, "a@colegio.co", "Ana Pérez", "admin", password=GOOD)
    token = await service.create_token(CLI, "a@colegio.co", "script")
    _, link = await service.add(CLI, "b@colegio.co", "Beto Gil", "viewer")
    state = repr(attrs.asdict(store.staff_state[0]))
    assert "$argon2id$" in state  # the hashes are there, the secrets are not
    for secret in (GOOD, token.secret, link or "?"):
        assert secret not in state


async def test_audit_rollback_leaves_no_entry(store: InMemoryStore, clock: FixedClock) -> None:
    from eki_domain.model.audit import AuditEntry

    async with store.uow() as uow:
        await uow.audit.append(AuditEntry(at=clock.now(), actor="eki", action="x"))
    assert await audit_actions(store) == []
