"""THE list of tables holding a person's data, and how their rows are found and erased.

Export (``eki privacy export``) and erasure (``eki privacy erase``) both walk
:data:`PERSONAL_TABLES`; a new table holding personal data is one entry here. A test
(``tests/integration/test_privacy_erase.py``) scans every text column of every table after an
erasure, so a table left out is caught.

How rows are found (:class:`Finder`, any of an entry's finders matches):

- ``student``: a column holding the person's student id(s);
- ``guardian``: a column holding the person's guardian id(s);
- ``e164``: a column holding the number as ``+573001112233`` (any of its forms);
- ``wa_id``: a column holding the WhatsApp id ``573001112233`` (any of its forms);
- ``contains``: a text or JSON column whose text contains the digits of the number (raw
  webhook bodies: ``573…``, ``+573…`` and a spreadsheet's ``300…`` all contain the national
  number; a number written with spaces inside is not found);
- ``audit_target``: audit entries about the person's student or guardian record.

What erasure does (:class:`Erase`): ``DELETE`` the rows; ``ACADEMIC`` deletes them unless
``--keep-academic`` (grades, attendance, enrolments, tags stay, under an anonymous id);
``STUDENT`` deletes the student record or, with ``--keep-academic``, anonymises it
(:data:`ANONYMOUS_STUDENT`); ``SCRUB`` keeps the rows (the audit trail, import history) and
replaces every form of the number in the ``scrub`` columns with the person's hashed
reference; ``CLEAR`` keeps someone else's row and empties the ``scrub`` columns that point
at the person (a guardian's remembered child and question); ``OWNED`` rows are handled by
their own port (the request register).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import attrs
import sqlalchemy as sa

from eki_adapters.sql import tables as t
from eki_domain.model.privacy import Person


class Erase(Enum):
    DELETE = "delete"
    ACADEMIC = "academic"
    STUDENT = "student"
    SCRUB = "scrub"
    CLEAR = "clear"
    OWNED = "owned"


@attrs.frozen
class Finder:
    how: str  # student | guardian | e164 | wa_id | contains | audit_target
    column: str = ""

    def where(self, table: sa.Table, person: Person) -> sa.ColumnElement[bool] | None:
        if self.how == "audit_target":
            parts = []
            if person.student_ids:
                parts.append(sa.and_(table.c.target_type == "student", table.c.target_id.in_(
                    [str(i) for i in person.student_ids])))
            if person.guardian_ids:
                parts.append(sa.and_(table.c.target_type == "guardian", table.c.target_id.in_(
                    [str(i) for i in person.guardian_ids])))
            parts.append(table.c.target_id.in_([*person.e164s, *person.wa_ids]))
            return sa.or_(*parts)
        column = table.c[self.column]
        if self.how == "student":
            return column.in_(person.student_ids) if person.student_ids else None
        if self.how == "guardian":
            return column.in_(person.guardian_ids) if person.guardian_ids else None
        if self.how == "e164":
            return column.in_(person.e164s)
        if self.how == "wa_id":
            return column.in_(person.wa_ids)
        if self.how == "contains":
            # Digits only: nothing to escape in the pattern. "57300…" and "+57300…" contain
            # the national number, so it alone would do; the ids are listed for clarity.
            return sa.or_(*(column.like(f"%{digits}%") for digits in person.digit_forms))
        raise ValueError(f"unknown finder {self.how!r}")


def student(column: str = "student_id") -> Finder:
    return Finder("student", column)


def guardian(column: str = "guardian_id") -> Finder:
    return Finder("guardian", column)


def e164(column: str) -> Finder:
    return Finder("e164", column)


def wa_id(column: str) -> Finder:
    return Finder("wa_id", column)


def contains(column: str) -> Finder:
    return Finder("contains", column)


@attrs.frozen
class PersonalTable:
    table: sa.Table
    title: str
    explanation: str
    finders: tuple[Finder, ...]
    erase: Erase = Erase.DELETE
    #: Columns whose text has the number replaced by the reference (``Erase.SCRUB``), or
    #: that are emptied (``Erase.CLEAR``).
    scrub: tuple[str, ...] = ()
    #: The export section's and the report's name when a table has two entries.
    section: str = ""
    #: Extra columns shown in the export (e.g. a tag's name): ``name → scalar subquery``.
    shown: Callable[[sa.Table], dict[str, Any]] | None = None

    @property
    def name(self) -> str:
        return self.section or self.table.name

    def where(self, person: Person) -> sa.ColumnElement[bool] | None:
        parts = [w for f in self.finders if (w := f.where(self.table, person)) is not None]
        return sa.or_(*parts) if parts else None


def _tag_name(table: sa.Table) -> dict[str, Any]:
    return {"tag": sa.select(t.tags.c.name).where(t.tags.c.id == table.c.tag_id)
            .scalar_subquery()}


def _course_name(table: sa.Table) -> dict[str, Any]:
    return {"course": sa.select(t.courses.c.name).where(t.courses.c.id == table.c.course_id)
            .scalar_subquery()}


def _assessment(table: sa.Table) -> dict[str, Any]:
    a, c = t.assessments, t.courses
    return {"assessment": sa.select(a.c.title).where(a.c.id == table.c.assessment_id)
            .scalar_subquery(),
            "course": sa.select(c.c.name).select_from(a.join(c, c.c.id == a.c.course_id))
            .where(a.c.id == table.c.assessment_id).scalar_subquery()}


#: Export order (records first); erasure walks it backwards (dependent rows first).
PERSONAL_TABLES: tuple[PersonalTable, ...] = (
    PersonalTable(
        t.students, "Registro de estudiante",
        "Nombre, teléfono y estado del estudiante: sirven para reconocerlo cuando escribe "
        "por WhatsApp y responderle sobre su propio progreso.",
        (Finder("student", "id"),), Erase.STUDENT),
    PersonalTable(
        t.students, "Cambios de número hacia este número",
        "Estudiantes de quienes WhatsApp avisó que cambiaron a este número (para que el "
        "colegio lo revise).",
        (wa_id("new_wa_id"),), Erase.CLEAR, scrub=("new_wa_id", "number_changed_at"),
        section="students.new_number"),
    PersonalTable(
        t.guardians, "Registro de acudiente",
        "Nombre y teléfono del acudiente, y el estudiante sobre el que preguntó por última "
        "vez (para responder sin volver a preguntar).",
        (Finder("guardian", "id"),)),
    PersonalTable(
        t.guardians, "Consultas de acudientes sobre el estudiante",
        "Acudientes cuya última consulta en curso era sobre este estudiante (se olvida al "
        "borrar sus datos; el registro del acudiente es suyo y se conserva).",
        (student("subject_student_id"),), Erase.CLEAR,
        scrub=("subject_student_id", "subject_chosen_at", "question", "question_at"),
        section="guardians.subject"),
    PersonalTable(
        t.guardian_links, "Vínculos acudiente–estudiante",
        "Qué acudientes pueden consultar a qué estudiantes y qué pueden ver o recibir.",
        (guardian(), student())),
    PersonalTable(
        t.student_tags, "Etiquetas",
        "Grupos o cursos a los que pertenece el estudiante (p. ej. «11A»): deciden qué "
        "docentes pueden ver sus datos.",
        (student(),), Erase.ACADEMIC, shown=_tag_name),
    PersonalTable(
        t.enrollments, "Matrículas en cursos",
        "Cursos en los que está inscrito el estudiante.",
        (student(),), Erase.ACADEMIC, shown=_course_name),
    PersonalTable(
        t.results, "Calificaciones",
        "Notas de las actividades evaluadas, tal como las importó el colegio.",
        (student(),), Erase.ACADEMIC, shown=_assessment),
    PersonalTable(
        t.attendance, "Asistencia",
        "Asistencia por curso y fecha, tal como la importó el colegio.",
        (student(),), Erase.ACADEMIC, shown=_course_name),
    PersonalTable(
        t.inbound_messages, "Mensajes recibidos",
        "Mensajes que la persona envió a EKI por WhatsApp (texto, tipo, referencias a "
        "archivos multimedia y el cuerpo técnico recibido), para responderlos.",
        (student(), wa_id("wa_id"), wa_id("new_wa_id"))),
    PersonalTable(
        t.outbound_messages, "Mensajes enviados",
        "Respuestas y mensajes que EKI o el personal del colegio enviaron a la persona, con "
        "su estado de entrega.",
        (student(), wa_id("to_wa_id"))),
    PersonalTable(
        t.message_statuses, "Estados de entrega",
        "Avisos de WhatsApp de que un mensaje fue enviado, entregado o leído.",
        (wa_id("recipient"), contains("raw"))),
    PersonalTable(
        t.webhook_events, "Cuerpos técnicos de WhatsApp",
        "Copia exacta de lo que WhatsApp entregó a EKI y que menciona el número; se guarda "
        "poco tiempo para diagnosticar fallas.",
        (contains("body"),)),
    PersonalTable(
        t.opt_outs, "Bajas de mensajes",
        "Si la persona pidió no recibir más mensajes (BAJA).",
        (e164("phone"), student())),
    PersonalTable(
        t.handoffs, "Atención por una persona",
        "Veces que la persona pidió hablar con alguien del colegio y quién la atendió.",
        (student(), wa_id("wa_id"))),
    PersonalTable(
        t.llm_usage, "Uso del asistente de IA",
        "Cantidad de texto procesado por el modelo de IA al responderle y su costo (no "
        "contiene los mensajes).",
        (student(),)),
    PersonalTable(
        t.verification_codes, "Códigos de verificación",
        "Códigos para vincular un número nuevo al estudiante (solo se guarda su huella, no "
        "el código).",
        (student(), e164("used_by"))),
    PersonalTable(
        t.import_jobs, "Importaciones con errores",
        "Filas de archivos importados por el colegio que contenían el número y tenían "
        "errores (el archivo de errores).",
        (contains("failed_rows"),), Erase.SCRUB, scrub=("failed_rows",)),
    PersonalTable(
        t.consent_records, "Autorizaciones de tratamiento de datos",
        "Cuándo y cómo autorizó, rechazó o retiró el tratamiento de sus datos y la versión "
        "de la política.",
        (e164("phone"), guardian())),
    PersonalTable(
        t.consent_questions, "Pregunta en espera de autorización",
        "La pregunta hecha antes de aceptar, guardada para responderla después.",
        (e164("phone"),)),
    PersonalTable(
        t.inbox_notes, "Notas internas del colegio",
        "Notas que el personal escribió sobre la conversación (nunca enviadas) y eventos de "
        "la atención (tomada, asignada, devuelta al bot).",
        (student(),)),
    PersonalTable(
        t.inbox_seen, "Lecturas de la conversación por el personal",
        "Cuándo cada persona del colegio leyó por última vez la conversación.",
        (student(),)),
    PersonalTable(
        t.alerts, "Alertas académicas",
        "Avisos enviados a la familia o al estudiante: fallas, entregas próximas y notas "
        "bajas.",
        (student(), e164("recipient"), guardian())),
    PersonalTable(
        t.alert_opt_outs, "Alertas que no quiere recibir",
        "Las alertas que la persona pidió no recibir («no más alertas de …»).",
        (e164("phone"),)),
    PersonalTable(
        t.no_whatsapp, "Número sin WhatsApp",
        "WhatsApp respondió que el número no tiene WhatsApp; no se le envían difusiones.",
        (wa_id("wa_id"),)),
    PersonalTable(
        t.privacy_requests, "Solicitudes de habeas data",
        "Consultas y reclamos que la persona presentó y sus plazos legales.",
        (e164("phone"),), Erase.OWNED),
    PersonalTable(
        t.audit_log, "Accesos a sus datos",
        "Quién del colegio consultó, cambió o exportó los datos de la persona y cuándo "
        "(registro de auditoría; se conserva como prueba, sin el número).",
        (Finder("audit_target"), contains("details")), Erase.SCRUB,
        scrub=("target_id", "details")),
)


def personal_table(name: str) -> PersonalTable:
    return next(p for p in PERSONAL_TABLES if p.name == name)
