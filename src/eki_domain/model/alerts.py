"""Academic alerts: rules the school switches on one by one (issue 16), the school facts
they fire on, who receives them and why an alert is held back.

A rule fires once per (student, rule, item) and recipient: ``item`` names the absence
(course and day), the assignment or the grade. The alert is a WhatsApp utility template
whose ``{{1}}``, ``{{2}}``… are filled with the first parameters of the rule
(:func:`AlertRule.parameters`). See ``docs/alerts.md``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime

import attrs

from eki_domain.model.templates import check_language, check_name


class AlertRule(enum.StrEnum):
    FALLA = "falla"  # an unexcused absence was imported
    ENTREGA = "entrega"  # a pending assignment is due soon
    NOTA_BAJA = "nota_baja"  # a grade below the passing mark was imported

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """What ``{{1}}``, ``{{2}}``… of the rule's template receive, in order (a template
        uses the first ones it needs)."""
        return _PARAMETERS[self]

    @property
    def default_template(self) -> str:
        return f"alerta_{self.value}"

    @classmethod
    def parse(cls, raw: str) -> AlertRule:
        key = raw.strip().lower().replace("-", "_").replace(" ", "_")
        found = _ALIASES.get(key)
        if found is None:
            raise ValueError(f"{raw.strip()[:30]!r} is not an alert rule (falla, entrega, "
                             "nota_baja)")
        return found


_LABELS = {AlertRule.FALLA: "Falla", AlertRule.ENTREGA: "Entrega próxima",
           AlertRule.NOTA_BAJA: "Nota baja"}
_PARAMETERS = {
    AlertRule.FALLA: ("estudiante", "curso", "fecha"),
    AlertRule.ENTREGA: ("estudiante", "actividad", "curso", "fecha"),
    AlertRule.NOTA_BAJA: ("estudiante", "curso", "actividad", "nota"),
}
_ALIASES = {
    "falla": AlertRule.FALLA, "fallas": AlertRule.FALLA, "ausencia": AlertRule.FALLA,
    "entrega": AlertRule.ENTREGA, "entrega_proxima": AlertRule.ENTREGA,
    "entrega_próxima": AlertRule.ENTREGA, "tareas": AlertRule.ENTREGA,
    "nota_baja": AlertRule.NOTA_BAJA, "notas": AlertRule.NOTA_BAJA,
}
#: The order alerts go out in when a recipient's daily cap cannot fit them all.
RULE_ORDER = (AlertRule.FALLA, AlertRule.NOTA_BAJA, AlertRule.ENTREGA)


def parse_template_ref(raw: str, default_language: str = "es") -> tuple[str, str]:
    """``alerta_falla`` or ``alerta_falla:es_CO`` → (name, language); raises
    :class:`~eki_domain.model.templates.InvalidTemplate`."""
    name, _, language = raw.strip().partition(":")
    return check_name(name), check_language(language or default_language)


@attrs.frozen
class RuleOverride:
    """What the database holds about a rule (the admin page, ``eki alerts rules``): each
    field set there wins over the settings' default; ``None`` follows the settings.
    ``enabled_since`` is recorded even for a rule switched on by settings alone (the first
    evaluation that sees it on): absences and grades imported before are not news."""

    rule: AlertRule
    enabled: bool | None = None
    template: str | None = None
    language: str | None = None
    enabled_since: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


@attrs.frozen
class RuleConfig:
    """A rule as it applies now: the settings' default with the stored override on top."""

    rule: AlertRule
    enabled: bool
    template: str
    language: str = "es"
    #: True when the switch comes from the database, not from EKI_ALERT_RULES.
    stored: bool = False
    enabled_since: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None

    def with_override(self, override: RuleOverride | None) -> RuleConfig:
        if override is None:
            return self
        return attrs.evolve(
            self, enabled=self.enabled if override.enabled is None else override.enabled,
            template=override.template or self.template,
            language=override.language or self.language,
            stored=override.enabled is not None, enabled_since=override.enabled_since,
            updated_at=override.updated_at, updated_by=override.updated_by)


