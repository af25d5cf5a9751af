"""Template broadcasts to groups (issue #16): who gets one, what each person reads, and the
states a broadcast goes through (``draft → scheduled → sending → done``, plus ``paused``
and ``cancelled``). See docs/broadcasts.md."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

import attrs

from eki_domain.errors import EkiError, InvalidInput
from eki_domain.model.student import normalize_tags

#: The longest broadcast name.
NAME_MAX = 120
#: The most tags an audience may name.
TAGS_MAX = 50
#: Rows held back while their broadcast is paused wait until this moment (never due).
HELD_UNTIL = datetime(2999, 1, 1, tzinfo=UTC)
#: The error code of the rows of a cancelled broadcast that were never sent.
CANCELLED_CODE = "CANCELLED"

#: Per-recipient placeholders a parameter may contain.
PLACEHOLDERS = ("nombre", "estudiante", "curso")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class BroadcastState(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def final(self) -> bool:
        return self in (BroadcastState.DONE, BroadcastState.CANCELLED)


_LABELS = {
    BroadcastState.DRAFT: "borrador",
    BroadcastState.SCHEDULED: "programada",
    BroadcastState.SENDING: "enviando",
    BroadcastState.PAUSED: "en pausa",
    BroadcastState.DONE: "terminada",
    BroadcastState.CANCELLED: "cancelada",
}


class RecipientKind(enum.StrEnum):
    STUDENTS = "students"
    GUARDIANS = "guardians"
    BOTH = "both"

    @classmethod
    def parse(cls, raw: str) -> RecipientKind:
        aliases = {"students": cls.STUDENTS, "estudiantes": cls.STUDENTS,
                   "guardians": cls.GUARDIANS, "acudientes": cls.GUARDIANS,
                   "both": cls.BOTH, "ambos": cls.BOTH}
        found = aliases.get(raw.strip().casefold())
        if found is None:
            raise InvalidInput("Destinatarios: students, guardians o both (estudiantes, "
                               "acudientes o ambos).")
        return found


class Exclusion(enum.StrEnum):
    """Why a person of the audience is left out (one reason each, the first that applies)."""

    INACTIVE = "inactive"
    GUARDIAN_NOT_ALLOWED = "guardian_not_allowed"
    OPTED_OUT = "opted_out"
    NO_WHATSAPP = "no_whatsapp"
    NO_CONSENT = "no_consent"

    @property
    def label(self) -> str:
        return _EXCLUSION_LABELS[self]


_EXCLUSION_LABELS = {
    Exclusion.INACTIVE: "inactivos",
    Exclusion.GUARDIAN_NOT_ALLOWED: "acudientes sin permiso para recibir mensajes",
    Exclusion.OPTED_OUT: "pidieron no recibir mensajes",
    Exclusion.NO_WHATSAPP: "números sin WhatsApp",
    Exclusion.NO_CONSENT: "sin consentimiento",
}


class BroadcastNotFound(EkiError):
    code = "BROADCAST_NOT_FOUND"

    def __init__(self, broadcast_id: int) -> None:
        super().__init__(f"No existe la difusión {broadcast_id}.")


class BroadcastStateError(EkiError):
    """The action does not apply in the broadcast's state."""

    code = "BROADCAST_STATE"

    def __init__(self, action: str, state: BroadcastState) -> None:
        super().__init__(f"No se puede {action} una difusión {state.label}.")


@attrs.frozen
class Audience:
    """Students carrying any (or all) of ``tags`` (no tag: every student), or their
    guardians, or both. Only active people are sent to."""

    tags: frozenset[str] = frozenset()
    all_tags: bool = False
    to: RecipientKind = RecipientKind.STUDENTS

    @classmethod
    def of(cls, tags: Iterable[object] = (), *, all_tags: bool = False,
           to: RecipientKind | str = RecipientKind.STUDENTS) -> Audience:
        raw = list(tags)
        if len(raw) > TAGS_MAX:
            raise InvalidInput(f"Una difusión admite como máximo {TAGS_MAX} etiquetas.")
        kind = to if isinstance(to, RecipientKind) else RecipientKind.parse(to)
        return cls(normalize_tags(raw), all_tags, kind)

    def matches(self, student_tags: frozenset[str]) -> bool:
        if not self.tags:
            return True
        if self.all_tags:
            return self.tags <= student_tags
        return bool(self.tags & student_tags)


@attrs.frozen
class Candidate:
    """One person the audience reaches, before exclusions: a student, or a guardian through
    one linked student."""

    kind: str  # "student" | "guardian"
    name: str
    phone: str  # E.164
    wa_id: str  # where to send (digits)
    student_id: int
    student_name: str
    student_tags: frozenset[str]
    active: bool  # the person and, for a guardian, the student
    allowed: bool = True  # a guardian's link allows messages (may_receive_alerts)
    priority: int = 0  # among a guardian's links: lower first
    opted_out: bool = False  # the phone asked for no messages
    no_whatsapp: bool = False  # Meta said the number has no WhatsApp (131026)


def first_name(name: str) -> str:
    return name.split(" ", 1)[0]


