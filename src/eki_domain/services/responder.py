"""The rule-based Spanish responder: level 3 of the assistant ladder, and every fixed text.

:class:`RuleBasedAssistant` detects the intent (:mod:`eki_domain.services.intents`) and answers
only through the student's tools (:class:`~eki_domain.ports.assistant.StudentToolbox`): it
never invents a grade, an absence or a date, and because the tools are bound to the sender it
cannot show anyone else's data. When the school has not loaded some information (the tool is
not registered) it says so honestly.

The texts the conversation service sends on its own (unknown sender, opt-out/opt-in
confirmations, hand-off, media, unsupported messages) live here too, so every Spanish text a
student reads is in one module. Register: Colombian Spanish, "tú", short, WhatsApp formatting
(``*bold*``, ``_italics_``), a few emoji at most.

Tool results the responder understands (extra keys are ignored, missing ones are tolerated):

``get_my_profile()``
    ``{"found": true, "name": "Ana Pérez", "first_name": "Ana", "phone": "+57300***4567",
    "active": true, "tags": ["grado 10"], "registered_on": "2026-01-15"}``
``get_my_progress(course=None, period=None)``
    ``{"courses": [{"course": "Matemáticas", "average": 4.3, "band": "Alto", "passing": true,
    "graded": 5, "total": 8}], "overall_average": 4.1}``; ``average`` is ``null`` for a course
    with no grades yet. When ``course`` matches nothing: ``{"courses": []}`` (optionally with
    ``"available_courses": ["Matemáticas", …]``) or a ``ValueError``.
``get_my_attendance(course=None)``
    ``{"courses": [{"course": "Matemáticas", "absences": 3, "late": 1, "excused": 0,
    "rate": 0.94}], "total_absences": 3}``; ``rate`` is a fraction (0.94) or a percentage (94).
``get_my_pending_assignments()``
    ``{"pending": [{"course": "Matemáticas", "title": "Taller 3", "due_date": "2026-03-02"}]}``
    (``due_date`` ISO or ``null``). It takes no course: the responder filters by the hint.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from eki_domain.model.student import Student
from eki_domain.ports.assistant import AssistantReply, JsonDict, StudentToolbox, Turn
from eki_domain.ports.clock import Clock
from eki_domain.services.intents import Intent, detect_intent, extract_course, normalize_text

__all__ = [
    "COLOMBIA_UTC_OFFSET",
    "RuleBasedAssistant",
    "format_decimal",
    "format_percent",
    "handoff_confirmation",
    "media_reply",
    "menu_text",
    "opt_in_confirmation",
    "opt_out_confirmation",
    "spanish_date",
    "unknown_sender_reply",
    "unsupported_reply",
]

#: Colombia has no daylight saving time: UTC-5 all year.
COLOMBIA_UTC_OFFSET: Final = timedelta(hours=-5)

PROFILE_TOOL: Final = "get_my_profile"
PROGRESS_TOOL: Final = "get_my_progress"
ATTENDANCE_TOOL: Final = "get_my_attendance"
PENDING_TOOL: Final = "get_my_pending_assignments"

#: Replies stay well under WhatsApp's 4,096 characters (and under 1,000 in practice).
_LIST_BUDGET: Final = 700
_MAX_NAME: Final = 60

_WEEKDAYS: Final = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
_MONTHS: Final = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
    "octubre", "noviembre", "diciembre",
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Fixed texts (also used by the conversation service)
# --------------------------------------------------------------------------------------------


def menu_text(first_name: str | None = None) -> str:
    """The numbered menu; "1".."5" typed alone are understood by ``detect_intent``."""
    ask = f"¿En qué te ayudo, {first_name}?" if first_name else "¿En qué te ayudo?"
    return (
        f"{ask} Escribe un número:\n"
        "*1* Notas y promedio\n"
        "*2* Asistencia y fallas\n"
        "*3* Tareas pendientes\n"
        "*4* Mis datos\n"
        "*5* Hablar con un asesor\n"
        "También puedes preguntarme con tus palabras, por ejemplo: _¿cómo voy en matemáticas?_"
    )


def unknown_sender_reply() -> str:
    """For a number EKI does not know: polite, reveals nothing, explains how to register."""
    return (
        "¡Hola! 👋 Soy *EKI*, el asistente virtual del colegio. Este número de WhatsApp todavía "
        "no está registrado, así que no puedo darte información por aquí. Para usar EKI, "
        "pídele a la secretaría del colegio que registre este número (el del estudiante o el "
        "de su acudiente). ¡Gracias!"
    )


def opt_out_confirmation() -> str:
    return (
        "Listo, no te enviaremos más mensajes 👍 Si cambias de opinión, escribe *ALTA* y "
        "volvemos a hablar."
    )


def opt_in_confirmation() -> str:
    return (
        "¡Qué bueno tenerte de vuelta! 🙌 Ya vuelves a recibir mensajes de EKI. Escribe *menú* "
        "para ver lo que puedo hacer."
    )


def handoff_confirmation() -> str:
    return (
        "Listo 👍 Le pasé tu mensaje al equipo del colegio y una persona te va a escribir por "
        "aquí lo antes posible. Mientras tanto dejo de responder automáticamente en este chat."
    )


_TYPE_HINT: Final = (
    "Escríbeme tu pregunta con palabras, por ejemplo _¿cuántas fallas llevo?_, o escribe *menú*."
)

_MEDIA_TEXTS: Final[dict[str, str]] = {
    "audio": "Todavía no puedo escuchar audios 🙉",
    "image": "Recibí tu imagen, pero solo puedo leer texto 🙈",
    "video": "Recibí tu video, pero solo puedo leer texto 🙈",
    "document": (
        "Recibí tu archivo, pero no puedo abrir documentos. Si es una tarea, entrégala por el "
        "medio que indicó tu profe."
    ),
    "sticker": "¡Buen sticker! 😄 Eso sí, solo entiendo texto.",
    "location": "Gracias por la ubicación 📍, pero no la necesito para ayudarte.",
    "contacts": (
        "Recibí el contacto, pero no puedo registrar números desde aquí: eso lo hace la "
        "secretaría del colegio."
    ),
}
_MEDIA_ALIASES: Final[dict[str, str]] = {
    "voice": "audio",
    "ptt": "audio",
    "photo": "image",
    "gif": "video",
    "file": "document",
    "contact": "contacts",
}


def media_reply(kind: str, is_voice: bool) -> str:
    """A short reply to a voice note, image, video, document, sticker, location or contact.

    ``kind`` is the WhatsApp message type (``"audio"``, ``"image"``…). Use the caption as text
    instead when an image or document has one.
    """
    key = kind.strip().lower()
    key = _MEDIA_ALIASES.get(key, key)
    if key == "audio" and is_voice:
        opening = "Todavía no puedo escuchar notas de voz 🙉"
    elif key in _MEDIA_TEXTS:
        opening = _MEDIA_TEXTS[key]
    else:
        return unsupported_reply()
    return f"{opening} {_TYPE_HINT}"


def unsupported_reply() -> str:
    return f"Ese tipo de mensaje todavía no lo puedo leer 😅 {_TYPE_HINT}"


# --------------------------------------------------------------------------------------------
# Number and date formatting (Colombian: decimal comma)
# --------------------------------------------------------------------------------------------


def format_decimal(value: float | int | str | Decimal, places: int = 1) -> str:
    """``4.25`` → ``"4,3"`` (half up, decimal comma); ``3`` → ``"3,0"``."""
    number = Decimal(str(value).replace(",", "."))
    quantum = Decimal(1).scaleb(-places)
    text = f"{number.quantize(quantum, rounding=ROUND_HALF_UP):f}"
    return text.replace(".", ",")


def format_percent(rate: float | int | Decimal) -> str:
    """``0.94`` or ``94`` → ``"94%"``; ``0.935`` → ``"93,5%"``."""
    value = Decimal(str(rate))
    if value <= 1:
        value *= 100
    rounded = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if rounded == rounded.to_integral_value():
        return f"{int(rounded)}%"
    return f"{format_decimal(rounded)}%"


def spanish_date(day: date, *, year: bool = False) -> str:
    """``date(2026, 3, 2)`` → ``"lunes 2 de marzo"``; with ``year``: ``"2 de marzo de 2026"``."""
    if year:
        return f"{day.day} de {_MONTHS[day.month - 1]} de {day.year}"
    return f"{_WEEKDAYS[day.weekday()]} {day.day} de {_MONTHS[day.month - 1]}"


# --------------------------------------------------------------------------------------------
# Defensive readers for tool results
# --------------------------------------------------------------------------------------------


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal | str):
        try:
            number = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _count(value: object) -> int | None:
    number = _number(value)
    if number is None or number < 0:
        return None
    return int(number)


def _text(value: object) -> str | None:
    """A tool string fit for a WhatsApp line: one line, no formatting characters, short."""
    if not isinstance(value, str):
        return None
    cleaned = " ".join(value.translate(str.maketrans("*_~`", "    ")).split())
    if not cleaned:
        return None
    return cleaned if len(cleaned) <= _MAX_NAME else cleaned[: _MAX_NAME - 1] + "…"


def _dicts(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _bullets(lines: Sequence[str], noun_plural: str) -> list[str]:
    """As many lines as fit the budget, then "…y N más"."""
    shown: list[str] = []
    used = 0
    for line in lines:
        if shown and used + len(line) > _LIST_BUDGET:
            shown.append(f"…y {len(lines) - len(shown)} {noun_plural} más.")
            break
        shown.append(line)
        used += len(line) + 1
    return shown


def _narrow(courses: list[Mapping[str, Any]], hint: str | None) -> list[Mapping[str, Any]]:
    """The courses matching the hint, when the tool returned more (else what it returned)."""
    if not hint or len(courses) < 2:
        return courses
    mine = [item for item in courses if _matches(hint, str(item.get("course") or ""))]
    return mine or courses


def _first_name(student: Student) -> str:
    name = student.first_name
    if name.isupper() or name.islower():
        name = name.capitalize()
    return _text(name) or "👋"


def _matches(hint: str, name: str) -> bool:
    wanted, have = normalize_text(hint), normalize_text(name)
    if not wanted:
        return False
    return wanted in have or any(word.startswith(wanted) for word in have.split())


# --------------------------------------------------------------------------------------------
# The assistant
# --------------------------------------------------------------------------------------------


class _Outcome(enum.Enum):
    UNAVAILABLE = "unavailable"  # the school has not loaded that information
    FAILED = "failed"  # the tool refused the arguments (ValueError)


class _Calls:
    """Calls tools that exist, remembering their names in order."""

    def __init__(self, tools: StudentToolbox) -> None:
        self._tools = tools
        self._available = frozenset(tools.names())
        self.names: list[str] = []

    async def call(self, name: str, **arguments: Any) -> JsonDict | _Outcome:
        if name not in self._available:
            return _Outcome.UNAVAILABLE
        self.names.append(name)
        try:
            result = await self._tools.call(name, arguments)
        except ValueError:
            return _Outcome.FAILED
        return result if isinstance(result, Mapping) else {}


class RuleBasedAssistant:
    """Answers in Spanish from keyword rules, through the student's tools only.

    ``clock`` (optional) lets pending work say "hoy", "mañana" or "venció"; dates are read in
    Colombian time unless another ``utc_offset`` is given. Tool errors other than
    ``ValueError`` (a database down) propagate, so the caller can retry the turn.
    """

    def __init__(
        self, *, clock: Clock | None = None, utc_offset: timedelta = COLOMBIA_UTC_OFFSET
    ) -> None:
        self._clock = clock
        self._offset = utc_offset

    async def answer(self, turn: Turn, tools: StudentToolbox) -> AssistantReply:
        intent = detect_intent(turn.text, turn.payload)
        calls = _Calls(tools)
        name = _first_name(turn.student)
        course = extract_course(turn.text) if turn.text else None
        text = await self._reply(intent, name, course, calls)
        return AssistantReply(text=text, intent=str(intent), tools=tuple(calls.names))

    async def _reply(self, intent: Intent, name: str, course: str | None, calls: _Calls) -> str:
        match intent:
            case Intent.PROGRESO:
                return await self._progress(name, course, calls)
            case Intent.ASISTENCIA:
                return await self._attendance(name, course, calls)
            case Intent.PENDIENTES:
                return await self._pending(name, course, calls)
            case Intent.MIS_DATOS:
                return await self._profile(calls)
            case Intent.SALUDO:
                return f"¡Hola, {name}! 👋 Soy *EKI*, el asistente del colegio.\n\n{menu_text()}"
            case Intent.AYUDA:
                return menu_text(name)
            case Intent.GRACIAS:
                return f"¡Con mucho gusto, {name}! 😊 Si necesitas algo más, escríbeme *menú*."
            case Intent.DESPEDIDA:
                return f"¡Chao, {name}! Que te vaya muy bien 👋 Aquí estoy cuando me necesites."
            case Intent.OPT_OUT:
                return (
                    "Si ya no quieres recibir mensajes de EKI, escribe solo la palabra *BAJA*. "
                    "Si después quieres volver, escribe *ALTA*."
                )
            case Intent.OPT_IN:
                return opt_in_confirmation()
            case Intent.HUMANO:
                return handoff_confirmation()
            case _:
                return f"Perdona, {name}, no te entendí 🤔\n\n{menu_text()}"

    # -- progress ----------------------------------------------------------------------------

    async def _progress(self, name: str, course: str | None, calls: _Calls) -> str:
        result = await (
            calls.call(PROGRESS_TOOL, course=course) if course else calls.call(PROGRESS_TOOL)
        )
        if result is _Outcome.UNAVAILABLE:
            return _not_loaded(name, "las notas", "las")
        if result is _Outcome.FAILED:
            return _course_not_found(course, "1", "tus notas") if course else _try_later("notas")
        courses = _narrow(_dicts(result.get("courses")), course)
        if not courses:
            if course:
                return _course_not_found(course, "1", "tus notas", result.get("available_courses"))
            return (
                f"Todavía no tengo notas registradas para ti, {name}. Cuando el colegio las "
                "cargue, te las muestro aquí 📚"
            )
        lines: list[str] = []
        failing = False
        for item in courses:
            label = _text(item.get("course")) or _text(item.get("name")) or "Materia"
            average = _number(item.get("average"))
            if average is None:
                lines.append(f"• *{label}*: sin notas todavía")
                continue
            parts = [f"• *{label}*: *{format_decimal(average)}*"]
            band = _text(item.get("band"))
            if band:
                parts.append(f" ({band})")
            graded, total = _count(item.get("graded")), _count(item.get("total"))
            if graded is not None and total:
                parts.append(f" · {graded} de {total} calificadas")
            if item.get("passing") is False:
                failing = True
                parts.append(" · vas perdiendo")
            lines.append("".join(parts))
        out = [f"📊 *Tus notas*, {name}", *_bullets(lines, "materias")]
        overall = _number(result.get("overall_average"))
        if overall is not None and not course and len(courses) > 1:
            out.append(f"*Promedio general:* {format_decimal(overall)}")
        if failing:
            out.append(
                "Si quieres apoyo con las que vas perdiendo, escribe *5* y te pongo en "
                "contacto con un asesor 💪"
            )
        return "\n".join(out)

    # -- attendance --------------------------------------------------------------------------

    async def _attendance(self, name: str, course: str | None, calls: _Calls) -> str:
        result = await (
            calls.call(ATTENDANCE_TOOL, course=course) if course else calls.call(ATTENDANCE_TOOL)
        )
        if result is _Outcome.UNAVAILABLE:
            return _not_loaded(name, "los registros de asistencia", "los")
        if result is _Outcome.FAILED:
            return (
                _course_not_found(course, "2", "tu asistencia")
                if course
                else _try_later("asistencia")
            )
        courses = _narrow(_dicts(result.get("courses")), course)
        total = _count(result.get("total_absences"))
        if not courses and total is None:
            if course:
                return _course_not_found(
                    course, "2", "tu asistencia", result.get("available_courses")
                )
            return (
                f"Todavía no tengo registros de asistencia para ti, {name}. Cuando el colegio "
                "los cargue, te cuento aquí 🗓️"
            )
        lines: list[str] = []
        summed = 0
        recorded = 0
        for item in courses:
            label = _text(item.get("course")) or _text(item.get("name")) or "Materia"
            if _count(item.get("sessions")) == 0:
                lines.append(f"• *{label}*: aún no hay asistencia registrada")
                continue
            recorded += 1
            absences = _count(item.get("absences")) or 0
            late = _count(item.get("late")) or 0
            excused = _count(item.get("excused")) or 0
            summed += absences
            facts = [_plural(absences, "falla", "fallas") if absences else "sin fallas"]
            if excused:
                facts[0] += f" ({excused} con excusa)"
            if late:
                facts.append(_plural(late, "llegada tarde", "llegadas tarde"))
            line = f"• *{label}*: {', '.join(facts)}"
            rate = _number(item.get("rate"))
            if rate is not None and rate >= 0:
                line += f" · asistencia {format_percent(rate)}"
            lines.append(line)
        if total is None:
            total = summed
        out = [f"🗓️ *Tu asistencia*, {name}", *_bullets(lines, "materias")]
        if recorded == 0 and courses:
            out.append("Cuando el colegio cargue la asistencia, te cuento aquí 🗓️")
        elif total == 0:
            out.append("¡Vas muy bien, no tienes fallas! 👏")
        elif not course or len(courses) != 1:
            out.append(f"*Total:* {_plural(total, 'falla', 'fallas')}")
        return "\n".join(out)

    # -- pending work ------------------------------------------------------------------------

    async def _pending(self, name: str, course: str | None, calls: _Calls) -> str:
        result = await calls.call(PENDING_TOOL)
        if result is _Outcome.UNAVAILABLE:
            return _not_loaded(name, "las tareas y entregas", "las")
        if result is _Outcome.FAILED:
            return _try_later("tareas pendientes")
        items = _dicts(result.get("pending"))
        if course:
            mine = [item for item in items if _matches(course, str(item.get("course") or ""))]
            if not mine:
                text = f"No tienes pendientes en *{_text(course) or course}* 🙌"
                if items:
                    others = _plural(len(items), "pendiente", "pendientes")
                    text += f" En otras materias tienes {others}: escribe *3* para verlos."
                return text
            items = mine
        if not items:
            return f"¡Estás al día, {name}! No tienes entregas pendientes 🙌"
        today = self._today()
        items.sort(key=lambda item: _date(item.get("due_date")) or date.max)
        lines = [self._pending_line(item, today) for item in items]
        heading = _plural(len(items), "pendiente", "pendientes")
        return "\n".join([f"📝 *Tienes {heading}*, {name}", *_bullets(lines, "pendientes")])

    def _today(self) -> date | None:
        if self._clock is None:
            return None
        return (self._clock.now() + self._offset).date()

    @staticmethod
    def _pending_line(item: Mapping[str, Any], today: date | None) -> str:
        title = _text(item.get("title")) or "Actividad"
        label = _text(item.get("course"))
        due = _date(item.get("due_date"))
        head = f"• *{label}*: {title}" if label else f"• {title}"
        if due is None:
            return f"{head} · sin fecha"
        if today is not None:
            if due == today:
                return f"{head} · entrega *hoy*"
            if due == today + timedelta(days=1):
                return f"{head} · entrega *mañana*"
            if due < today:
                return f"{head} · venció el {spanish_date(due)}"
        return f"{head} · entrega el {spanish_date(due)}"

    # -- profile -----------------------------------------------------------------------------

    async def _profile(self, calls: _Calls) -> str:
        result = await calls.call(PROFILE_TOOL)
        if result is _Outcome.UNAVAILABLE or result is _Outcome.FAILED:
            return _try_later("tus datos")
        if not result.get("found", True):
            return (
                "No encontré tu registro en este momento 😕 Si crees que es un error, habla con "
                "la secretaría del colegio."
            )
        lines = ["👤 *Tus datos en EKI*"]
        full_name = _text(result.get("name"))
        if full_name:
            lines.append(f"• Nombre: {full_name}")
        phone = _text(str(result.get("phone") or "").replace("*", "•"))
        if phone:
            lines.append(f"• Celular: {phone}")
        tags = [tag for tag in map(_text, _as_list(result.get("tags"))) if tag]
        if tags:
            lines.append(f"• Grupos: {', '.join(tags)}")
        registered = _date(result.get("registered_on"))
        if registered is not None:
            lines.append(f"• Fecha de registro: {spanish_date(registered, year=True)}")
        if result.get("active") is False:
            lines.append("• Estado: inactivo")
        lines.append("Si algo no está bien, pídele a la secretaría del colegio que lo corrija.")
        return "\n".join(lines)


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _not_loaded(name: str, what: str, pronoun: str) -> str:
    """The tool is not registered: the school has not loaded that information yet."""
    return (
        f"{name}, el colegio todavía no ha cargado {what} en EKI 📭 Apenas estén, te "
        f"{pronoun} muestro por aquí. Mientras tanto, puedes preguntarle a tu profe."
    )


def _try_later(what: str) -> str:
    return f"No pude consultar {what} en este momento 😕 Intenta de nuevo en un rato."


def _course_not_found(course: str, option: str, what: str, available: object = None) -> str:
    text = f"No encontré la materia *{_text(course) or 'que escribiste'}* 🤔"
    names = [name for name in map(_text, _as_list(available)) if name]
    if names:
        return (
            f"{text} Tus materias son: {', '.join(names[:12])}. Escribe *{option}* para ver {what}."
        )
    return f"{text} Revisa cómo se escribe o escribe *{option}* para ver {what}."