# -- facts read from the school data ------------------------------------------------------


@attrs.frozen
class AbsenceFact:
    student_id: int
    course_id: int
    course: str
    day: date
    imported_at: datetime


@attrs.frozen
class GradeFact:
    student_id: int
    assessment_id: int
    course: str
    title: str
    score: float
    max_score: float | None
    imported_at: datetime


@attrs.frozen
class DueFact:
    student_id: int
    assessment_id: int
    course: str
    title: str
    due_date: date


@attrs.frozen
class GuardianContact:
    guardian_id: int
    name: str
    phone: str  # E.164
    active: bool
    may_receive_alerts: bool
    priority: int


@attrs.frozen
class StudentAudience:
    """A student and the guardians linked to them, as alerts need them."""

    student_id: int
    name: str
    phone: str  # E.164
    active: bool
    guardians: tuple[GuardianContact, ...] = ()

    @property
    def first_name(self) -> str:
        return self.name.split(" ", 1)[0] if self.name else ""


# -- what an evaluation decides -----------------------------------------------------------


class RecipientKind(enum.StrEnum):
    GUARDIAN = "guardian"
    STUDENT = "student"


class HoldReason(enum.StrEnum):
    """Why an alert does not go out now (``eki alerts run`` prints the Spanish text)."""

    QUIET_HOURS = "quiet_hours"
    DAILY_CAP = "daily_cap"
    OPTED_OUT = "opted_out"  # BAJA: no message at all
    RULE_OPTED_OUT = "rule_opted_out"  # "no más alertas de …"
    INACTIVE = "inactive"
    NO_CONSENT = "no_consent"
    NOT_ALLOWED = "not_allowed"  # the guardian link has may_receive_alerts off
    TEMPLATE = "template_unavailable"

    @property
    def text(self) -> str:
        return _HOLD_TEXTS[self]

    @property
    def waits(self) -> bool:
        """Held for now: it goes out later by itself (the others never do)."""
        return self in (HoldReason.QUIET_HOURS, HoldReason.DAILY_CAP, HoldReason.TEMPLATE)


_HOLD_TEXTS = {
    HoldReason.QUIET_HOURS: "horas de silencio: sale cuando terminen",
    HoldReason.DAILY_CAP: "ya recibió el máximo de alertas de hoy: sale mañana",
    HoldReason.OPTED_OUT: "pidió no recibir mensajes (BAJA)",
    HoldReason.RULE_OPTED_OUT: "pidió no recibir estas alertas",
    HoldReason.INACTIVE: "inactivo",
    HoldReason.NO_CONSENT: "sin consentimiento para recibir mensajes",
    HoldReason.NOT_ALLOWED: "el acudiente no está autorizado para recibir alertas",
    HoldReason.TEMPLATE: "la plantilla de la regla no existe, no está aprobada o pide más "
                         "parámetros",
}


@attrs.frozen
class AlertItem:
    """One thing a rule fired on, for one student."""

    student_id: int
    rule: AlertRule
    item: str  # the key within (student, rule): "curso:12:2026-12-07", "actividad:34"
    #: The facts the template parameters are taken from (see AlertRule.parameter_names).
    values: Mapping[str, str] = attrs.field(factory=dict)
    why: str = ""  # Spanish: what happened ("faltó a Matemáticas el …")

    def params(self, count: int) -> tuple[str, ...]:
        names = self.rule.parameter_names[:count]
        return tuple(self.values.get(name, "") for name in names)


@attrs.frozen
class PlannedAlert:
    """An alert for one recipient: sent, or held back with a reason."""

    item: AlertItem
    recipient: str  # E.164
    kind: RecipientKind
    guardian_id: int | None = None
    held: HoldReason | None = None


@attrs.frozen
class SentAlert:
    """A recorded alert (one row of the ``alerts`` table)."""

    student_id: int
    rule: AlertRule
    item: str
    recipient: str
    kind: RecipientKind
    created_at: datetime
    outbound_id: int | None = None
    template: str | None = None
    guardian_id: int | None = None
    id: int | None = None