def course_of(candidate: Candidate, audience: Audience) -> str:
    """``{curso}``: the first (alphabetically) of the audience's tags the student carries,
    else the student's first tag, else empty."""
    chosen = sorted(audience.tags & candidate.student_tags) or sorted(candidate.student_tags)
    return chosen[0] if chosen else ""


def check_params(params: Sequence[str]) -> tuple[str, ...]:
    """Parameters as given (literal text with ``{nombre}``, ``{estudiante}``, ``{curso}``);
    an unknown placeholder is refused."""
    out = []
    for raw in params:
        text = str(raw)
        for found in _PLACEHOLDER.findall(text):
            if found not in PLACEHOLDERS:
                raise InvalidInput(f"Marcador desconocido {{{found}}}: use {{nombre}}, "
                                   "{estudiante} o {curso}.")
        out.append(text)
    return tuple(out)


def render_params(params: Sequence[str], values: Mapping[str, str]) -> tuple[str, ...]:
    """Each parameter with its placeholders filled in for one recipient."""
    out = []
    for param in params:
        if "{" in param:
            for key in PLACEHOLDERS:
                param = param.replace("{" + key + "}", values.get(key, ""))
        out.append(param)
    return tuple(out)


def recipient_values(candidate: Candidate, audience: Audience) -> dict[str, str]:
    return {"nombre": first_name(candidate.name),
            "estudiante": first_name(candidate.student_name),
            "curso": course_of(candidate, audience) or "-"}


@attrs.frozen
class Recipient:
    candidate: Candidate
    params: tuple[str, ...]


@attrs.frozen
class AudienceResolution:
    """Who receives it and who is left out, by reason."""

    recipients: tuple[Recipient, ...]
    excluded: Mapping[Exclusion, int]


@attrs.frozen
class Preview:
    """What the preview shows before sending."""

    recipients: int
    excluded: Mapping[Exclusion, int]
    daily_limit: int
    fit_today: int  # recipients who fit today's daily limit (the rest wait)

    @property
    def waiting(self) -> int:
        return self.recipients - self.fit_today

    def excluded_json(self) -> dict[str, int]:
        return {reason.value: int(self.excluded.get(reason, 0)) for reason in Exclusion}


@attrs.define
class Broadcast:
    name: str
    template: str
    language: str
    params: tuple[str, ...]
    audience: Audience
    created_at: datetime
    created_by: str
    state: BroadcastState = BroadcastState.DRAFT
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    queued_at: datetime | None = None  # every row queued (None: queueing not finished)
    finished_at: datetime | None = None
    recipients: int = 0
    excluded: dict[str, int] = attrs.Factory(dict)
    id: int | None = None

    @classmethod
    def create(cls, name: object, template: str, language: str, params: Sequence[str],
               audience: Audience, *, created_at: datetime, created_by: str,
               scheduled_at: datetime | None = None) -> Broadcast:
        text = " ".join(str(name or "").split())
        if not text or len(text) > NAME_MAX:
            raise InvalidInput(f"El nombre de la difusión debe tener entre 1 y {NAME_MAX} "
                               "caracteres.")
        if scheduled_at is not None and scheduled_at.tzinfo is None:
            raise ValueError("scheduled_at must be timezone-aware")
        return cls(name=text, template=template, language=language,
                   params=check_params(params), audience=audience, created_at=created_at,
                   created_by=created_by, scheduled_at=scheduled_at)

    def schedule(self) -> None:
        self._expect("programar", BroadcastState.DRAFT)
        self.state = BroadcastState.SCHEDULED

    def start(self, now: datetime) -> None:
        self._expect("enviar", BroadcastState.DRAFT, BroadcastState.SCHEDULED)
        self.state, self.started_at = BroadcastState.SENDING, now

    def pause(self) -> None:
        self._expect("pausar", BroadcastState.SENDING, BroadcastState.SCHEDULED)
        self.state = BroadcastState.PAUSED

    def resume(self, now: datetime) -> None:
        self._expect("reanudar", BroadcastState.PAUSED)
        if self.started_at is None:  # paused before its time came: scheduled again
            self.state = BroadcastState.SCHEDULED
        else:
            self.state = BroadcastState.SENDING

    def cancel(self, now: datetime) -> None:
        if self.state.final:
            raise BroadcastStateError("cancelar", self.state)
        self.state, self.finished_at = BroadcastState.CANCELLED, now

    def finish(self, now: datetime) -> None:
        self._expect("terminar", BroadcastState.SENDING)
        self.state, self.finished_at = BroadcastState.DONE, now

    def _expect(self, action: str, *states: BroadcastState) -> None:
        if self.state not in states:
            raise BroadcastStateError(action, self.state)


@attrs.frozen
class RecipientResult:
    """One recipient's outcome (the results CSV)."""

    to: str
    student_id: int | None
    student_name: str | None
    status: str
    error_code: str | None
    error_title: str | None
    updated_at: datetime


#: The statuses a broadcast's counts roll up into.
COUNTED = ("queued", "sent", "delivered", "read", "failed")


def roll_up(by_status: Mapping[str, int]) -> dict[str, int]:
    """Outbox statuses → the broadcast's counts (``sending`` counts as queued)."""
    counts = dict.fromkeys(COUNTED, 0)
    for status, n in by_status.items():
        key = "queued" if status == "sending" else status
        if key in counts:
            counts[key] += int(n)
    return counts
