"""The student's progress tools over a fake progress repository, their schemas, and the
rule-based responder answering the four questions through them."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any

import pytest

from eki_adapters.cache import TTLReportCache
from eki_adapters.openai import chat_completions_tool
from eki_adapters.system import FixedClock
from eki_domain import PhoneNumber, Student
from eki_domain.model.progress import (
    Assessment,
    AttendanceRecord,
    AttendanceStatus,
    Band,
    Course,
    GradingScale,
    Result,
    ResultStatus,
    StudentRecordBook,
)
from eki_domain.ports.assistant import JsonDict, Turn
from eki_domain.services.progress import ProgressService
from eki_domain.services.responder import RuleBasedAssistant
from eki_domain.services.tools import TOOL_SCHEMAS, StudentTools

# Tuesday 10 March 2026, 09:00 in Bogotá.
NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
ANA_ID = 1
BRUNO_ID = 2

P, A, L, E = (
    AttendanceStatus.PRESENT,
    AttendanceStatus.ABSENT,
    AttendanceStatus.LATE,
    AttendanceStatus.EXCUSED,
)


def _results(*pairs: tuple[int, float | ResultStatus]) -> tuple[Result, ...]:
    out = []
    for assessment_id, value in pairs:
        if isinstance(value, ResultStatus):
            out.append(Result(assessment_id, value))
        else:
            out.append(Result(assessment_id, ResultStatus.GRADED, value))
    return tuple(out)


def _attendance(course_id: int, statuses: str) -> list[AttendanceRecord]:
    codes = {"P": P, "A": A, "L": L, "E": E}
    return [
        AttendanceRecord(course_id, date(2026, 2, day + 1), codes[code])
        for day, code in enumerate(statuses)
    ]


ANA_BOOK = StudentRecordBook(
    courses=(
        Course(1, "Matemáticas", "MAT", "P1"),
        Course(2, "Inglés", None, "P1"),
        Course(3, "Ciencias Sociales", None, "P1"),
        Course(4, "Educación Física", None, "P1"),
    ),
    assessments=(
        Assessment(1, 1, "Quiz 1", max_score=50, weight=30, due_date=date(2026, 2, 10)),
        Assessment(2, 1, "Taller 2", weight=30, due_date=date(2026, 2, 24)),
        Assessment(3, 1, "Taller 3", weight=40, due_date=date(2026, 3, 12)),
        Assessment(4, 2, "Essay", due_date=date(2026, 3, 5)),
        Assessment(5, 2, "Listening", due_date=date(2026, 2, 5)),
        Assessment(6, 2, "Speaking", due_date=date(2026, 3, 11)),
        Assessment(7, 3, "Exposición"),
        Assessment(8, 4, "Prueba física", due_date=date(2026, 2, 1)),
    ),
    results=_results(
        (1, 45),
        (2, 4.0),
        (3, ResultStatus.PENDING),
        (4, ResultStatus.PENDING),
        (5, 2.5),
        (8, ResultStatus.EXCUSED),
    ),
    attendance=tuple(_attendance(1, "PPPPAPLP") + _attendance(2, "PAAEPPPPPP")),
)
BRUNO_BOOK = StudentRecordBook(
    courses=(Course(9, "Química", None, "P1"),),
    assessments=(Assessment(90, 9, "Laboratorio secreto"),),
    results=_results((90, 1.2)),
    attendance=tuple(_attendance(9, "AAAA")),
)


class FakeProgressRepository:
    """Only what the tools read: record books (the port's single read)."""

    def __init__(self, books: dict[int, StudentRecordBook]) -> None:
        self.books = books
        self.loads = 0

    async def record_book(self, student_id: int) -> StudentRecordBook:
        self.loads += 1
        return self.books.get(student_id, StudentRecordBook((), (), (), ()))


class FakeStudents:
    def __init__(self, students: dict[int, Student]) -> None:
        self._students = students

    async def get(self, student_id: int) -> Student | None:
        return self._students.get(student_id)


def _student(name: str, phone: str, id_: int) -> Student:
    student = Student.register(
        name, PhoneNumber.parse(phone), registered_at=datetime(2026, 1, 15, tzinfo=UTC)
    )
    student.id = id_
    return student


ANA = _student("Ana Pérez", "3001234567", ANA_ID)
BRUNO = _student("Bruno Díaz", "3109876543", BRUNO_ID)


class FakeUnitOfWork:
    def __init__(self, progress: FakeProgressRepository) -> None:
        self.progress = progress
        self.students = FakeStudents({ANA_ID: ANA, BRUNO_ID: BRUNO})

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


def make_tools(
    books: dict[int, StudentRecordBook] | None = None,
    *,
    student_id: int = ANA_ID,
    scale: GradingScale | None = None,
    cache: TTLReportCache | None = None,
) -> tuple[StudentTools, FakeProgressRepository]:
    repo = FakeProgressRepository(
        books if books is not None else {ANA_ID: ANA_BOOK, BRUNO_ID: BRUNO_BOOK}
    )
    uow = FakeUnitOfWork(repo)

    def factory() -> Any:
        return uow

    kwargs: dict[str, Any] = {"cache": cache}
    if scale is not None:
        kwargs["scale"] = scale
    progress = ProgressService(factory, FixedClock(NOW), **kwargs)
    return StudentTools(student_id, factory, progress), repo


async def call(tools: StudentTools, name: str, **arguments: Any) -> JsonDict:
    result = await tools.call(name, arguments)
    assert json.loads(json.dumps(result)) == result  # JSON-able
    return result


PROGRESS_TOOLS = (
    "get_my_progress",
    "get_my_grades",
    "get_my_attendance",
    "get_my_pending_assignments",
)


# -- registration -----------------------------------------------------------------------------


def test_progress_tools_are_registered_only_with_a_service() -> None:
    without = StudentTools(ANA_ID, lambda: FakeUnitOfWork(FakeProgressRepository({})))  # type: ignore[arg-type,return-value]
    assert without.names() == ("get_my_profile",)
    assert [s.name for s in without.schemas()] == ["get_my_profile"]
    tools, _ = make_tools()
    assert tools.names() == ("get_my_profile", *PROGRESS_TOOLS)
    assert [s.name for s in tools.schemas()] == list(tools.names())


async def test_profile_is_unchanged() -> None:
    tools, _ = make_tools()
    profile = await call(tools, "get_my_profile")
    assert profile["name"] == "Ana Pérez" and profile["found"] is True


# -- get_my_progress --------------------------------------------------------------------------


async def test_progress_for_every_course() -> None:
    tools, _ = make_tools()
    result = await call(tools, "get_my_progress")
    assert result["courses"] == [
        {"course": "Ciencias Sociales", "average": None, "band": None, "passing": None,
         "graded": 0, "total": 1},
        {"course": "Educación Física", "average": None, "band": None, "passing": None,
         "graded": 0, "total": 0},
        {"course": "Inglés", "average": 2.5, "band": "Bajo", "passing": False,
         "graded": 1, "total": 3},
        # Quiz 1 is 45/50 → 4.5, Taller 2 4.0, weights 30/30: 4.25 → 4.3
        {"course": "Matemáticas", "average": 4.3, "band": "Alto", "passing": True,
         "graded": 2, "total": 3},
    ]  # fmt: skip
    assert result["period"] == "P1"  # one period for every course: said once
    assert result["overall_average"] == 3.4  # (2.5 + 4.3) / 2
    assert result["scale"] == {"min": 1.0, "max": 5.0, "passing": 3.0}
    assert "course" not in result


async def test_progress_for_a_course_matched_loosely() -> None:
    tools, _ = make_tools()
    result = await call(tools, "get_my_progress", course="mate")
    assert [c["course"] for c in result["courses"]] == ["Matemáticas"]
    assert result["course"] == "Matemáticas"
    assert result["overall_average"] == 4.3
    assert (await call(tools, "get_my_progress", course="sociales"))["course"] == (
        "Ciencias Sociales"
    )
    assert (await call(tools, "get_my_progress", course="  "))["courses"]  # blank: all


async def test_progress_for_an_unknown_course_lists_the_available_ones() -> None:
    tools, _ = make_tools()
    assert await call(tools, "get_my_progress", course="astronomía") == {
        "courses": [],
        "available_courses": [
            "Ciencias Sociales", "Educación Física", "Inglés", "Matemáticas",
        ],
    }  # fmt: skip


async def test_progress_by_period() -> None:
    tools, _ = make_tools()
    result = await call(tools, "get_my_progress", period="p1")
    assert result["period"] == "p1" and len(result["courses"]) == 4
    assert await call(tools, "get_my_progress", period="P4") == {
        "courses": [],
        "period": "P4",
        "available_periods": ["P1"],
    }


async def test_progress_without_data() -> None:
    tools, _ = make_tools({})
    assert await call(tools, "get_my_progress") == {
        "courses": [],
        "overall_average": None,
        "scale": {"min": 1.0, "max": 5.0, "passing": 3.0},
    }


async def test_a_custom_scale() -> None:
    scale = GradingScale(
        minimum=0, maximum=100, passing=60, decimals=0,
        bands=(Band("Alto", 80, 100), Band("Medio", 60, 79), Band("Bajo", 0, 59)),
    )  # fmt: skip
    tools, _ = make_tools(scale=scale)
    result = await call(tools, "get_my_progress", course="mate")
    # 45/50 → 90, 4.0 of 100 → 4, weights 30/30 → 47
    mate = result["courses"][0]
    assert (mate["average"], mate["band"], mate["passing"]) == (47, "Bajo", False)
    assert result["scale"] == {"min": 0, "max": 100, "passing": 60}
    grades = await call(tools, "get_my_grades", course="mate")
    assert grades["courses"][0]["grades"][0] == {
        "title": "Quiz 1", "status": "graded", "score": 90, "raw_score": 45, "max_score": 50,
        "weight": 30.0, "due_date": "2026-02-10",
    }  # fmt: skip


# -- get_my_grades ----------------------------------------------------------------------------


async def test_grades_of_a_course() -> None:
    tools, _ = make_tools()
    result = await call(tools, "get_my_grades", course="matematicas")
    (mate,) = result["courses"]
    assert mate["grades"] == [
        {"title": "Quiz 1", "status": "graded", "score": 4.5, "raw_score": 45,
         "max_score": 50, "weight": 30.0, "due_date": "2026-02-10"},
        {"title": "Taller 2", "status": "graded", "score": 4.0, "weight": 30.0,
         "due_date": "2026-02-24"},
        {"title": "Taller 3", "status": "pending", "weight": 40.0, "due_date": "2026-03-12"},
    ]  # fmt: skip
    assert mate["average"] == 4.3
    physical = (await call(tools, "get_my_grades", course="edu fisica"))["courses"][0]
    assert physical["grades"] == [
        {"title": "Prueba física", "status": "excused", "due_date": "2026-02-01"}
    ]


async def test_grades_of_every_course_show_the_latest_graded_ones() -> None:
    many = StudentRecordBook(
        courses=(Course(1, "Matemáticas"),),
        assessments=tuple(
            Assessment(i, 1, f"Quiz {i}", due_date=date(2026, 2, i)) for i in range(1, 15)
        ),
        results=_results(*[(i, 4.0) for i in range(1, 13)]),
        attendance=(),
    )
    tools, _ = make_tools({ANA_ID: many})
    (mate,) = (await call(tools, "get_my_grades"))["courses"]
    assert [g["title"] for g in mate["grades"]] == [f"Quiz {i}" for i in range(12, 2, -1)]
    assert mate["more_graded"] == 2
    assert all(g["status"] == "graded" for g in mate["grades"])
    full = (await call(tools, "get_my_grades", course="mate"))["courses"][0]
    assert len(full["grades"]) == 14 and "more_graded" not in full


async def test_grades_of_an_unknown_course() -> None:
    tools, _ = make_tools()
    result = await call(tools, "get_my_grades", course="latín")
    assert result["courses"] == [] and "Inglés" in result["available_courses"]


# -- get_my_attendance ------------------------------------------------------------------------


async def test_attendance_of_every_course() -> None:
    tools, _ = make_tools()
    result = await call(tools, "get_my_attendance")
    assert result == {
        "courses": [
            # 7 attended of 9 counted sessions (the excused one is left out)
            {"course": "Inglés", "absences": 3, "unexcused": 2, "excused": 1, "late": 0,
             "sessions": 10, "rate": 0.778},
            {"course": "Matemáticas", "absences": 1, "unexcused": 1, "excused": 0, "late": 1,
             "sessions": 8, "rate": 0.875},
        ],
        "total_absences": 4,
        "total_unexcused": 3,
        "total_late": 1,
        "total_excused": 1,
        "rate": 0.824,  # 14 / 17
        "period": "P1",
    }  # fmt: skip


async def test_attendance_of_one_course_even_without_sessions() -> None:
    tools, _ = make_tools()
    result = await call(tools, "get_my_attendance", course="ingles")
    assert [c["course"] for c in result["courses"]] == ["Inglés"]
    assert (result["course"], result["total_absences"]) == ("Inglés", 3)
    sociales = await call(tools, "get_my_attendance", course="sociales")
    only = sociales["courses"][0]
    assert (only["sessions"], only["rate"], only["absences"]) == (0, None, 0)
    assert (sociales["total_absences"], sociales["rate"]) == (0, None)


async def test_attendance_unknown_course_and_nothing_loaded() -> None:
    tools, _ = make_tools()
    result = await call(tools, "get_my_attendance", course="robótica")
    assert result["courses"] == [] and "total_absences" not in result
    assert result["available_courses"]
    empty, _ = make_tools({ANA_ID: BRUNO_BOOK.__class__((Course(1, "Artes"),), (), (), ())})
    assert await call(empty, "get_my_attendance") == {"courses": []}


# -- get_my_pending_assignments ---------------------------------------------------------------


async def test_pending_assignments() -> None:
    tools, _ = make_tools()
    result = await call(tools, "get_my_pending_assignments")
    assert result == {
        "pending": [
            {"course": "Inglés", "title": "Speaking", "due_date": "2026-03-11"},
            {"course": "Matemáticas", "title": "Taller 3", "due_date": "2026-03-12"},
            {"course": "Ciencias Sociales", "title": "Exposición", "due_date": None},
            {"course": "Inglés", "title": "Essay", "due_date": "2026-03-05", "overdue": True},
        ],
        "total": 4,
    }


async def test_pending_is_capped() -> None:
    many = StudentRecordBook(
        courses=tuple(Course(c, f"Materia {c}") for c in range(1, 6)),
        assessments=tuple(
            Assessment(c * 10 + i, c, f"Tarea {i}", due_date=date(2026, 4, i))
            for c in range(1, 6)
            for i in range(1, 9)
        ),
        results=(),
        attendance=(),
    )
    tools, _ = make_tools({ANA_ID: many})
    result = await call(tools, "get_my_pending_assignments")
    assert len(result["pending"]) == 15
    assert result["total"] == 40
    dates = [item["due_date"] for item in result["pending"]]
    assert dates == sorted(dates)


# -- arguments, identity and caching ----------------------------------------------------------


async def test_bad_arguments_are_value_errors() -> None:
    tools, _ = make_tools()
    with pytest.raises(ValueError, match="bad arguments"):
        await tools.call("get_my_progress", {"student_id": BRUNO_ID})
    with pytest.raises(ValueError, match="bad arguments"):
        await tools.call("get_my_pending_assignments", {"course": "mate"})
    with pytest.raises(ValueError, match="course must be text"):
        await tools.call("get_my_grades", {"course": 3})
    with pytest.raises(ValueError, match="period must be text"):
        await tools.call("get_my_progress", {"period": ["P1"]})


async def test_tools_only_see_their_own_student() -> None:
    tools, _ = make_tools()
    for name in PROGRESS_TOOLS:
        text = json.dumps(await call(tools, name), ensure_ascii=False)
        assert "Química" not in text and "secreto" not in text
    bruno, _ = make_tools(student_id=BRUNO_ID)
    assert (await call(bruno, "get_my_progress"))["courses"][0]["course"] == "Química"


async def test_tools_share_the_cached_report() -> None:
    tools, repo = make_tools(cache=TTLReportCache())
    await call(tools, "get_my_progress")
    await call(tools, "get_my_attendance")
    await call(tools, "get_my_pending_assignments")
    await call(tools, "get_my_grades")
    assert repo.loads == 1
    await call(tools, "get_my_progress", course="mate")
    await call(tools, "get_my_grades", course="MATE")
    assert repo.loads == 2


# -- schemas ----------------------------------------------------------------------------------


def test_tool_schemas_are_strict_and_match_the_functions() -> None:
    tools, _ = make_tools()
    assert set(TOOL_SCHEMAS) == set(tools.names())
    for name, spec in TOOL_SCHEMAS.items():
        schema = chat_completions_tool(spec)  # what the OpenAI adapter sends
        assert schema["type"] == "function"
        function = schema["function"]
        assert function["name"] == name
        assert function["strict"] is True
        assert len(function["description"]) > 40
        parameters = function["parameters"]
        assert parameters["type"] == "object"
        assert parameters["additionalProperties"] is False
        assert parameters["required"] == list(parameters["properties"])
        for prop in parameters["properties"].values():
            assert prop["type"] == ["string", "null"]
        method = getattr(tools, name)
        assert list(inspect.signature(method).parameters) == list(parameters["properties"])
        assert not {"student", "student_id", "phone"} & set(parameters["properties"])
        json.dumps(schema)
    assert list(TOOL_SCHEMAS["get_my_progress"].parameters["properties"]) == [
        "course",
        "period",
    ]


# -- the rule-based responder answers the four questions with these tools --------------------


async def ask(text: str) -> str:
    tools, _ = make_tools()
    reply = await RuleBasedAssistant(clock=FixedClock(NOW)).answer(
        Turn(student=ANA, text=text), tools
    )
    return reply.text


async def test_responder_como_voy() -> None:
    text = await ask("¿cómo voy?")
    assert "*Matemáticas*: *4,3* (Alto)" in text
    assert "*Inglés*: *2,5* (Bajo)" in text and "vas perdiendo" in text
    assert "*Promedio general:* 3,4" in text


async def test_responder_cuanto_tengo_en_matematicas() -> None:
    text = await ask("¿cuánto tengo en matemáticas?")
    assert "Matemáticas" in text and "4,3" in text and "Inglés" not in text
    text = await ask("como voy en mate")
    assert "4,3" in text and "Inglés" not in text
    unknown = await ask("como voy en astronomia")
    assert "No encontré la materia" in unknown and "Matemáticas" in unknown


async def test_responder_cuantas_fallas_llevo() -> None:
    text = await ask("¿cuántas fallas llevo?")
    assert "*Inglés*: 3 fallas (1 con excusa) · asistencia 77,8%" in text
    assert "*Matemáticas*: 1 falla, 1 llegada tarde · asistencia 87,5%" in text
    assert "*Total:* 4 fallas" in text


async def test_responder_que_tengo_pendiente() -> None:
    text = await ask("¿qué tengo pendiente?")
    assert "Tienes 4 pendientes" in text
    assert "Speaking · entrega *mañana*" in text
    assert "Essay · venció el jueves 5 de marzo" in text
    assert "Exposición · sin fecha" in text
