"""WhatsApp message templates: the only messages a business may send outside the 24-hour
customer-service window, once Meta approved them.

A template has a name (Meta: lowercase letters, digits and ``_``), a language (``es``,
``es_CO``, ``en_US``…), a category (utility, marketing, authentication), a review status and
a body with numbered parameters ``{{1}}``, ``{{2}}``… filled in at send time. With Twilio a
template is a Content API item identified by its ``ContentSid`` (``HX…``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from datetime import datetime

import attrs

from eki_domain.errors import EkiError, InvalidInput

NAME_MAX = 512
BODY_MAX = 1024
PARAM_MAX = 1024
#: The most parameters a body may have (Meta allows more, no school template needs them).
PARAMS_MAX = 20
_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:_[A-Z]{2,4})?$")
_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
_PLACEHOLDER = re.compile(r"\{\{\s*(\d{1,3})\s*\}\}")


class InvalidTemplate(InvalidInput):
    code = "INVALID_TEMPLATE"


class TemplateNotFound(InvalidInput, LookupError):
    code = "TEMPLATE_NOT_FOUND"

    def __init__(self, name: str, language: str) -> None:
        super().__init__(
            f"No hay ninguna plantilla «{name}» en el idioma «{language}». Revise el nombre "
            "con `eki templates list` o sincronice con `eki templates sync`.")


class TemplateNotApproved(InvalidInput):
    code = "TEMPLATE_NOT_APPROVED"

    def __init__(self, name: str, language: str, status: str) -> None:
        super().__init__(
            f"La plantilla «{name}» ({language}) está en estado «{status}»: solo se pueden "
            "enviar plantillas aprobadas por WhatsApp.")


class WindowClosed(EkiError):
    """Free text outside WhatsApp's 24-hour window: only an approved template may be sent."""

    code = "WINDOW_CLOSED"

    def __init__(self) -> None:
        super().__init__(
            "El estudiante no ha escrito en las últimas 24 horas: WhatsApp solo "
            "permite escribirle con una plantilla aprobada (use --template o elija una "
            "plantilla).")


class TemplateCategory(enum.StrEnum):
    UTILITY = "utility"
    MARKETING = "marketing"
    AUTHENTICATION = "authentication"

    @classmethod
    def parse(cls, raw: str) -> TemplateCategory:
        try:
            return cls(raw.strip().lower())
        except ValueError:
            raise InvalidTemplate(
                f"«{raw}» no es una categoría de plantilla: use utility, marketing o "
                "authentication.") from None


class TemplateStatus(enum.StrEnum):
    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"
    PAUSED = "paused"
    DISABLED = "disabled"
    UNKNOWN = "unknown"

    @classmethod
    def from_provider(cls, raw: object) -> TemplateStatus:
        """Meta's ``APPROVED``/``IN_APPEAL``…, Twilio's ``approved``/``received``…"""
        value = str(raw or "").strip().lower()
        aliases = {"in_appeal": "pending", "received": "pending", "pending_deletion": "disabled",
                   "deleted": "disabled", "limit_exceeded": "paused", "unsubmitted": "pending"}
        value = aliases.get(value, value)
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


def placeholders(body: str) -> int:
    """How many parameters ``body`` takes: its placeholders must be {{1}}…{{n}}."""
    numbers = {int(n) for n in _PLACEHOLDER.findall(body)}
    if not numbers:
        return 0
    if numbers != set(range(1, max(numbers) + 1)):
        raise InvalidTemplate(
            "Los parámetros del texto deben ir numerados seguidos desde {{1}} "
            f"(el texto usa {', '.join(f'{{{{{n}}}}}' for n in sorted(numbers))}).")
    if len(numbers) > PARAMS_MAX:
        raise InvalidTemplate(f"Una plantilla admite a lo sumo {PARAMS_MAX} parámetros.")
    return len(numbers)


def check_name(raw: str) -> str:
    name = raw.strip()
    if not _NAME.match(name):
        raise InvalidTemplate(
            f"«{name[:60]}» no es un nombre de plantilla válido: use minúsculas, números y "
            "guion bajo (por ejemplo recordatorio_pago).")
    return name


def check_language(raw: str) -> str:
    language = raw.strip()
    if not _LANGUAGE.match(language):
        raise InvalidTemplate(
            f"«{language[:20]}» no es un código de idioma de WhatsApp (por ejemplo es, es_CO, "
            "en_US).")
    return language


@attrs.frozen
class MessageTemplate:
    name: str
    language: str
    category: TemplateCategory
    body: str
    status: TemplateStatus = TemplateStatus.PENDING
    #: Where it came from: "local" (eki templates add), "meta" or "twilio" (a sync).
    source: str = "local"
    #: Twilio's Content SID (HX + 32 hex); None for Meta and local templates.
    content_sid: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def create(cls, name: str, language: str, category: str | TemplateCategory, body: str, *,
               status: TemplateStatus = TemplateStatus.PENDING, source: str = "local",
               content_sid: str | None = None, updated_at: datetime | None = None
               ) -> MessageTemplate:
        """A validated template (raises :class:`InvalidTemplate`)."""
        text = body.strip()
        if not text or len(text) > BODY_MAX:
            raise InvalidTemplate(f"El texto de la plantilla debe tener entre 1 y {BODY_MAX} "
                                  f"caracteres (tiene {len(text)}).")
        placeholders(text)
        if content_sid is not None and not _SID.match(content_sid):
            raise InvalidTemplate(f"«{content_sid[:40]}» no es un Content SID de Twilio (HX y "
                                  "32 caracteres hexadecimales).")
        return cls(check_name(name), check_language(language),
                   category if isinstance(category, TemplateCategory)
                   else TemplateCategory.parse(category),
                   text, status, source, content_sid, updated_at)

    @property
    def parameter_count(self) -> int:
        return placeholders(self.body)

    @property
    def sendable(self) -> bool:
        return self.status is TemplateStatus.APPROVED

    def check_params(self, params: Sequence[str]) -> tuple[str, ...]:
        """The parameters, validated against the body (count, length, no blank one)."""
        expected = self.parameter_count
        values = tuple(str(p) for p in params)
        if len(values) != expected:
            raise InvalidTemplate(
                f"La plantilla «{self.name}» necesita {expected} parámetro(s) y se dieron "
                f"{len(values)}.")
        for index, value in enumerate(values, start=1):
            if not value.strip() or len(value) > PARAM_MAX or "\n" in value or "\t" in value:
                raise InvalidTemplate(
                    f"El parámetro {{{{{index}}}}} debe tener entre 1 y {PARAM_MAX} caracteres, "
                    "sin saltos de línea ni tabulaciones (regla de WhatsApp).")
        return values

    def render(self, params: Sequence[str]) -> str:
        """The body with its parameters filled in (what the student reads)."""
        values = self.check_params(params)
        return _PLACEHOLDER.sub(lambda m: values[int(m.group(1)) - 1], self.body)


class TemplateSyncError(EkiError):
    """The provider's template list could not be read."""

    code = "TEMPLATE_SYNC_FAILED"
