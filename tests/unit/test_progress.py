"""The progress report: weighted averages, rescaling, bands, pending work, attendance,
filters, course matching, and the (cached) service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from types import TracebackType

import attrs
import pytest

from eki_adapters.cache import TTLReportCache
from eki_adapters.system import FixedClock
from eki_domain.model.progress import (
    DEFAULT_SCALE,
    Assessment,
    AttendanceRecord,
    AttendanceStatus,
    Band,
    Course,
    CourseProgress,
    GradingScale,
    ProgressReport,
    Result,
    ResultStatus,
    StudentRecordBook,
    effective_weights,
)
from eki_domain.services.progress import (
    ProgressService,
    build_report,
    match_course,
    report_to_dict,
)

# -- builders ---------------------------------------------------------------------------------

TODAY = date(2026, 3, 10)


def course(id_: int, name: str, period: str | None = None, code: str | None = None) -> Course:
    return Course(id=id_, name=name, code=code, period=period)


def task(
    id_: int,
    course_id: int,
    title: str | None = None,
    *,
    max_score: float | None = None,
    weight: float | None = None,
    due: date | None = None,
    period: str | None = None,
) -> Assessment:
    return Assessment(
        id=id_,
        course_id=course_id,
        title=title or f"Actividad {id_}",
        max_score=max_score,
        weight=weight,
        due_date=due,
        period=period,
    )


def graded(assessment_id: int, score: float) -> Result:
    return Result(assessment_id, ResultStatus.GRADED, score)


def pending(assessment_id: int) -> Result:
    return Result(assessment_id, ResultStatus.PENDING)


def excused(assessment_id: int) -> Result:
    return Result(assessment_id, ResultStatus.EXCUSED)


def seen(course_id: int, day: int, status: AttendanceStatus) -> AttendanceRecord:
    return AttendanceRecord(course_id, date(2026, 2, day), status)


def book(
    courses: Sequence[Course],
    assessments: Sequence[Assessment] = (),
    results: Sequence[Result] = (),
    attendance: Sequence[AttendanceRecord] = (),
) -> StudentRecordBook:
    return StudentRecordBook(tuple(courses), tuple(assessments), tuple(results), tuple(attendance))


def only(report: ProgressReport) -> CourseProgress:
    assert len(report.courses) == 1
    return report.courses[0]


MATE = course(1, "Matemáticas")


def one_course(
    assessments: Sequence[Assessment],
    results: Sequence[Result] = (),
    attendance: Sequence[AttendanceRecord] = (),
    scale: GradingScale = DEFAULT_SCALE,
) -> CourseProgress:
    return only(build_report(book([MATE], assessments, results, attendance), scale, today=TODAY))


# -- weighted averages ------------------------------------------------------------------------


def test_given_weights() -> None:
    progress = one_course(
        [task(1, 1, weight=30), task(2, 1, weight=70)], [graded(1, 4.0), graded(2, 5.0)]
    )
    assert progress.average == 4.7  # 0.3 * 4 + 0.7 * 5
    assert (progress.band, progress.passing) == ("Superior", True)
    assert (progress.graded, progress.total) == (2, 2)
    assert [line.weight for line in progress.grades] == [30, 70]


def test_missing_weights_share_what_is_left() -> None:
    progress = one_course(
        [task(1, 1, weight=50), task(2, 1), task(3, 1)],
        [graded(1, 3.0), graded(2, 4.0), graded(3, 5.0)],
    )
    assert [line.weight for line in progress.grades] == [50, 25, 25]
    assert progress.average == 3.8  # 1.5 + 1.0 + 1.25 = 3.75 → 3.8 (half up)
    assert progress.band == "Básico"


def test_no_weights_count_equally() -> None:
    progress = one_course(
        [task(1, 1), task(2, 1), task(3, 1)], [graded(1, 3.0), graded(2, 4.0), graded(3, 4.5)]
    )
    assert progress.average == 3.8  # 11.5 / 3 = 3.83


def test_the_average_is_what_has_been_graded_so_far() -> None:
    progress = one_course(
        [task(1, 1, weight=40), task(2, 1, weight=60), task(3, 1)],
        [graded(1, 4.0), pending(2)],
    )
    assert progress.average == 4.0
    assert (progress.graded, progress.total, progress.pending_count) == (1, 3, 2)


def test_nothing_graded_has_no_average() -> None:
    progress = one_course([task(1, 1), task(2, 1)], [pending(1)])
    assert (progress.average, progress.band, progress.passing) == (None, None, None)
    assert (progress.graded, progress.total) == (0, 2)


def test_graded_results_that_weigh_nothing_give_no_average() -> None:
    progress = one_course([task(1, 1, weight=100), task(2, 1)], [graded(2, 4.0)])
    assert progress.average is None
    assert progress.graded == 1


def test_effective_weights() -> None:
    assert effective_weights([]) == {}
    assert effective_weights([task(1, 1), task(2, 1)]) == {1: 50, 2: 50}
    # an explicit 0 counts 0; a negative one is read as missing
    assert effective_weights([task(1, 1, weight=0), task(2, 1), task(3, 1, weight=-5)]) == {
        1: 0,
        2: 50,
        3: 50,
    }
    assert effective_weights([task(1, 1, weight=0), task(2, 1, weight=0)]) == {1: 50, 2: 50}
    assert effective_weights([task(1, 1, weight=80), task(2, 1, weight=40), task(3, 1)]) == {
        1: 80,
        2: 40,
        3: 0,
    }


def test_weights_over_one_hundred_are_normalised() -> None:
    progress = one_course(
        [task(1, 1, weight=80), task(2, 1, weight=40)], [graded(1, 5.0), graded(2, 2.0)]
    )
    assert progress.average == 4.0  # (400 + 80) / 120


# -- rescaling --------------------------------------------------------------------------------


def test_scores_on_other_maxima_are_rescaled() -> None:
    assert DEFAULT_SCALE.rescale(45, 50) == 4.5
    progress = one_course(
        [task(1, 1, max_score=50), task(2, 1, max_score=10), task(3, 1)],
        [graded(1, 45), graded(2, 7), graded(3, 4.2)],
    )
    first = progress.grades[0]
    assert (first.score, first.raw_score, first.max_score) == (4.5, 45, 50)
    assert [line.score for line in progress.grades] == [4.5, 3.5, 4.2]
    assert progress.average == 4.1  # 12.2 / 3 = 4.07


def test_rescaled_scores_stay_on_the_scale() -> None:
    progress = one_course(
        [task(1, 1, max_score=50), task(2, 1, max_score=50), task(3, 1, max_score=0)],
        [graded(1, 0), graded(2, 60), graded(3, 4.0)],
    )
    assert [line.score for line in progress.grades] == [1.0, 5.0, 4.0]


# -- rounding, bands and passing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rounded", "band", "passing"),
    [
        (4.55, 4.6, "Superior", True),
        (4.549999999999999, 4.6, "Superior", True),  # binary noise of a computed 4.55
        (4.54, 4.5, "Alto", True),
        (3.95, 4.0, "Alto", True),
        (3.94, 3.9, "Básico", True),
        (2.95, 3.0, "Básico", True),
        (2.94, 2.9, "Bajo", False),
        (5.0, 5.0, "Superior", True),
        (1.0, 1.0, "Bajo", False),
    ],
)
def test_bands_at_the_boundaries(value: float, rounded: float, band: str, passing: bool) -> None:
    assert DEFAULT_SCALE.round(value) == rounded
    assert DEFAULT_SCALE.band(value) == band
    assert DEFAULT_SCALE.is_passing(value) is passing


def test_a_computed_average_on_a_boundary_rounds_half_up() -> None:
    progress = one_course([task(1, 1), task(2, 1)], [graded(1, 4.5), graded(2, 4.6)])
    assert (progress.average, progress.band) == (4.6, "Superior")
    progress = one_course([task(1, 1), task(2, 1)], [graded(1, 2.9), graded(2, 3.0)])
    assert (progress.average, progress.band, progress.passing) == (3.0, "Básico", True)


def test_more_decimals_than_the_bands_fall_in_the_lower_band() -> None:
    scale = GradingScale(decimals=2)
    assert scale.round(4.555) == 4.56
    assert scale.band(4.55) == "Alto"  # between Alto (…4.5) and Superior (4.6…)
    assert scale.band(4.6) == "Superior"


def test_scale_validation() -> None:
    with pytest.raises(ValueError, match="minimum"):
        GradingScale(minimum=5, maximum=1)
    with pytest.raises(ValueError, match="passing"):
        GradingScale(passing=6)
    with pytest.raises(ValueError, match="low"):
        Band("Alto", 4.5, 4.0)
    scale = GradingScale(bands=[Band("Todo", 1.0, 5.0)])  # type: ignore[arg-type]
    assert scale.bands == (Band("Todo", 1.0, 5.0),)
    assert hash(scale) == hash(GradingScale(bands=(Band("Todo", 1.0, 5.0),)))


CENTESIMAL = GradingScale(
    minimum=0,
    maximum=100,
    passing=60,
    decimals=0,
    bands=(
        Band("Excelente", 90, 100),
        Band("Bueno", 75, 89),
        Band("Aceptable", 60, 74),
        Band("Insuficiente", 0, 59),
    ),
)


def test_a_custom_scale() -> None:
    report = build_report(
        book(
            [MATE, course(2, "Inglés")],
            [task(1, 1, max_score=5), task(2, 1), task(3, 2)],
            [graded(1, 4.5), graded(2, 72), graded(3, 50)],
        ),
        CENTESIMAL,
    )
    english, math = report.courses
    assert [line.score for line in math.grades] == [90, 72]
    assert (math.average, math.band, math.passing) == (81, "Bueno", True)
    assert (english.average, english.band, english.passing) == (50, "Insuficiente", False)
    assert report.overall_average == 66  # (81 + 50) / 2 = 65.5 → 66
    assert report.scale is CENTESIMAL


# -- pending and excused ----------------------------------------------------------------------


def test_excused_results_leave_the_total_and_the_weights() -> None:
    progress = one_course(
        [task(1, 1, weight=50), task(2, 1, weight=50)], [graded(1, 4.0), excused(2)]
    )
    assert (progress.average, progress.graded, progress.total) == (4.0, 1, 1)
    assert progress.pending == ()
    assert [(line.status, line.weight) for line in progress.grades] == [
        (ResultStatus.GRADED, 50),
        (ResultStatus.EXCUSED, 0),
    ]
    # without weights the excused one does not take a share either
    progress = one_course(
        [task(1, 1), task(2, 1), task(3, 1)], [graded(1, 3.0), excused(2), graded(3, 5.0)]
    )
    assert [line.weight for line in progress.grades] == [50, 0, 50]
    assert (progress.average, progress.total) == (4.0, 2)


def test_pending_work_upcoming_first_then_undated_then_overdue() -> None:
    titles = {
        1: ("Taller 3", date(2026, 3, 12)),
        2: ("Quiz 2", TODAY),
        3: ("Exposición", None),
        4: ("Informe", date(2026, 3, 1)),
        5: ("Guía", date(2026, 2, 20)),
        6: ("Proyecto", date(2026, 3, 20)),
        7: ("Examen", date(2026, 3, 11)),
    }
    assessments = [task(i, 1, title, due=due) for i, (title, due) in titles.items()]
    results = [pending(1), graded(7, 4.0)]  # 7 is graded; the rest have no result or pending
    progress = one_course(assessments, results)
    assert [(p.title, p.overdue) for p in progress.pending] == [
        ("Quiz 2", False),
        ("Taller 3", False),
        ("Proyecto", False),
        ("Exposición", False),
        ("Informe", True),  # overdue: most recently due first; "Guía" is cut by the limit
    ]
    assert progress.pending_count == 6
    limited = build_report(book([MATE], assessments, results), today=TODAY, pending_limit=2)
    assert [p.title for p in only(limited).pending] == ["Quiz 2", "Taller 3"]
    undated = build_report(book([MATE], assessments, results), pending_limit=10)
    assert [p.title for p in only(undated).pending] == [
        "Guía", "Informe", "Quiz 2", "Taller 3", "Proyecto", "Exposición",
    ]  # fmt: skip
    assert not any(p.overdue for p in only(undated).pending)


def test_a_graded_result_without_a_score_is_pending() -> None:
    progress = one_course([task(1, 1)], [Result(1, ResultStatus.GRADED, None)])
    assert (progress.graded, progress.average, len(progress.pending)) == (0, None, 1)


def test_results_and_attendance_outside_the_book_are_ignored() -> None:
    report = build_report(
        book(
            [MATE],
            [task(1, 1), task(2, 77)],  # course 77 is not in the book
            [graded(1, 4.0), graded(2, 1.0), graded(999, 1.0)],
            [seen(1, 2, AttendanceStatus.PRESENT), seen(77, 2, AttendanceStatus.ABSENT)],
        )
    )
    progress = only(report)
    assert (progress.average, progress.total, progress.sessions) == (4.0, 1, 1)
    assert report.overall_average == 4.0


# -- attendance -------------------------------------------------------------------------------


def test_attendance_rate_with_late_and_excused() -> None:
    statuses = (
        [AttendanceStatus.PRESENT] * 6
        + [AttendanceStatus.LATE] * 2
        + [AttendanceStatus.ABSENT]
        + [AttendanceStatus.EXCUSED]
    )
    progress = one_course([], attendance=[seen(1, i + 1, s) for i, s in enumerate(statuses)])
    assert progress.attendance_rate == pytest.approx(8 / 9)
    assert (progress.absences, progress.late, progress.excused, progress.sessions) == (1, 2, 1, 10)


def test_attendance_without_sessions() -> None:
    assert one_course([]).attendance_rate is None
    only_excused = one_course([], attendance=[seen(1, 2, AttendanceStatus.EXCUSED)])
    assert (only_excused.attendance_rate, only_excused.excused) == (None, 1)
    perfect = one_course([], attendance=[seen(1, 2, AttendanceStatus.LATE)])
    assert perfect.attendance_rate == 1.0


# -- overall average and filters --------------------------------------------------------------

SCHOOL = book(
    [
        course(1, "Matemáticas", "P1", code="MAT-10"),
        course(2, "Matemáticas", "P2", code="MAT-10B"),
        course(3, "Inglés"),
        course(4, "Ciencias Sociales", "P1"),
        course(5, "Educación Física"),
    ],
    [
        task(1, 1, weight=50),
        task(2, 1, weight=50),
        task(3, 2),
        task(4, 3, period="P1"),
        task(5, 3, period="p2"),
        task(6, 3),
        task(7, 4),
    ],
    [graded(1, 4.0), graded(2, 4.5), graded(3, 2.0), graded(4, 3.8), graded(5, 5.0)],
    [seen(3, 2, AttendanceStatus.ABSENT), seen(5, 3, AttendanceStatus.PRESENT)],
)


def test_courses_are_sorted_and_the_overall_average_uses_the_shown_averages() -> None:
    report = build_report(SCHOOL, today=TODAY)
    assert [(c.course, c.period) for c in report.courses] == [
        ("Ciencias Sociales", "P1"),
        ("Educación Física", None),
        ("Inglés", None),
        ("Matemáticas", "P1"),
        ("Matemáticas", "P2"),
    ]
    averages = {(c.course, c.period): c.average for c in report.courses}
    assert averages[("Matemáticas", "P1")] == 4.3  # 4.25 → 4.3
    assert averages[("Inglés", None)] == 4.4
    # mean of the rounded course averages: (4.3 + 2.0 + 4.4) / 3 = 3.5667
    assert report.overall_average == 3.6
    assert report.as_of == TODAY
    assert report.available_courses == (
        "Ciencias Sociales", "Educación Física", "Inglés", "Matemáticas",
    )  # fmt: skip
    assert report.available_periods == ("P1", "P2")


def test_overall_average_uses_rounded_course_averages() -> None:
    report = build_report(
        book(
            [MATE, course(2, "Inglés")],
            [task(1, 1), task(2, 1), task(3, 2)],
            [graded(1, 4.0), graded(2, 4.5), graded(3, 3.8)],
        )
    )
    assert [c.average for c in report.courses] == [3.8, 4.3]
    assert report.overall_average == 4.1  # (4.3 + 3.8) / 2 = 4.05 → 4.1


def test_course_filter_matches_loosely_and_keeps_every_period() -> None:
    report = build_report(SCHOOL, course="mate")
    assert report.course == "Matemáticas"
    assert [(c.course, c.period) for c in report.courses] == [
        ("Matemáticas", "P1"),
        ("Matemáticas", "P2"),
    ]
    assert report.overall_average == 3.2  # (4.3 + 2.0) / 2 = 3.15 → 3.2
    assert [c.course for c in build_report(SCHOOL, course="edu fisica").courses] == [
        "Educación Física"
    ]
    by_code = build_report(SCHOOL, course="mat-10b")
    assert [(c.course, c.period) for c in by_code.courses] == [("Matemáticas", "P2")]


def test_unknown_course_gives_an_empty_report_with_the_courses_available() -> None:
    report = build_report(SCHOOL, course="astronomía")
    assert (report.courses, report.course, report.overall_average) == ((), None, None)
    assert "Matemáticas" in report.available_courses


def test_period_filter() -> None:
    report = build_report(SCHOOL, period="p1")
    assert report.period == "p1"
    assert [(c.course, c.period) for c in report.courses] == [
        ("Ciencias Sociales", "P1"),
        ("Inglés", None),  # no period of its own: only its P1 assessments
        ("Matemáticas", "P1"),
    ]
    english = report.courses[1]
    assert (english.average, english.total, english.sessions) == (3.8, 1, 1)
    p2 = build_report(SCHOOL, period="P2")
    assert [(c.course, c.average) for c in p2.courses] == [
        ("Inglés", 5.0),  # "p2" on the assessment matches "P2"
        ("Matemáticas", 2.0),
    ]
    nothing = build_report(SCHOOL, period="P3")
    assert nothing.courses == ()
    assert nothing.available_periods == ("P1", "P2")


def test_course_and_period_filters_together() -> None:
    report = build_report(SCHOOL, course="matematicas", period="P2")
    assert [(c.course, c.period, c.average) for c in report.courses] == [("Matemáticas", "P2", 2.0)]


def test_an_empty_book() -> None:
    report = build_report(book([]))
    assert (report.courses, report.overall_average, report.available_courses) == ((), None, ())


# -- course matching --------------------------------------------------------------------------

NAMES = [
    "Matemáticas",
    "Matemáticas Financieras",
    "Inglés",
    "Ciencias Sociales",
    "Educación Física",
    "Física",
    "Química",
    "Lengua Castellana",
    "Tecnología e Informática",
    "Ética y Valores",
]


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("mate", "Matemáticas"),
        ("MATE", "Matemáticas"),
        ("matemáticas", "Matemáticas"),
        ("matematicas", "Matemáticas"),
        ("mate fin", "Matemáticas Financieras"),
        ("ingles", "Inglés"),
        ("Inglés", "Inglés"),
        ("sociales", "Ciencias Sociales"),
        ("c sociales", "Ciencias Sociales"),
        ("edu fisica", "Educación Física"),
        ("ed. física", "Educación Física"),
        ("fisica", "Física"),
        ("quimica", "Química"),
        ("castellano", "Lengua Castellana"),
        ("español", "Lengua Castellana"),
        ("info", "Tecnología e Informática"),
        ("tecno", "Tecnología e Informática"),
        ("etica", "Ética y Valores"),
        ("la materia de inglés", "Inglés"),
        ("matematicsa", "Matemáticas"),  # difflib
        ("kimica", "Química"),
        ("fisca", "Física"),  # closer to "Física" than to "Educación Física"
        ("ciencias", "Ciencias Sociales"),  # only one "ciencias" here
        ("astronomia", None),
        ("xyz", None),
        ("m", None),
        ("", None),
    ],
)
def test_match_course(hint: str, expected: str | None) -> None:
    assert match_course(hint, NAMES) == expected


def test_match_course_only_names_the_students_courses() -> None:
    names = ["Ciencias Naturales y Biología", "Ciencias Sociales", "Matemáticas"]
    assert match_course("biologia", names) == "Ciencias Naturales y Biología"
    assert match_course("naturales", names) == "Ciencias Naturales y Biología"
    assert match_course("biolojia", names) == "Ciencias Naturales y Biología"
    assert match_course("ciencias", names) is None  # ambiguous
    assert match_course("mate", []) is None
    assert match_course("mate", ["Matemáticas", "MATEMATICAS"]) == "Matemáticas"


# -- JSON for the API -------------------------------------------------------------------------


def test_report_to_dict_is_json() -> None:
    data = report_to_dict(build_report(SCHOOL, today=TODAY))
    assert json.loads(json.dumps(data)) == data
    assert data["as_of"] == "2026-03-10"
    assert data["overall_average"] == 3.6
    assert data["scale"]["passing"] == 3.0
    english = next(c for c in data["courses"] if c["course"] == "Inglés")
    assert english["attendance"] == {
        "sessions": 1, "rate": 0.0, "absences": 1, "late": 0, "excused": 0,
    }  # fmt: skip
    assert english["grades"][0]["status"] == "graded"
    assert english["pending"] == [{"title": "Actividad 6", "due_date": None, "overdue": False}]


# -- the service ------------------------------------------------------------------------------


class FakeProgressRepository:
    def __init__(self, books: dict[int, StudentRecordBook]) -> None:
        self.books = books
        self.loads: list[int] = []
        self.reads: list[list[int]] = []

    async def record_book(self, student_id: int) -> StudentRecordBook:
        self.loads.append(student_id)
        return self.books.get(student_id, book([]))

    async def record_books(self, student_ids: Sequence[int]) -> dict[int, StudentRecordBook]:
        self.reads.append(list(student_ids))
        return {sid: await self.record_book(sid) for sid in student_ids}


class FakeUnitOfWork:
    def __init__(self, progress: FakeProgressRepository) -> None:
        self.progress = progress
        self.entered = 0

    async def __aenter__(self) -> FakeUnitOfWork:
        self.entered += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


def service(
    books: dict[int, StudentRecordBook],
    *,
    cache: TTLReportCache | None = None,
    clock: FixedClock | None = None,
) -> tuple[ProgressService, FakeProgressRepository]:
    repo = FakeProgressRepository(books)
    uow = FakeUnitOfWork(repo)
    return ProgressService(lambda: uow, clock or FixedClock(), cache=cache), repo  # type: ignore[arg-type,return-value]


async def test_service_without_a_cache_loads_every_time() -> None:
    progress, repo = service({7: SCHOOL})
    first = await progress.report(7)
    assert first == await progress.report(7)
    assert repo.loads == [7, 7]
    assert (await progress.report(8)).courses == ()
    await progress.invalidate([7])  # no cache: nothing to do


async def test_reports_asked_together_each_get_their_book() -> None:
    progress, repo = service({7: SCHOOL, 8: SCHOOL})
    reports = await asyncio.gather(*(progress.report(sid) for sid in (7, 8, 7, 9)))
    assert reports[0] == reports[2] and reports[3].courses == ()
    # (One unit of work for all of them: tests/integration/test_batched_loaders.py.)


async def test_service_caches_per_student_and_variant() -> None:
    progress, repo = service({7: SCHOOL, 8: SCHOOL}, cache=TTLReportCache())
    report = await progress.report(7)
    assert await progress.report(7) is report
    assert repo.loads == [7]
    mate = await progress.report(7, course="mate")
    assert await progress.report(7, course=" MATE ") is mate  # same variant, normalised
    await progress.report(7, period="P1")
    await progress.report(8)
    assert repo.loads == [7, 7, 7, 8]
    await progress.invalidate([7])
    await progress.report(7)
    await progress.report(7, course="mate")
    await progress.report(8)
    assert repo.loads == [7, 7, 7, 8, 7, 7]
    await progress.clear()
    await progress.report(8)
    assert repo.loads[-1] == 8


async def test_today_is_colombian_and_a_cached_report_from_yesterday_is_rebuilt() -> None:
    clock = FixedClock(datetime(2026, 3, 11, 4, 0, tzinfo=UTC))  # 23:00 on 10 March in Bogotá
    book_ = book([MATE], [task(1, 1, "Taller", due=TODAY)])
    progress, repo = service({7: book_}, cache=TTLReportCache(), clock=clock)
    report = await progress.report(7)
    assert report.as_of == TODAY
    assert only(report).pending[0].overdue is False
    clock.advance(timedelta(hours=2))  # 01:00 on 11 March in Bogotá
    report = await progress.report(7)
    assert report.as_of == date(2026, 3, 11)
    assert only(report).pending[0].overdue is True
    assert repo.loads == [7, 7]


async def test_service_uses_its_scale() -> None:
    repo = FakeProgressRepository({1: book([MATE], [task(1, 1)], [graded(1, 81)])})
    uow = FakeUnitOfWork(repo)
    progress = ProgressService(lambda: uow, FixedClock(), scale=CENTESIMAL)  # type: ignore[arg-type,return-value]
    report = await progress.report(1)
    assert (only(report).average, only(report).band) == (81, "Bueno")
    assert attrs.evolve(report, courses=()).scale is CENTESIMAL
