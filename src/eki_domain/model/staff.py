"""Staff accounts: the people who sign in to the admin site and call the API.

A :class:`StaffMember` has an e-mail (its sign-in name, unique case-insensitively), a display
name, one :class:`Role`, the tags it is responsible for (a teacher sees only students carrying
one of them), and a password hash that only the ``PasswordHasher`` port produces and checks.
Every change that must end the member's open sessions (disabling, a new role, a new password)
bumps :attr:`StaffMember.session_epoch`: a session records the epoch it was opened under and
is void once they differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

import attrs

from eki_domain.errors import InvalidInput, InvalidStudentName
from eki_domain.model.student import NAME_MAX_LENGTH, normalize_name, normalize_tags

EMAIL_MAX_LENGTH = 254
PASSWORD_MIN_LENGTH = 12
#: Longer inputs are refused before hashing (Argon2 would take them, but nobody types 1 KB).
PASSWORD_MAX_LENGTH = 256
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: Passwords refused whatever their length: the commonest ones people pick that are 12
#: characters or longer, in Spanish and English (lower-cased; compared case-insensitively
#: and with the school's usual suffixes stripped — see :func:`check_password_policy`).
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678901234", "123456789abc", "1q2w3e4r5t6y",
    "qwertyuiopas", "qwertyuiop123", "qwerty123456", "asdfghjklñ12", "zxcvbnm12345",
    "password1234", "password12345", "passwordpassword", "contraseña123", "contraseña1234",
    "contrasena123", "contrasena1234", "micontraseña", "micontrasena1", "administrador",
    "administrador1", "administrador123", "admin1234567", "adminadmin123", "iloveyou1234",
    "teamo1234567", "teamomucho123", "colombia1234", "colombia12345", "bogota123456",
    "medellin1234", "colegio12345", "colegio123456", "escuela12345", "profesor1234",
    "profesora1234", "estudiante123", "coordinador1", "coordinador123", "secretaria123",
    "rectoria12345", "bienvenido123", "bienvenida123", "welcome12345", "letmein12345",
    "changeme1234", "cambiame1234", "cambiar12345", "aaaaaaaaaaaa", "111111111111",
    "000000000000", "abcdefghijkl", "abc123456789", "abcd12345678", "passw0rd1234",
    "p@ssw0rd1234", "superman1234", "football1234", "futbol123456", "millonarios1",
    "nacional1234", "americadecali", "qazwsxedcrfv", "1qaz2wsx3edc", "trustno11234",
    "eki123456789", "ekiadmin1234",
})
#: Words that, with only digits or symbols after them, make a guessable password
#: ("Contraseña2026!", "colegio123456").
COMMON_STEMS = frozenset({
    "password", "passw0rd", "p@ssw0rd", "contraseña", "contrasena", "clave", "admin",
    "administrador", "administradora", "colegio", "escuela", "profesor", "profesora",
    "estudiante", "rector", "rectora", "coordinador", "coordinadora", "secretaria",
    "bienvenido", "bienvenida", "welcome", "qwerty", "qwertyuiop", "colombia", "bogota",
    "medellin", "iloveyou", "teamo", "letmein", "changeme", "cambiame", "eki", "ekiadmin",
})


class Role(StrEnum):
    """What a member of staff may do (the table in docs/admin.md; decided by
    :func:`eki_domain.model.permissions.decide`)."""

    ADMIN = "admin"
    COORDINATOR = "coordinator"
    TEACHER = "teacher"
    VIEWER = "viewer"

    @classmethod
    def parse(cls, raw: object) -> Role:
        text = str(raw or "").strip().lower()
        try:
            return cls(text)
        except ValueError:
            choices = ", ".join(role.value for role in cls)
            raise InvalidRole(
                f"El rol «{text}» no existe. Use uno de estos: {choices}.") from None


class InvalidEmail(InvalidInput):
    code = "INVALID_EMAIL"


class InvalidRole(InvalidInput):
    code = "INVALID_ROLE"


class InvalidStaffName(InvalidInput):
    code = "INVALID_NAME"


class WeakPassword(InvalidInput):
    code = "WEAK_PASSWORD"


def normalize_email(raw: object) -> str:
    """Trimmed and case-folded: ``Ana@Colegio.edu.co`` and ``ana@colegio.edu.co`` are one
    account."""
    text = str(raw if raw is not None else "").strip().lower()
    if not text:
        raise InvalidEmail("El correo está vacío. Escriba el correo de la persona.")
    if len(text) > EMAIL_MAX_LENGTH or _EMAIL.match(text) is None:
        shown = text if len(text) <= 60 else text[:60] + "…"
        raise InvalidEmail(
            f"«{shown}» no es un correo válido. Escríbalo como nombre@colegio.edu.co.")
    return text


def check_password_policy(password: str, *, email: str | None = None) -> None:
    """Raise :class:`WeakPassword` unless the password is at least 12 characters, at most
    256, and not a common password (nor the e-mail or its name part)."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise WeakPassword(
            f"La contraseña tiene {len(password)} caracteres; debe tener al menos "
            f"{PASSWORD_MIN_LENGTH}. Una frase de varias palabras es fácil de recordar.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise WeakPassword(
            f"La contraseña es demasiado larga (máximo {PASSWORD_MAX_LENGTH} caracteres).")
    folded = password.casefold()
    stripped = folded.rstrip("0123456789!.*#$@-_ ")
    personal = set()
    if email:
        personal = {email.casefold(), email.casefold().split("@", 1)[0]}
    if (folded in COMMON_PASSWORDS or stripped in COMMON_PASSWORDS
            or stripped in COMMON_STEMS or folded in personal or stripped in personal
            or len(set(folded)) <= 2):
        raise WeakPassword(
            "Esa contraseña es demasiado común o fácil de adivinar. Elija otra, por ejemplo "
            "una frase de varias palabras que no use en otros sitios.")


