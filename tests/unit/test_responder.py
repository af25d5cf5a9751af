"""The rule-based Spanish responder: answers through the student's tools only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from eki_adapters.memory import InMemoryStore
from eki_adapters.system import FixedClock
from eki_domain import PhoneNumber, RegistrationService, Student
from eki_domain.ports.assistant import Assistant, AssistantReply, JsonDict, StudentToolbox, Turn
from eki_domain.services.intents import Intent
from eki_domain.services.responder import (
    RuleBasedAssistant,
    format_decimal,
    format_percent,
    handoff_confirmation,
    media_reply,
    menu_text,
    opt_in_confirmation,
    opt_out_confirmation,
    spanish_date,
    unknown_sender_reply,
    unsupported_reply,
)
from eki_domain.services.tools import StudentTools

MAX_REPLY = 1000

PROFILE: JsonDict = {
    "found": True,
    "name": "Ana Pérez",
    "first_name": "Ana",
    "phone": "+57***4567",
    "active": True,
    "tags": ["grado 10", "coro"],
    "registered_on": "2026-01-15",
}
PROGRESS: JsonDict = {
    "courses": [
        {"course": "Matemáticas", "average": 4.25, "band": "Alto", "passing": True,
         "graded": 5, "total": 8},
        {"course": "Inglés", "average": 2.8, "band": "Bajo", "passing": False,
         "graded": 3, "total": 6},
        {"course": "Sociales", "average": None, "graded": 0, "total": 4},
    ],
    "overall_average": 3.9,
}  # fmt: skip
ATTENDANCE: JsonDict = {
    "courses": [
        {"course": "Matemáticas", "absences": 3, "late": 1, "rate": 0.94},
        {"course": "Inglés", "absences": 1, "excused": 1, "rate": 0.985},
        {"course": "Artes", "absences": 0, "late": 0, "rate": 1.0},
    ],
    "total_absences": 4,
}
PENDING: JsonDict = {
    "pending": [
        {"course": "Inglés", "title": "Essay", "due_date": "2026-03-05"},
        {"course": "Matemáticas", "title": "Taller 3", "due_date": "2026-03-02"},
        {"course": "Sociales", "title": "Exposición", "due_date": None},
        {"course": "Matemáticas", "title": "Quiz 2", "due_date": "2026-02-20"},
        {"course": "Química", "title": "Informe de laboratorio", "due_date": "2026-03-01"},
    ]
}
ALL_TOOLS: dict[str, JsonDict | Exception] = {
    "get_my_profile": PROFILE,
    "get_my_progress": PROGRESS,
    "get_my_attendance": ATTENDANCE,
    "get_my_pending_assignments": PENDING,
}
# 03:00 UTC on 2 March is still Sunday 1 March in Bogotá (UTC-5).
NIGHT = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


class FakeToolbox:
    """A StudentToolbox with canned results that records every call."""

    def __init__(self, results: Mapping[str, JsonDict | Exception]) -> None:
        self._results = dict(results)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def names(self) -> tuple[str, ...]:
        return tuple(self._results)

    async def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> JsonDict:
        self.calls.append((name, dict(arguments or {})))
        result = self._results.get(name)
        if result is None:
            raise ValueError(f"unknown tool {name!r}")
        if isinstance(result, Exception):
            raise result
        return result


def _student(name: str = "ana pérez", phone: str = "3001234567", id_: int = 1) -> Student:
    student = Student.register(
        name, PhoneNumber.parse(phone), registered_at=datetime(2026, 1, 15, tzinfo=UTC)
    )
    student.id = id_
    return student


ANA = _student()


async def ask(
    text: str,
    tools: StudentToolbox | None = None,
    *,
    payload: str | None = None,
    assistant: RuleBasedAssistant | None = None,
) -> AssistantReply:
    toolbox = tools if tools is not None else FakeToolbox(ALL_TOOLS)
    responder = assistant or RuleBasedAssistant(clock=FixedClock(NIGHT))
    reply = await responder.answer(Turn(student=ANA, text=text, payload=payload), toolbox)
    assert reply.text.strip()
    assert len(reply.text) < MAX_REPLY
    assert not re.search(r"^#", reply.text, re.MULTILINE)  # no Markdown headers
    return reply


def test_it_is_an_assistant() -> None:
    assistant: Assistant = RuleBasedAssistant()
    assert hasattr(assistant, "answer")


# -- numbers and dates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(4.3, "4,3"), (4.25, "4,3"), (4.35, "4,4"), (3, "3,0"), ("4.05", "4,1"), (2.849, "2,8")],
)
def test_decimal_comma(value: float | str, expected: str) -> None:
    assert format_decimal(value) == expected


def test_percent_and_dates() -> None:
    assert format_percent(0.94) == "94%"
    assert format_percent(94) == "94%"
    assert format_percent(0.935) == "93,5%"
    assert format_percent(1) == "100%"
    assert spanish_date(datetime(2026, 3, 2).date()) == "lunes 2 de marzo"
    assert spanish_date(datetime(2026, 1, 15).date(), year=True) == "15 de enero de 2026"


# -- progress ---------------------------------------------------------------------------------


async def test_progress_with_a_course_hint() -> None:
    tools = FakeToolbox(ALL_TOOLS)
    reply = await ask("hola, ¿cómo voy en mate? 🙏", tools)
    assert (reply.intent, reply.tools) == ("progreso", ("get_my_progress",))
    assert tools.calls == [("get_my_progress", {"course": "mate"})]
    # The fake returned every course: the answer keeps the one asked about.
    assert "*Matemáticas*: *4,3* (Alto)" in reply.text
    assert "5 de 8" in reply.text
    assert "4.3" not in reply.text and "4.25" not in reply.text
    assert "Inglés" not in reply.text


async def test_progress_for_every_course() -> None:
    tools = FakeToolbox(ALL_TOOLS)
    reply = await ask("mis ntas xfa", tools)
    assert tools.calls == [("get_my_progress", {})]
    assert "Ana" in reply.text
    assert "*Inglés*: *2,8* (Bajo)" in reply.text and "vas perdiendo" in reply.text
    assert "*Sociales*: sin notas todavía" in reply.text
    assert "*Promedio general:* 3,9" in reply.text
    assert "*5*" in reply.text  # the way to an adviser when failing


async def test_progress_by_menu_number_and_payload() -> None:
    for text, payload in (("1", None), ("Mis notas", "progreso"), ("", "PROGRESO")):
        tools = FakeToolbox(ALL_TOOLS)
        reply = await ask(text, tools, payload=payload)
        assert reply.intent == "progreso"
        assert tools.calls == [("get_my_progress", {})]


@pytest.mark.parametrize("result", [{}, {"courses": []}, {"courses": "nope"}, {"courses": [1]}])
async def test_progress_without_grades(result: JsonDict) -> None:
    reply = await ask("notas", FakeToolbox({"get_my_progress": result}))
    assert "Todavía no tengo notas registradas para ti" in reply.text
    assert reply.tools == ("get_my_progress",)


async def test_progress_with_missing_keys() -> None:
    result: JsonDict = {"courses": [{"course": "Inglés"}, {"name": "Artes", "average": "4,5"}]}
    reply = await ask("promedio", FakeToolbox({"get_my_progress": result}))
    assert "*Inglés*: sin notas todavía" in reply.text
    assert "*Artes*: *4,5*" in reply.text
    assert "Promedio general" not in reply.text


async def test_progress_for_an_unknown_course() -> None:
    reply = await ask("como voy en astronomía", FakeToolbox({"get_my_progress": {"courses": []}}))
    assert "No encontré la materia *astronomía*" in reply.text
    listed = FakeToolbox(
        {"get_my_progress": {"courses": [], "available_courses": ["Matemáticas", "Inglés"]}}
    )
    reply = await ask("como voy en astronomía", listed)
    assert "Matemáticas, Inglés" in reply.text
    refused = FakeToolbox({"get_my_progress": ValueError("no course 'astronomía'")})
    reply = await ask("como voy en astronomía", refused)
    assert "No encontré la materia *astronomía*" in reply.text
    assert reply.tools == ("get_my_progress",)


async def test_progress_tool_not_loaded_yet() -> None:
    tools = FakeToolbox({"get_my_profile": PROFILE})
    reply = await ask("¿cómo voy?", tools)
    assert reply.intent == "progreso" and reply.tools == () and tools.calls == []
    assert "todavía no ha cargado las notas" in reply.text


async def test_other_tool_errors_propagate() -> None:
    tools = FakeToolbox({"get_my_progress": RuntimeError("database down")})
    with pytest.raises(RuntimeError):
        await ask("notas", tools)


# -- attendance -------------------------------------------------------------------------------


async def test_attendance() -> None:
    tools = FakeToolbox(ALL_TOOLS)
    reply = await ask("cuantas fltas llevo", tools)
    assert (reply.intent, reply.tools) == ("asistencia", ("get_my_attendance",))
    assert tools.calls == [("get_my_attendance", {})]
    assert "*Matemáticas*: 3 fallas, 1 llegada tarde · asistencia 94%" in reply.text
    assert "*Inglés*: 1 falla (1 con excusa) · asistencia 98,5%" in reply.text
    assert "*Artes*: sin fallas" in reply.text
    assert "*Total:* 4 fallas" in reply.text


async def test_attendance_for_one_course_and_perfect_attendance() -> None:
    tools = FakeToolbox(
        {"get_my_attendance": {"courses": [{"course": "Inglés", "absences": 0}],
                               "total_absences": 0}}
    )  # fmt: skip
    reply = await ask("fallas de inglés", tools)
    assert tools.calls == [("get_my_attendance", {"course": "inglés"})]
    assert "no tienes fallas" in reply.text


async def test_attendance_empty_and_not_loaded() -> None:
    reply = await ask("asistencia", FakeToolbox({"get_my_attendance": {}}))
    assert "Todavía no tengo registros de asistencia para ti" in reply.text
    reply = await ask("asistencia", FakeToolbox({}))
    assert "todavía no ha cargado los registros de asistencia" in reply.text
    assert reply.tools == ()


# -- pending work -----------------------------------------------------------------------------


async def test_pending_sorted_with_relative_dates_in_colombian_time() -> None:
    tools = FakeToolbox(ALL_TOOLS)
    reply = await ask("qué tengo pendiente?", tools)
    assert (reply.intent, reply.tools) == ("pendientes", ("get_my_pending_assignments",))
    assert tools.calls == [("get_my_pending_assignments", {})]
    lines = reply.text.splitlines()
    assert lines[0] == "📝 *Tienes 5 pendientes*, Ana"
    assert lines[1] == "• *Matemáticas*: Quiz 2 · venció el viernes 20 de febrero"
    assert lines[2] == "• *Química*: Informe de laboratorio · entrega *hoy*"
    assert lines[3] == "• *Matemáticas*: Taller 3 · entrega *mañana*"
    assert lines[4] == "• *Inglés*: Essay · entrega el jueves 5 de marzo"
    assert lines[5] == "• *Sociales*: Exposición · sin fecha"


async def test_pending_without_a_clock_gives_plain_dates() -> None:
    reply = await ask("tareas", assistant=RuleBasedAssistant())
    assert "entrega el lunes 2 de marzo" in reply.text
    assert "mañana" not in reply.text


async def test_pending_filtered_by_course_hint() -> None:
    tools = FakeToolbox(ALL_TOOLS)
    reply = await ask("q tareas tengo de mate", tools)
    assert tools.calls == [("get_my_pending_assignments", {})]  # the tool takes no course
    assert "Tienes 2 pendientes" in reply.text
    assert "Taller 3" in reply.text and "Essay" not in reply.text
    reply = await ask("tareas de artes", FakeToolbox(ALL_TOOLS))
    assert "No tienes pendientes en *artes*" in reply.text
    assert "5 pendientes" in reply.text


async def test_nothing_pending() -> None:
    reply = await ask("pendientez", FakeToolbox({"get_my_pending_assignments": {"pending": []}}))
    assert "¡Estás al día, Ana!" in reply.text
    reply = await ask("pendientes", FakeToolbox({}))
    assert "todavía no ha cargado las tareas" in reply.text


# -- profile and the rest ---------------------------------------------------------------------


async def test_profile() -> None:
    tools = FakeToolbox(ALL_TOOLS)
    reply = await ask("mis datos", tools)
    assert (reply.intent, reply.tools) == ("mis_datos", ("get_my_profile",))
    assert tools.calls == [("get_my_profile", {})]
    assert "Ana Pérez" in reply.text
    assert "+57•••4567" in reply.text and "3001234567" not in reply.text
    assert "grado 10, coro" in reply.text
    assert "15 de enero de 2026" in reply.text


async def test_profile_not_found() -> None:
    reply = await ask("quien soy", FakeToolbox({"get_my_profile": {"found": False}}))
    assert "No encontré tu registro" in reply.text


async def test_greeting_uses_the_first_name_and_shows_the_menu() -> None:
    tools = FakeToolbox(ALL_TOOLS)
    reply = await ask("holaaa 👋", tools)
    assert (reply.intent, reply.tools) == ("saludo", ())
    assert reply.text.startswith("¡Hola, Ana!")  # stored as "ana pérez"
    assert "*5* Hablar con un asesor" in reply.text
    assert tools.calls == []


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("ayuda", Intent.AYUDA, "¿En qué te ayudo, Ana?"),
        ("asdkjh", Intent.DESCONOCIDO, "no te entendí"),
        ("mate", Intent.DESCONOCIDO, "*1* Notas y promedio"),
        ("gracias 🙏", Intent.GRACIAS, "Con mucho gusto, Ana"),
        ("chao", Intent.DESPEDIDA, "Chao, Ana"),
        ("BAJA", Intent.OPT_OUT, "*BAJA*"),
        ("ALTA", Intent.OPT_IN, opt_in_confirmation()),
        ("quiero hablar con un asesor", Intent.HUMANO, handoff_confirmation()),
    ],
)
async def test_other_intents(text: str, intent: Intent, expected: str) -> None:
    tools = FakeToolbox(ALL_TOOLS)
    reply = await ask(text, tools)
    assert reply.intent == str(intent)
    assert expected in reply.text
    assert reply.tools == () and tools.calls == []


async def test_long_lists_stay_short() -> None:
    many: dict[str, JsonDict | Exception] = {
        "get_my_progress": {
            "courses": [
                {"course": f"Materia con un nombre largo {i}", "average": 3.5, "band": "Básico",
                 "passing": True, "graded": 10, "total": 30}
                for i in range(40)
            ]
        },
        "get_my_pending_assignments": {
            "pending": [
                {"course": f"Materia {i}", "title": "Actividad " + "x" * 200,
                 "due_date": "2026-03-10"}
                for i in range(60)
            ]
        },
    }  # fmt: skip
    for text in ("notas", "pendientes"):
        reply = await ask(text, FakeToolbox(many))
        assert "más." in reply.text


# -- fixed texts ------------------------------------------------------------------------------


def test_fixed_texts() -> None:
    unknown = unknown_sender_reply()
    assert "secretaría" in unknown and "registr" in unknown
    assert "ALTA" in opt_out_confirmation()
    assert "menú" in opt_in_confirmation()
    assert "persona" in handoff_confirmation()
    assert "menú" in unsupported_reply()
    assert menu_text().startswith("¿En qué te ayudo?")
    assert menu_text("Ana").startswith("¿En qué te ayudo, Ana?")
    for number in "12345":
        assert f"*{number}* " in menu_text()


@pytest.mark.parametrize(
    ("kind", "is_voice", "expected"),
    [
        ("audio", True, "notas de voz"),
        ("audio", False, "audios"),
        ("image", False, "imagen"),
        ("video", False, "video"),
        ("document", False, "archivo"),
        ("sticker", False, "sticker"),
        ("location", False, "ubicación"),
        ("contacts", False, "contacto"),
        ("reaction", False, "Ese tipo de mensaje"),
    ],
)
def test_media_replies(kind: str, is_voice: bool, expected: str) -> None:
    text = media_reply(kind, is_voice)
    assert expected in text
    assert "menú" in text
    assert len(text) < 400


# -- with the real tools over the in-memory adapters ------------------------------------------

QUESTIONS = [
    "hola", "notas", "¿cómo voy en mate?", "fallas", "pendientes", "mis datos", "ayuda",
    "gracias", "chao", "xyz", "1", "2", "3", "4", "5", "BAJA", "ALTA", "asesor",
]  # fmt: skip


async def test_real_tools_never_show_another_students_data() -> None:
    store = InMemoryStore()
    registry = RegistrationService(store.uow, FixedClock())
    ana = await registry.register("Ana Pérez", "3001234567", tags=["grado 10"])
    bruno = await registry.register("Bruno Díaz", "3109876543", tags=["grado 11"])
    assert ana.id is not None
    tools = StudentTools(ana.id, store.uow)
    assistant = RuleBasedAssistant(clock=FixedClock())
    secrets = ("Bruno", "Díaz", "3109876543", bruno.phone.e164, bruno.phone.masked, "grado 11")
    for text in QUESTIONS:
        reply = await assistant.answer(Turn(student=ana, text=text), tools)
        assert not [secret for secret in secrets if secret in reply.text], text
        assert len(reply.text) < MAX_REPLY
    profile = await assistant.answer(Turn(student=ana, text="mis datos"), tools)
    assert profile.tools == ("get_my_profile",)
    assert "Ana Pérez" in profile.text and "grado 10" in profile.text
    assert "+57•••4567" in profile.text
    # Today the school has loaded no grades: the responder says so instead of inventing.
    progress = await assistant.answer(Turn(student=ana, text="¿cómo voy?"), tools)
    assert progress.tools == () and "todavía no ha cargado las notas" in progress.text


async def test_real_tools_with_a_registered_progress_tool() -> None:
    store = InMemoryStore()
    registry = RegistrationService(store.uow, FixedClock())
    ana = await registry.register("Ana Pérez", "3001234567")
    assert ana.id is not None
    tools = StudentTools(ana.id, store.uow)
    seen: list[str | None] = []

    async def get_my_progress(course: str | None = None, period: str | None = None) -> JsonDict:
        seen.append(course)
        if course is not None and not "matemáticas".startswith(course):
            raise ValueError(f"No encontré la materia {course!r}")
        return {"courses": [{"course": "Matemáticas", "average": 4.3, "band": "Alto",
                             "passing": True, "graded": 5, "total": 8}],
                "overall_average": 4.3}  # fmt: skip

    tools.register("get_my_progress", get_my_progress)
    assistant = RuleBasedAssistant()
    reply = await assistant.answer(Turn(student=ana, text="como voy en mate"), tools)
    assert reply.tools == ("get_my_progress",)
    assert "*Matemáticas*: *4,3* (Alto)" in reply.text
    reply = await assistant.answer(Turn(student=ana, text="notas de física"), tools)
    assert "No encontré la materia *física*" in reply.text
    assert seen == ["mate", "física"]


async def test_attendance_of_a_course_with_no_sessions_says_so() -> None:
    from eki_domain.services.responder import RuleBasedAssistant as _Assistant

    class _Tools:
        def names(self) -> tuple[str, ...]:
            return ("get_my_profile", "get_my_attendance")

        async def call(self, name, arguments=None):  # type: ignore[no-untyped-def]
            if name == "get_my_profile":
                return {"found": True, "name": "Ana Pérez", "first_name": "Ana"}
            return {"courses": [{"course": "Artes", "sessions": 0, "absences": 0, "late": 0,
                                 "excused": 0, "rate": None}], "total_absences": 0}

    from eki_adapters.system import FixedClock
    from eki_domain import PhoneNumber, Student
    from eki_domain.ports.assistant import Turn

    student = Student.register("Ana Pérez", PhoneNumber.parse("3001234567"),
                               registered_at=FixedClock().now())
    reply = await _Assistant().answer(Turn(student=student, text="cuántas fallas llevo"),
                                      _Tools())
    assert "aún no hay asistencia registrada" in reply.text
    assert "no tienes fallas" not in reply.text
