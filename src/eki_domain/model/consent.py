"""Consent to the processing of personal data (Ley 1581 de 2012, Decreto 1074 de 2015).

The consent ledger is append-only: every decision — granted, refused, withdrawn — is a new
:class:`ConsentRecord`; nothing is updated in place. A person's current state under a policy
version is their latest record for that version (none: never asked, or not under this
version). See ``docs/privacy.md``.
"""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Final

import attrs

from eki_domain.errors import InvalidInput

__all__ = ["POLICY_VERSION_MAX", "ConsentDecision", "ConsentMedium", "ConsentPolicy",
           "ConsentRecord", "ConsentRole", "check_policy_version", "parse_medium"]

#: Longest policy version ("1", "2026-01", "v3.1").
POLICY_VERSION_MAX: Final = 40
_VERSION: Final = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")


class ConsentDecision(enum.StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class ConsentMedium(enum.StrEnum):
    """How the decision was given: answering on WhatsApp, on paper at enrolment (imported
    later with ``eki consent import``), or an import with no paper behind it."""

    WHATSAPP = "whatsapp"
    PAPER = "papel"
    IMPORT = "import"


class ConsentRole(enum.StrEnum):
    """Who decided: the student about themself, or a guardian on behalf of a student."""

    STUDENT = "student"
    GUARDIAN = "guardian"


_MEDIA: Final[dict[str, ConsentMedium]] = {
    "whatsapp": ConsentMedium.WHATSAPP, "wa": ConsentMedium.WHATSAPP,
    "papel": ConsentMedium.PAPER, "paper": ConsentMedium.PAPER, "fisico": ConsentMedium.PAPER,
    "físico": ConsentMedium.PAPER, "formulario": ConsentMedium.PAPER,
    "import": ConsentMedium.IMPORT, "importacion": ConsentMedium.IMPORT,
    "importación": ConsentMedium.IMPORT,
}


def parse_medium(raw: object) -> ConsentMedium:
    """``papel``, ``whatsapp`` or ``import`` (a few synonyms); empty → ``import``."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ConsentMedium.IMPORT
    found = _MEDIA.get(" ".join(str(raw).casefold().split()))
    if found is None:
        raise InvalidInput(f"«{str(raw)[:40]}» no es un medio: escriba papel, whatsapp o "
                           "import.")
    return found


def check_policy_version(raw: object) -> str:
    """A policy version as written in settings or a file: 1–40 letters, digits, ``.-_``
    (a number read from a spreadsheet, 2.0, is its text "2")."""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    text = "" if raw is None else str(raw).strip()
    if not text or len(text) > POLICY_VERSION_MAX or not _VERSION.match(text):
        raise InvalidInput(f"«{text[:POLICY_VERSION_MAX]}» no es una versión de la política: "
                           "use letras, números, punto o guion (por ejemplo 1 o 2026-01).")
    return text


def _e164(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not (value.startswith("+") and value[1:].isdigit() and 8 <= len(value) <= 16):
        raise ValueError(f"{attribute.name} must be an E.164 phone")


def _version(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    check_policy_version(value)


@attrs.frozen
class ConsentRecord:
    """One decision in the ledger.

    ``student_id`` is whose data it covers: the student themself (role ``student``) or the
    child a guardian decided for (role ``guardian``; one record per linked child).
    ``message_id`` is the WhatsApp message that carried the answer; ``recorded_by`` who put a
    paper consent in (``cli:<user>``)."""

    phone: str = attrs.field(validator=_e164)
    role: ConsentRole
    decision: ConsentDecision
    medium: ConsentMedium
    policy_version: str = attrs.field(validator=_version)
    decided_at: datetime
    recorded_at: datetime
    student_id: int | None = None
    guardian_id: int | None = None
    message_id: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.max_len(200)))
    recorded_by: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.max_len(254)))
    id: int | None = None

    @property
    def granted(self) -> bool:
        return self.decision is ConsentDecision.GRANTED


@attrs.frozen
class ConsentPolicy:
    """The school's policy as configured: whether consent is asked for, its version (a new
    version asks everyone again), the data controller's name and the policy's address."""

    required: bool = True
    version: str = attrs.field(default="1", validator=_version)
    controller: str = "el colegio"
    url: str | None = None