@attrs.define
class StaffMember:
    """A person on the school's staff with an account.

    Build one with :meth:`StaffMember.create`; change it through its methods, which keep the
    invariants and end open sessions when they must.
    """

    email: str
    name: str
    role: Role
    created_at: datetime
    tags: frozenset[str] = frozenset()
    active: bool = True
    #: Set by the ``PasswordHasher`` port; None until the person chooses a password.
    password_hash: str | None = attrs.field(default=None, repr=False)
    #: Base32 TOTP secret once the person turned on the second factor.
    totp_secret: str | None = attrs.field(default=None, repr=False)
    last_sign_in_at: datetime | None = None
    #: Bumped whenever open sessions must end (disable, role or password change).
    session_epoch: int = 0
    id: int | None = None

    @classmethod
    def create(cls, email: object, name: object, role: Role | str, *, created_at: datetime,
               tags: Iterable[object] = ()) -> StaffMember:
        if created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        return cls(email=normalize_email(email), name=_staff_name(name),
                   role=role if isinstance(role, Role) else Role.parse(role),
                   created_at=created_at, tags=normalize_tags(tags))

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def has_second_factor(self) -> bool:
        return self.totp_secret is not None

    def rename(self, name: object) -> None:
        self.name = _staff_name(name)

    def change_role(self, role: Role | str) -> None:
        new = role if isinstance(role, Role) else Role.parse(role)
        if new != self.role:
            self.role = new
            self.session_epoch += 1

    def set_tags(self, tags: Iterable[object]) -> None:
        self.tags = normalize_tags(tags)

    def disable(self) -> None:
        if self.active:
            self.active = False
            self.session_epoch += 1

    def enable(self) -> None:
        self.active = True

    def set_password_hash(self, password_hash: str) -> None:
        """A new password (chosen by the person): every open session ends."""
        self.password_hash = password_hash
        self.session_epoch += 1

    def upgrade_password_hash(self, password_hash: str) -> None:
        """The same password re-hashed with current parameters: sessions stay open."""
        self.password_hash = password_hash

    def clear_password(self) -> None:
        """A reset: the old password stops working and every open session ends."""
        self.password_hash = None
        self.session_epoch += 1

    def enable_second_factor(self, secret: str) -> None:
        self.totp_secret = secret
        self.session_epoch += 1

    def disable_second_factor(self) -> None:
        self.totp_secret = None
        self.session_epoch += 1

    def record_sign_in(self, at: datetime) -> None:
        self.last_sign_in_at = at

    def end_sessions(self) -> None:
        self.session_epoch += 1


def _staff_name(raw: object) -> str:
    # The same rules as a student's name (letters, at most 100 characters, spaces
    # collapsed), with a message about the person rather than a student.
    try:
        return normalize_name(raw)
    except InvalidStudentName as exc:
        raise InvalidStaffName(
            "El nombre de la persona no es válido: escriba su nombre y apellido "
            f"(con letras, máximo {NAME_MAX_LENGTH} caracteres).") from exc


@attrs.frozen
class ApiToken:
    """A personal API token. Only its SHA-256 digest is stored; the token itself is shown
    once when created (``eki staff token create``)."""

    staff_id: int
    label: str
    token_hash: str = attrs.field(repr=False)
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    id: int | None = None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@attrs.frozen
class SetupLink:
    """A one-time link (``/admin/setup/<token>``) for a person to choose a password.
    Stored as the token's SHA-256 digest; valid 24 hours; used once."""

    staff_id: int
    token_hash: str = attrs.field(repr=False)
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    id: int | None = None

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at
