"""The audit log: who did what to whom, append-only.

Entries are never updated or deleted by EKI (the retention purge of the privacy work is the
only exception, and it is itself audited). ``actor`` is a staff e-mail, ``system`` (the
shared token), ``cli:<OS user>`` or ``eki`` (the service).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

import attrs

#: Bounds of what one entry may carry (every field comes from a request, so it is hostile).
USER_AGENT_MAX = 300
DETAIL_VALUE_MAX = 500
DETAILS_MAX_KEYS = 20


class AuditAction(StrEnum):
    """The recorded actions, named as docs/admin.md lists them."""

    STAFF_SIGN_IN = "staff.sign_in"
    STAFF_SIGN_IN_FAILED = "staff.sign_in_failed"
    STAFF_SIGN_OUT = "staff.sign_out"
    STAFF_CREATED = "staff.created"
    STAFF_UPDATED = "staff.updated"
    STAFF_DISABLED = "staff.disabled"
    STAFF_ENABLED = "staff.enabled"
    STAFF_PASSWORD_SET = "staff.password_set"  # noqa: S105 - an action name
    STAFF_PASSWORD_RESET = "staff.password_reset"  # noqa: S105 - an action name
    STAFF_SECOND_FACTOR = "staff.second_factor"
    STAFF_TOKEN_CREATED = "staff.token_created"  # noqa: S105 - an action name
    STAFF_TOKEN_REVOKED = "staff.token_revoked"  # noqa: S105 - an action name
    STUDENT_CREATED = "student.created"
    STUDENT_UPDATED = "student.updated"
    STUDENT_VIEWED = "student.viewed"
    IMPORT_RUN = "import.run"
    PROGRESS_IMPORT_RUN = "progress_import.run"
    HANDOFF_RELEASED = "handoff.released"
    EXPORT_DOWNLOADED = "export.downloaded"
    CONSENT_IMPORT_RUN = "consent_import.run"  # issue 18: paper consents imported
    GUARDIAN_IMPORT_RUN = "guardian_import.run"  # issue 17: guardians imported from a file
    CONSENT_VIEWED = "consent.viewed"  # issue 18: a person's consent history shown
    PRIVACY_EXPORTED = "privacy.exported"  # issue 18: target is the person's ref:…
    PRIVACY_ERASED = "privacy.erased"
    PRIVACY_REQUEST_OPENED = "privacy.request_opened"
    PRIVACY_REQUEST_CLOSED = "privacy.request_closed"
    PRIVACY_PURGED = "privacy.purged"


def _bounded(text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _details(raw: Mapping[str, object]) -> dict[str, str | int | bool | None]:
    out: dict[str, str | int | bool | None] = {}
    for key, value in list(raw.items())[:DETAILS_MAX_KEYS]:
        name = _bounded(str(key), 60) or ""
        if value is None or isinstance(value, bool | int):
            out[name] = value
        else:
            out[name] = _bounded(str(value), DETAIL_VALUE_MAX)
    return out


def _actor(value: str) -> str:
    return _bounded(value, 254) or ""


def _short(value: str | None) -> str | None:
    return _bounded(value, 254)


def _ip(value: str | None) -> str | None:
    return _bounded(value, 64)


def _agent(value: str | None) -> str | None:
    return _bounded(value, USER_AGENT_MAX)


@attrs.frozen
class AuditEntry:
    at: datetime
    actor: str = attrs.field(converter=_actor)
    action: str
    target_type: str | None = None
    target_id: str | None = attrs.field(default=None, converter=_short)
    ip: str | None = attrs.field(default=None, converter=_ip)
    user_agent: str | None = attrs.field(default=None, converter=_agent)
    details: Mapping[str, str | int | bool | None] = attrs.field(factory=dict,
                                                                 converter=_details)
    id: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("at must be timezone-aware")

    def as_dict(self) -> dict[str, object]:
        """The documented shape (``eki audit list --json``, the CSV)."""
        return {"at": self.at.isoformat(), "actor": self.actor, "action": self.action,
                "target_type": self.target_type, "target_id": self.target_id,
                "ip": self.ip, "user_agent": self.user_agent, "details": dict(self.details)}


@attrs.frozen
class AuditFilter:
    """What ``/admin/auditoria`` and ``eki audit list`` filter by (all optional)."""

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
