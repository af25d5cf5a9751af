"""School data over SQL: the record book of one student, and set-based imports.

Imports stage their rows in a temporary table (COPY on PostgreSQL, executemany on
SQLite) and write with a few INSERT … SELECT … ON CONFLICT statements. Exact counts
come from the staged rows: ``existing`` = staged keys already stored; the merge only
touches rows whose values differ and returns them; so created = staged − existing,
updated = returned − created, unchanged = existing − updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.tables import UTCDateTime, attendance, courses, results
from eki_domain.model.progress import (
    Assessment,
    AttendanceRecord,
    AttendanceRow,
    AttendanceStatus,
    Course,
    EnrollmentRow,
    GradeRow,
    Result,
    ResultStatus,
    StudentRecordBook,
    WriteCounts,
)

#: Timestamps bound through the column type, so SQLite gets its stored text format.
_NOW = sa.bindparam("now", type_=UTCDateTime())

_COURSE_IDS = """
    SELECT course_id FROM enrollments WHERE student_id = :sid
    UNION SELECT a.course_id FROM results r JOIN assessments a ON a.id = r.assessment_id
          WHERE r.student_id = :sid
    UNION SELECT course_id FROM attendance WHERE student_id = :sid
"""


def _copy_value(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = value.isoformat() if isinstance(value, date) else str(value)
    if any(ch in text for ch in "\\\t\n\r"):
        text = (text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return text


def _period(value: str | None) -> str:
    return value or ""


class SqlProgressRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._pg = connection.dialect.name == "postgresql"

    # -- reading --------------------------------------------------------------------------
    async def record_book(self, student_id: int) -> StudentRecordBook:
        conn = self._conn
        params = {"sid": student_id}
        course_rows = (await conn.execute(
            sa.text(f"SELECT id, name, code, period FROM courses WHERE id IN ({_COURSE_IDS}) "
                    "ORDER BY name, period"), params)).all()
        if not course_rows:
            return StudentRecordBook(courses=(), assessments=(), results=(), attendance=())
        book_courses = tuple(Course(id=int(r.id), name=r.name, code=r.code,
                                    period=r.period or None) for r in course_rows)
        assessment_rows = (await conn.execute(
            sa.text("SELECT id, course_id, title, max_score, weight, due_date, period "
                    f"FROM assessments WHERE course_id IN ({_COURSE_IDS}) ORDER BY id"),
            params)).all()
        result_rows = (await conn.execute(
            sa.select(results.c.assessment_id, results.c.status, results.c.score)
            .where(results.c.student_id == student_id))).all()
        attendance_rows = (await conn.execute(
            sa.select(attendance.c.course_id, attendance.c.day, attendance.c.status)
            .where(attendance.c.student_id == student_id))).all()
        return StudentRecordBook(
            courses=book_courses,
            assessments=tuple(
                Assessment(id=int(r.id), course_id=int(r.course_id), title=r.title,
                           max_score=r.max_score, weight=r.weight,
                           due_date=_as_date(r.due_date), period=r.period or None)
                for r in assessment_rows),
            results=tuple(Result(assessment_id=int(r.assessment_id),
                                 status=ResultStatus(r.status), score=r.score)
                          for r in result_rows),
            attendance=tuple(AttendanceRecord(course_id=int(r.course_id), day=_as_date(r.day)
                                              or date.min, status=AttendanceStatus(r.status))
                             for r in attendance_rows),
        )

    async def course_periods(self, names: Sequence[str]) -> dict[str, list[str | None]]:
        found: dict[str, list[str | None]] = {}
        wanted = sorted(set(names))
        for start in range(0, len(wanted), 500):
            rows = await self._conn.execute(
                sa.select(courses.c.name, courses.c.period)
                .where(courses.c.name.in_(wanted[start : start + 500])))
            for name, period in rows:
                found.setdefault(name, []).append(period or None)
        return found

    # -- staging ----------------------------------------------------------------------------
    async def _stage(self, table: str, columns: Sequence[tuple[str, str]],
                     rows: Sequence[Sequence[object]]) -> None:
        conn = self._conn
        names = ", ".join(name for name, _ in columns)
        if self._pg:
            ddl = ", ".join(f"{name} {kind}" for name, kind in columns)
            await conn.exec_driver_sql(f"CREATE TEMP TABLE {table} ({ddl}) ON COMMIT DROP")
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            text = "".join("\t".join(_copy_value(v) for v in row) + "\n" for row in rows)
            async with driver.cursor() as cursor, cursor.copy(
                f"COPY {table} ({names}) FROM STDIN"
            ) as copy:
                await copy.write(text.encode())
            await conn.exec_driver_sql(f"ANALYZE {table}")
        else:
            ddl = ", ".join(f"{name} {'TEXT' if kind == 'date' else kind}"
                            for name, kind in columns)
            await conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{table}")
            await conn.exec_driver_sql(f"CREATE TEMP TABLE {table} ({ddl})")
            marks = ", ".join("?" for _ in columns)
            await conn.exec_driver_sql(
                f"INSERT INTO {table} ({names}) VALUES ({marks})",
                [tuple(v.isoformat() if isinstance(v, date) else v for v in row)
                 for row in rows],
            )

    async def _drop(self, table: str) -> None:
        if not self._pg:
            await self._conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{table}")

    async def _ensure_courses_and_enrolments(self, table: str, now: datetime) -> None:
        conn = self._conn
        await conn.execute(sa.text(
            f"INSERT INTO courses (name, period) SELECT DISTINCT course, period FROM {table} "
            "WHERE true ON CONFLICT (name, period) DO NOTHING"))
        await conn.execute(sa.text(
            f"INSERT INTO enrollments (student_id, course_id, created_at) "
            f"SELECT DISTINCT t.student_id, c.id, :now FROM {table} t "
            "JOIN courses c ON c.name = t.course AND c.period = t.period "
            "WHERE true ON CONFLICT (student_id, course_id) DO NOTHING").bindparams(_NOW),
            {"now": now})

    async def _merge_count(self, merge_sql: str, params: dict[str, Any]) -> int:
        """Run an INSERT … ON CONFLICT … RETURNING and count the rows it touched."""
        if self._pg:
            touched = await self._conn.scalar(
                sa.text(f"WITH m AS ({merge_sql}) SELECT count(*) FROM m").bindparams(_NOW),
                params)
            return int(touched or 0)
        statement = sa.text(merge_sql).bindparams(_NOW)
        return len((await self._conn.execute(statement, params)).all())

    def _distinct(self, left: str, right: str) -> str:
        return f"{left} IS DISTINCT FROM {right}" if self._pg else f"{left} IS NOT {right}"

    # -- grades -----------------------------------------------------------------------------
    async def write_grades(self, rows: Sequence[GradeRow], now: datetime) -> WriteCounts:
        if not rows:
            return WriteCounts(0, 0, 0)
        table = "eki_stage_grades"
        await self._stage(table, [
            ("student_id", "bigint"), ("course", "text"), ("period", "text"),
            ("assessment", "text"), ("max_score", "double precision"),
            ("weight", "double precision"), ("due_date", "date"),
            ("score", "double precision"), ("status", "text"),
        ], [(r.student_id, r.course, _period(r.period), r.assessment, r.max_score, r.weight,
             r.due_date, r.score, str(r.status)) for r in rows])
        conn = self._conn
        await self._ensure_courses_and_enrolments(table, now)
        await conn.execute(sa.text(
            "INSERT INTO assessments (course_id, title, period, max_score, weight, due_date) "
            "SELECT c.id, t.assessment, t.period, max(t.max_score), max(t.weight), "
            f"max(t.due_date) FROM {table} t "
            "JOIN courses c ON c.name = t.course AND c.period = t.period WHERE true "
            "GROUP BY c.id, t.assessment, t.period "
            "ON CONFLICT (course_id, title, period) DO UPDATE SET "
            "max_score = coalesce(excluded.max_score, assessments.max_score), "
            "weight = coalesce(excluded.weight, assessments.weight), "
            "due_date = coalesce(excluded.due_date, assessments.due_date)"))
        source = (f"FROM {table} t JOIN courses c ON c.name = t.course AND c.period = t.period "
                  "JOIN assessments a ON a.course_id = c.id AND a.title = t.assessment "
                  "AND a.period = t.period")
        existing = int(await conn.scalar(sa.text(
            f"SELECT count(*) {source} JOIN results r ON r.assessment_id = a.id "
            "AND r.student_id = t.student_id")) or 0)
        returned = await self._merge_count(
            "INSERT INTO results (assessment_id, student_id, score, status, updated_at) "
            f"SELECT a.id, t.student_id, t.score, t.status, :now {source} WHERE true "
            "ON CONFLICT (assessment_id, student_id) DO UPDATE SET score = excluded.score, "
            "status = excluded.status, updated_at = excluded.updated_at WHERE "
            f"{self._distinct('results.score', 'excluded.score')} OR "
            f"{self._distinct('results.status', 'excluded.status')} RETURNING 1",
            {"now": now})
        await self._drop(table)
        return _counts(len(rows), existing, returned)

    # -- attendance -------------------------------------------------------------------------
    async def write_attendance(self, rows: Sequence[AttendanceRow], now: datetime
                               ) -> WriteCounts:
        if not rows:
            return WriteCounts(0, 0, 0)
        table = "eki_stage_attendance"
        await self._stage(table, [
            ("student_id", "bigint"), ("course", "text"), ("period", "text"), ("day", "date"),
            ("status", "text"),
        ], [(r.student_id, r.course, _period(r.period), r.day, str(r.status)) for r in rows])
        conn = self._conn
        await self._ensure_courses_and_enrolments(table, now)
        source = (f"FROM {table} t JOIN courses c ON c.name = t.course "
                  "AND c.period = t.period")
        existing = int(await conn.scalar(sa.text(
            f"SELECT count(*) {source} JOIN attendance x ON x.student_id = t.student_id "
            "AND x.course_id = c.id AND x.day = t.day")) or 0)
        returned = await self._merge_count(
            "INSERT INTO attendance (student_id, course_id, day, status, updated_at) "
            f"SELECT t.student_id, c.id, t.day, t.status, :now {source} WHERE true "
            "ON CONFLICT (student_id, course_id, day) DO UPDATE SET status = excluded.status, "
            "updated_at = excluded.updated_at WHERE "
            f"{self._distinct('attendance.status', 'excluded.status')} RETURNING 1",
            {"now": now})
        await self._drop(table)
        return _counts(len(rows), existing, returned)

    # -- enrolments -------------------------------------------------------------------------
    async def write_enrollments(self, rows: Sequence[EnrollmentRow], now: datetime
                                ) -> WriteCounts:
        if not rows:
            return WriteCounts(0, 0, 0)
        table = "eki_stage_enrollments"
        await self._stage(table, [
            ("student_id", "bigint"), ("course", "text"), ("period", "text"), ("code", "text"),
        ], [(r.student_id, r.course, _period(r.period), r.code) for r in rows])
        conn = self._conn
        await conn.execute(sa.text(
            "INSERT INTO courses (name, period, code) SELECT course, period, max(code) "
            f"FROM {table} WHERE true GROUP BY course, period "
            "ON CONFLICT (name, period) DO UPDATE SET "
            "code = coalesce(excluded.code, courses.code)"))
        source = (f"FROM {table} t JOIN courses c ON c.name = t.course "
                  "AND c.period = t.period")
        created = await self._merge_count(
            "INSERT INTO enrollments (student_id, course_id, created_at) "
            f"SELECT DISTINCT t.student_id, c.id, :now {source} WHERE true "
            "ON CONFLICT (student_id, course_id) DO NOTHING RETURNING 1",
            {"now": now})
        await self._drop(table)
        return WriteCounts(created=created, updated=0, unchanged=len(rows) - created)


def _counts(total: int, existing: int, returned: int) -> WriteCounts:
    created = total - existing
    updated = max(0, returned - created)
    return WriteCounts(created=created, updated=updated, unchanged=existing - updated)


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
