"""One contract for every ProgressRepository: memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

from eki_domain import PhoneNumber, Student
from eki_domain.model.progress import (
    AttendanceRow,
    AttendanceStatus,
    EnrollmentRow,
    GradeRow,
    ResultStatus,
    WriteCounts,
)
from eki_domain.ports import UnitOfWorkFactory

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def student(uow_factory: UnitOfWorkFactory, phone: str = "3001234567") -> int:
    async with uow_factory() as uow:
        added = await uow.students.add(Student.register("Ana", PhoneNumber.parse(phone),
                                                        registered_at=NOW))
        await uow.commit()
    assert added.id is not None
    return added.id


def grade(sid: int, course: str, title: str, score: float | None, *, period: str | None = "P1",
          status: ResultStatus = ResultStatus.GRADED, max_score: float | None = None,
          weight: float | None = None, due: date | None = None, row: int = 2) -> GradeRow:
    return GradeRow(row=row, student_id=sid, course=course, period=period, assessment=title,
                    max_score=max_score, weight=weight, due_date=due, score=score,
                    status=status)


async def write_grades(uow_factory: UnitOfWorkFactory, rows: list[GradeRow]) -> WriteCounts:
    async with uow_factory() as uow:
        counts = await uow.progress.write_grades(rows, NOW)
        await uow.commit()
    return counts


async def test_grades_counts_and_record_book(uow_factory: UnitOfWorkFactory) -> None:
    ana = await student(uow_factory)
    beto = await student(uow_factory, "3109876543")
    rows = [
        grade(ana, "Matemáticas", "Taller 1", 4.5, weight=30, due=date(2026, 2, 1)),
        grade(ana, "Matemáticas", "Quiz", 45, max_score=50),
        grade(ana, "Matemáticas", "Examen", None, status=ResultStatus.PENDING,
              due=date(2026, 3, 10)),
        grade(beto, "Matemáticas", "Taller 1", 3.0, weight=30),
        grade(ana, "Inglés", "Oral", 4.0, period=None),
    ]
    assert await write_grades(uow_factory, rows) == WriteCounts(5, 0, 0)
    assert await write_grades(uow_factory, rows) == WriteCounts(0, 0, 5)
    changed = [grade(ana, "Matemáticas", "Taller 1", 4.8, weight=30),
               grade(ana, "Matemáticas", "Examen", 3.9)]
    assert await write_grades(uow_factory, changed) == WriteCounts(0, 2, 0)

    async with uow_factory() as uow:
        book = await uow.progress.record_book(ana)
    assert {(c.name, c.period) for c in book.courses} == {("Matemáticas", "P1"),
                                                          ("Inglés", None)}
    by_title = {a.title: a for a in book.assessments}
    assert by_title["Taller 1"].weight == 30 and by_title["Taller 1"].due_date == date(2026, 2, 1)
    assert by_title["Quiz"].max_score == 50 and by_title["Examen"].due_date == date(2026, 3, 10)
    scores = {by_id.title: (r.score, r.status) for r in book.results
              for by_id in book.assessments if by_id.id == r.assessment_id}
    assert scores == {"Taller 1": (4.8, ResultStatus.GRADED), "Quiz": (45, ResultStatus.GRADED),
                      "Examen": (3.9, ResultStatus.GRADED), "Oral": (4.0, ResultStatus.GRADED)}
    async with uow_factory() as uow:
        beto_book = await uow.progress.record_book(beto)
    assert len(beto_book.results) == 1  # never another student's results

    # Many students at once (the assistant's tool calls arriving together): each book is
    # exactly the one read alone; a student without courses gets an empty book.
    carla = await student(uow_factory, "3205551234")
    async with uow_factory() as uow:
        books = await uow.progress.record_books([beto, ana, carla, ana])
        alone = {sid: await uow.progress.record_book(sid) for sid in (ana, beto, carla)}
        assert await uow.progress.record_books([]) == {}
    assert books == alone and list(books) == [beto, ana, carla]
    assert books[carla].courses == () and books[carla].results == ()


async def test_attendance_and_enrollments(uow_factory: UnitOfWorkFactory) -> None:
    ana = await student(uow_factory)
    rows = [AttendanceRow(row=2, student_id=ana, course="Ciencias", period="P1",
                          day=date(2026, 2, d), status=AttendanceStatus.PRESENT)
            for d in range(2, 7)]
    async with uow_factory() as uow:
        assert await uow.progress.write_attendance(rows, NOW) == WriteCounts(5, 0, 0)
        await uow.commit()
    rows[0] = AttendanceRow(row=2, student_id=ana, course="Ciencias", period="P1",
                            day=date(2026, 2, 2), status=AttendanceStatus.ABSENT)
    async with uow_factory() as uow:
        assert await uow.progress.write_attendance(rows, NOW) == WriteCounts(0, 1, 4)
        enrol = [EnrollmentRow(row=2, student_id=ana, course="Artes", period="P1", code="ART"),
                 EnrollmentRow(row=3, student_id=ana, course="Ciencias", period="P1")]
        assert await uow.progress.write_enrollments(enrol, NOW) == WriteCounts(1, 0, 1)
        await uow.commit()
    async with uow_factory() as uow:
        book = await uow.progress.record_book(ana)
    assert {c.name for c in book.courses} == {"Ciencias", "Artes"}
    assert next(c for c in book.courses if c.name == "Artes").code == "ART"
    assert sorted(a.status for a in book.attendance).count(AttendanceStatus.ABSENT) == 1
    assert len(book.attendance) == 5


async def test_rollback_leaves_nothing(uow_factory: UnitOfWorkFactory) -> None:
    ana = await student(uow_factory)
    async with uow_factory() as uow:
        await uow.progress.write_grades([grade(ana, "Música", "Canto", 5.0)], NOW)
        await uow.rollback()
    async with uow_factory() as uow:
        book = await uow.progress.record_book(ana)
    assert book.courses == () and book.results == ()


async def test_empty_student_has_an_empty_book(uow_factory: UnitOfWorkFactory) -> None:
    ana = await student(uow_factory)
    async with uow_factory() as uow:
        book = await uow.progress.record_book(ana)
    assert (book.courses, book.assessments, book.results, book.attendance) == ((), (), (), ())
