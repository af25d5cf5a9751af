"""Every fixed sentence a student reads from EKI, in Spanish (and, in :mod:`.texts_en`, English).

Register: Colombian Spanish, "tú", short, WhatsApp formatting (``*bold*``, ``_italics_``), a
few emoji at most. The conversation service sends some of these on its own (unknown sender,
opt-out/opt-in confirmations, hand-off, media, unsupported messages) through the module-level
functions; the rule-based responder writes its answers through a :class:`Texts` catalogue
(:data:`SPANISH`, or :data:`~eki_domain.services.texts_en.ENGLISH` for a question in English),
which also formats numbers and dates the way its language does.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar, Final

from eki_domain.model.intent import Intent
from eki_domain.services.formatting import format_decimal, format_percent, spanish_date

__all__ = [
    "SPANISH",
    "Texts",
    "handoff_confirmation",
    "media_reply",
    "menu_text",
    "opt_in_confirmation",
    "opt_out_confirmation",
    "unknown_sender_reply",
    "unsupported_reply",
]


def menu_text(first_name: str | None = None) -> str:
    """The numbered menu; "1".."5" typed alone are understood by ``detect_intent``."""
    return SPANISH.menu(first_name)


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
    return SPANISH.opt_in()


def handoff_confirmation() -> str:
    return SPANISH.handoff()


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


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


class Texts:
    """The rule-based responder's sentences and formats, in Colombian Spanish.

    Subclassed for English (:class:`~eki_domain.services.texts_en.EnglishTexts`); every method
    returns WhatsApp-ready text. ``what`` keys name the information: ``"grades"``,
    ``"attendance"``, ``"pending"``, ``"profile"``.
    """

    language: str = "es"
    fallback_name: str = "👋"
    default_course: str = "Materia"
    default_activity: str = "Actividad"

    # -- formats ---------------------------------------------------------------------------

    def decimal(self, value: Decimal) -> str:
        return format_decimal(value)

    def percent(self, value: Decimal) -> str:
        return format_percent(value)

    def day(self, value: date, *, year: bool = False) -> str:
        return spanish_date(value, year=year)

    def count(self, count: int, singular: str, plural: str) -> str:
        return _plural(count, singular, plural)

    # -- menu and small talk ---------------------------------------------------------------

    def menu(self, first_name: str | None = None) -> str:
        ask = f"¿En qué te ayudo, {first_name}?" if first_name else "¿En qué te ayudo?"
        return (
            f"{ask} Escribe un número:\n"
            "*1* Notas y promedio\n"
            "*2* Asistencia y fallas\n"
            "*3* Tareas pendientes\n"
            "*4* Mis datos\n"
            "*5* Hablar con un asesor\n"
            "También puedes preguntarme con tus palabras, por ejemplo: "
            "_¿cómo voy en matemáticas?_"
        )

    def greeting(self, name: str) -> str:
        return f"¡Hola, {name}! 👋 Soy *EKI*, el asistente del colegio.\n\n{self.menu()}"

    def thanks(self, name: str) -> str:
        return f"¡Con mucho gusto, {name}! 😊 Si necesitas algo más, escríbeme *menú*."

    def farewell(self, name: str) -> str:
        return f"¡Chao, {name}! Que te vaya muy bien 👋 Aquí estoy cuando me necesites."

    def opt_out_hint(self) -> str:
        return (
            "Si ya no quieres recibir mensajes de EKI, escribe solo la palabra *BAJA*. "
            "Si después quieres volver, escribe *ALTA*."
        )

    def opt_in(self) -> str:
        return (
            "¡Qué bueno tenerte de vuelta! 🙌 Ya vuelves a recibir mensajes de EKI. Escribe "
            "*menú* para ver lo que puedo hacer."
        )

    def opt_in_hint(self) -> str:
        return "Para volver a recibir mensajes de EKI, escribe solo la palabra *ALTA*."

    def handoff(self) -> str:
        return (
            "Listo 👍 Le pasé tu mensaje al equipo del colegio y una persona te va a escribir "
            "por aquí lo antes posible. Mientras tanto dejo de responder automáticamente en "
            "este chat."
        )

    def handoff_offer(self, name: str) -> str:
        """The classifier thinks the student wants a person, but the rules did not hand off."""
        return (
            f"{name}, ¿quieres que una persona del colegio te escriba? Escribe *5* y le paso tu "
            "mensaje al equipo."
        )

    def cannot_modify(self, name: str) -> str:
        return (
            f"{name}, no puedo cambiar notas, fallas ni datos: eso lo hace el colegio. Si "
            "crees que hay un error, escribe *5* y le paso tu mensaje a una persona."
        )

    def no_schoolwork(self, name: str) -> str:
        return (
            f"{name}, no hago tareas ni doy respuestas 😅 Pero sí te digo qué tienes "
            "pendiente: escribe *3*."
        )

    def unknown(self, name: str) -> str:
        return f"Perdona, {name}, no te entendí 🤔\n\n{self.menu()}"

    _CHOICES: ClassVar[dict[Intent, tuple[str, str]]] = {
        Intent.PROGRESO: ("tus notas", "1"),
        Intent.NOTAS: ("el detalle de tus notas", "1"),
        Intent.ASISTENCIA: ("tu asistencia", "2"),
        Intent.PENDIENTES: ("tus tareas pendientes", "3"),
        Intent.MIS_DATOS: ("tus datos", "4"),
        Intent.HUMANO: ("hablar con una persona", "5"),
    }

    def choices(self) -> dict[Intent, tuple[str, str]]:
        """What each menu intent is called in a clarifying question, and its number."""
        return self._CHOICES

    def clarify(self, name: str, first: Intent, second: Intent) -> str:
        """ "¿Te refieres a tus notas o a tu asistencia?" with the two menu numbers."""
        (a, a_number), (b, b_number) = self.choices()[first], self.choices()[second]
        return (
            f"{name}, ¿te refieres a {a} o a {b}? 🤔 Escribe *{a_number}* para {a} o "
            f"*{b_number}* para {b}, o *menú* para ver todo."
        )

    # -- missing or failed information -----------------------------------------------------

    _WHAT: ClassVar[dict[str, tuple[str, str, str]]] = {
        # key: (what is not loaded, pronoun, what could not be read)
        "grades": ("las notas", "las", "notas"),
        "attendance": ("los registros de asistencia", "los", "asistencia"),
        "pending": ("las tareas y entregas", "las", "tareas pendientes"),
        "profile": ("tus datos", "los", "tus datos"),
    }

    def not_loaded(self, name: str, what: str) -> str:
        """The tool is not registered: the school has not loaded that information yet."""
        thing, pronoun, _ = self._WHAT[what]
        return (
            f"{name}, el colegio todavía no ha cargado {thing} en EKI 📭 Apenas estén, te "
            f"{pronoun} muestro por aquí. Mientras tanto, puedes preguntarle a tu profe."
        )

    def try_later(self, what: str) -> str:
        thing = self._WHAT[what][2]
        return f"No pude consultar {thing} en este momento 😕 Intenta de nuevo en un rato."

    _SEE: ClassVar[dict[str, tuple[str, str]]] = {
        "grades": ("1", "tus notas"),
        "attendance": ("2", "tu asistencia"),
    }

    def course_not_found(self, course: str | None, what: str, names: list[str]) -> str:
        option, see = self._SEE[what]
        text = f"No encontré la materia *{course or 'que escribiste'}* 🤔"
        if names:
            return (
                f"{text} Tus materias son: {', '.join(names[:12])}. Escribe *{option}* para ver "
                f"{see}."
            )
        return f"{text} Revisa cómo se escribe o escribe *{option}* para ver {see}."

    def more(self, count: int, what: str) -> str:
        noun = {"courses": "materias", "pending": "pendientes", "grades": "notas"}[what]
        return f"…y {count} {noun} más."

    # -- progress ----------------------------------------------------------------------------

    def no_grades(self, name: str) -> str:
        return (
            f"Todavía no tengo notas registradas para ti, {name}. Cuando el colegio las "
            "cargue, te las muestro aquí 📚"
        )

    def progress_heading(self, name: str) -> str:
        return f"📊 *Tus notas*, {name}"

    def no_grades_yet(self) -> str:
        return "sin notas todavía"

    def graded_of(self, graded: int, total: int) -> str:
        return f" · {graded} de {total} calificadas"

    def failing(self) -> str:
        return " · vas perdiendo"

    def overall(self, value: Decimal) -> str:
        return f"*Promedio general:* {self.decimal(value)}"

    def failing_tip(self) -> str:
        return (
            "Si quieres apoyo con las que vas perdiendo, escribe *5* y te pongo en "
            "contacto con un asesor 💪"
        )

    # -- detailed grades ---------------------------------------------------------------------

    def grades_heading(self, name: str) -> str:
        return f"📝 *Tus calificaciones*, {name}"

    def grade_pending(self) -> str:
        return "pendiente"

    def grade_excused(self) -> str:
        return "excusada"

    def no_activities(self) -> str:
        return "sin actividades calificadas todavía"

    # -- attendance --------------------------------------------------------------------------

    def no_attendance(self, name: str) -> str:
        return (
            f"Todavía no tengo registros de asistencia para ti, {name}. Cuando el colegio "
            "los cargue, te cuento aquí 🗓️"
        )

    def attendance_heading(self, name: str) -> str:
        return f"🗓️ *Tu asistencia*, {name}"

    def no_sessions(self) -> str:
        return "aún no hay asistencia registrada"

    def absences(self, count: int) -> str:
        return self.count(count, "falla", "fallas") if count else "sin fallas"

    def with_excuse(self, count: int) -> str:
        return f" ({count} con excusa)"

    def late(self, count: int) -> str:
        return self.count(count, "llegada tarde", "llegadas tarde")

    def rate(self, value: Decimal) -> str:
        return f" · asistencia {self.percent(value)}"

    def attendance_pending_load(self) -> str:
        return "Cuando el colegio cargue la asistencia, te cuento aquí 🗓️"

    def no_absences(self) -> str:
        return "¡Vas muy bien, no tienes fallas! 👏"

    def total_absences(self, total: int) -> str:
        return f"*Total:* {self.count(total, 'falla', 'fallas')}"

    def total_late(self, total: int) -> str:
        return f"*Llegadas tarde:* {total}"

    def total_excused(self, total: int) -> str:
        return f"*Fallas con excusa:* {total}"

    def period(self, name: str) -> str:
        return f"_Periodo {name}_"

    # -- pending work ------------------------------------------------------------------------

    def none_pending_in(self, course: str, others: int) -> str:
        text = f"No tienes pendientes en *{course}* 🙌"
        if others:
            count = self.count(others, "pendiente", "pendientes")
            text += f" En otras materias tienes {count}: escribe *3* para verlos."
        return text

    def up_to_date(self, name: str) -> str:
        return f"¡Estás al día, {name}! No tienes entregas pendientes 🙌"

    def pending_heading(self, name: str, count: int) -> str:
        return f"📝 *Tienes {self.count(count, 'pendiente', 'pendientes')}*, {name}"

    def undated(self) -> str:
        return "sin fecha"

    def due_today(self) -> str:
        return "entrega *hoy*"

    def due_tomorrow(self) -> str:
        return "entrega *mañana*"

    def overdue(self, day: date) -> str:
        return f"venció el {self.day(day)}"

    def due_on(self, day: date) -> str:
        return f"entrega el {self.day(day)}"

    # -- profile -----------------------------------------------------------------------------

    def profile_not_found(self) -> str:
        return (
            "No encontré tu registro en este momento 😕 Si crees que es un error, habla con "
            "la secretaría del colegio."
        )

    def profile_heading(self) -> str:
        return "👤 *Tus datos en EKI*"

    def profile_name(self, value: str) -> str:
        return f"• Nombre: {value}"

    def profile_phone(self, value: str) -> str:
        return f"• Celular: {value}"

    def profile_groups(self, values: list[str]) -> str:
        return f"• Grupos: {', '.join(values)}"

    def profile_registered(self, value: date) -> str:
        return f"• Fecha de registro: {self.day(value, year=True)}"

    def profile_inactive(self) -> str:
        return "• Estado: inactivo"

    def profile_fix(self) -> str:
        return "Si algo no está bien, pídele a la secretaría del colegio que lo corrija."


#: The Spanish catalogue (every reply unless the question was in English).
SPANISH: Final = Texts()
