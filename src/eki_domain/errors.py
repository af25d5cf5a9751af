"""The one hierarchy of domain errors.

Every error carries a stable machine-readable ``code`` and a Spanish ``message``
meant for the person who can fix the problem (a secretary, a student). Entry
points map these to exit codes and HTTP statuses in one place each.
"""

from __future__ import annotations


class EkiError(Exception):
    """Base class of every error the domain raises on purpose."""

    code: str = "EKI_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class InvalidInput(EkiError, ValueError):
    """A value supplied by a person or a file is not acceptable."""

    code = "INVALID_INPUT"


class InvalidPhoneNumber(InvalidInput):
    """A phone number could not be understood or is not a real number.

    ``code`` is one of the stable codes listed in
    :data:`eki_domain.model.phone.PHONE_ERROR_CODES`; ``value`` is the raw input.
    """

    code = "INVALID_NUMBER"

    def __init__(self, message: str, *, code: str, value: object = None) -> None:
        super().__init__(message, code=code)
        self.value = value


class InvalidStudentName(InvalidInput):
    code = "INVALID_NAME"


class InvalidTag(InvalidInput):
    code = "INVALID_TAG"


class DuplicatePhone(EkiError):
    """Another student is already registered with this phone number."""

    code = "DUPLICATE_PHONE"

    def __init__(self, e164: str) -> None:
        super().__init__(
            f"Ya existe un estudiante registrado con el teléfono {e164}. "
            "Busque ese estudiante y actualícelo en lugar de registrarlo de nuevo.",
        )
        self.e164 = e164


class DuplicateGuardianPhone(EkiError):
    """Another guardian is already registered with this phone number."""

    code = "DUPLICATE_GUARDIAN_PHONE"

    def __init__(self, e164: str) -> None:
        super().__init__(
            f"Ya existe un acudiente registrado con el teléfono {e164}. "
            "Vincúlelo al estudiante en lugar de registrarlo de nuevo.",
        )
        self.e164 = e164


class DuplicateGuardianLink(EkiError):
    """The guardian is already linked to that student (change the link instead)."""

    code = "DUPLICATE_LINK"

    def __init__(self, e164: str) -> None:
        super().__init__(
            f"El acudiente {e164} ya está vinculado a ese estudiante. Cambie el vínculo "
            "existente (parentesco, permisos, prioridad) en lugar de crearlo de nuevo.")
        self.e164 = e164


class GuardianNotFound(EkiError, LookupError):
    code = "GUARDIAN_NOT_FOUND"

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"No hay ningún acudiente registrado con {reference}. Revise el número.")
        self.reference = reference


class CodeNotPending(EkiError, LookupError):
    """No redemption with that id is waiting for approval (issue 17)."""

    code = "CODE_NOT_PENDING"

    def __init__(self, code_id: int) -> None:
        super().__init__(
            f"No hay un registro pendiente con el número {code_id}: ya se aprobó o se "
            "rechazó, o no existe. Recargue la lista.")
        self.code_id = code_id


class StudentNotFound(EkiError, LookupError):
    code = "STUDENT_NOT_FOUND"

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"No hay ningún estudiante registrado con {reference}. "
            "Revise el número o regístrelo primero.",
        )
        self.reference = reference


class DeliveryError(EkiError):
    """A channel could not send a message.

    ``permanent`` errors (outside the 24 h window, undeliverable, bad token…) are not
    retried; transient ones (network, 5xx, rate limits) are, after ``retry_after`` seconds
    when the channel said so.
    """

    code = "DELIVERY_FAILED"

    def __init__(self, message: str, *, code: str, permanent: bool,
                 title: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.permanent = permanent
        self.title = title
        self.retry_after = retry_after


class DuplicateStaffEmail(EkiError):
    """Another staff account already uses this e-mail."""

    code = "DUPLICATE_STAFF_EMAIL"

    def __init__(self, email: str) -> None:
        super().__init__(
            f"Ya existe una cuenta con el correo {email}. Use `eki staff update` para "
            "cambiarla o elija otro correo.")
        self.email = email


class StaffNotFound(EkiError, LookupError):
    code = "STAFF_NOT_FOUND"

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"No hay ninguna cuenta de personal con {reference}. "
            "Revise el correo (`eki staff list` muestra las cuentas).")
        self.reference = reference


class InvalidCredentials(EkiError):
    """A sign-in, setup link or token that does not work. The message never says which
    part was wrong, nor whether the account exists."""

    code = "INVALID_CREDENTIALS"


class SignInLocked(EkiError):
    """Too many failed sign-ins for the account or from the address."""

    code = "SIGN_IN_LOCKED"

    def __init__(self, retry_after_seconds: int) -> None:
        minutes = max(1, -(-retry_after_seconds // 60))
        super().__init__(
            "Demasiados intentos fallidos. Por seguridad, espere "
            f"{minutes} minuto{'s' if minutes != 1 else ''} antes de intentarlo de nuevo.")
        self.retry_after_seconds = retry_after_seconds


class LiveFeedClosed(EkiError):
    """A live-feed subscription ended: it fell too far behind (its queue filled up) or the
    feed closed. The client reconnects and reads the current state again (issue #15)."""

    code = "LIVE_FEED_CLOSED"

    def __init__(self, reason: str = "closed") -> None:
        super().__init__(f"La suscripción en vivo terminó ({reason}); vuelva a conectarse.")
        self.reason = reason
