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

from eki_adapters.sql.dialect import upsert_into
from eki_adapters.sql.tables import UTCDateTime, assessments, courses
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

#: (student, course) for every course a student is enrolled in or has results/attendance in.
_COURSE_PAIRS = """
    SELECT student_id, course_id FROM enrollments WHERE student_id IN :sids
    UNION SELECT r.student_id, a.course_id FROM results r
          JOIN assessments a ON a.id = r.assessment_id WHERE r.student_id IN :sids
    UNION SELECT student_id, course_id FROM attendance WHERE student_id IN :sids
"""
_SIDS: sa.BindParameter[list[int]] = sa.bindparam("sids", expanding=True)
_BOOK_COURSES = sa.text(
    "SELECT p.student_id, c.id, c.name, c.code, c.period, a.id, a.title, a.max_score, "
    f"a.weight, a.due_date, a.period FROM ({_COURSE_PAIRS}) p "
    "JOIN courses c ON c.id = p.course_id LEFT JOIN assessments a ON a.course_id = c.id "
    "ORDER BY p.student_id, c.name, c.period, a.id").bindparams(_SIDS)
_BOOK_MARKS = sa.text(
    "SELECT student_id, 'r', assessment_id, NULL, status, score FROM results "
    "WHERE student_id IN :sids UNION ALL "
    "SELECT student_id, 'a', course_id, day, status, NULL FROM attendance "
    "WHERE student_id IN :sids").bindparams(_SIDS)
_RESULT_STATUS = {s.value: s for s in ResultStatus}
_ATTENDANCE_STATUS = {s.value: s for s in AttendanceStatus}



_PG_TYPES = {"bigint": "int8", "double precision": "float8", "text": "text", "date": "date"}


def _period(value: str | None) -> str:
    return value or ""


class SqlProgressRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._pg = connection.dialect.name == "postgresql"

    # -- reading --------------------------------------------------------------------------
    async def record_book(self, student_id: int) -> StudentRecordBook:
        return (await self.record_books([student_id]))[student_id]

    async def record_books(self, student_ids: Sequence[int]) -> dict[int, StudentRecordBook]:
        wanted = list(dict.fromkeys(student_ids))
        if not wanted:
            return {}
        conn = self._conn
        params = {"sids": wanted}
        # Two round trips for all of them: courses with their assessments, then results
        # with attendance.
        courses_of: dict[int, dict[int, Course]] = {sid: {} for sid in wanted}
        assessments_of: dict[int, list[Assessment]] = {sid: [] for sid in wanted}
        for (sid, cid, name, code, period, aid, title, max_score, weight, due,
             a_period) in (await conn.execute(_BOOK_COURSES, params)).all():
            by_id = courses_of[sid]
            if cid not in by_id:
                by_id[cid] = Course(id=int(cid), name=name, code=code, period=period or None)
            if aid is not None:
                assessments_of[sid].append(Assessment(aid, cid, title, max_score, weight,
                                                      _as_date(due), a_period or None))
        result_status, attendance_status = _RESULT_STATUS, _ATTENDANCE_STATUS
        results_of: dict[int, list[Result]] = {sid: [] for sid in wanted}
        attendance_of: dict[int, list[AttendanceRecord]] = {sid: [] for sid in wanted}
        if any(courses_of.values()):
            for sid, kind, key, day, status, score in (
                    await conn.execute(_BOOK_MARKS, params)).all():
                if kind == "r":
                    results_of[sid].append(Result(key, result_status[status], score))
                else:
                    attendance_of[sid].append(AttendanceRecord(
                        key, _as_date(day) or date.min, attendance_status[status]))
        books: dict[int, StudentRecordBook] = {}
        for sid in wanted:
            if not courses_of[sid]:
                books[sid] = StudentRecordBook(courses=(), assessments=(), results=(),
                                               attendance=())
                continue
            assessments_of[sid].sort(key=lambda a: a.id)
            books[sid] = StudentRecordBook(courses=tuple(courses_of[sid].values()),
                                           assessments=tuple(assessments_of[sid]),
                                           results=tuple(results_of[sid]),
                                           attendance=tuple(attendance_of[sid]))
        return books

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
            await conn.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{table}")
            await conn.exec_driver_sql(f"CREATE TEMP TABLE {table} ({ddl}) ON COMMIT DROP")
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            # Binary COPY with declared types: ~3x faster than building COPY text in Python.
            async with driver.cursor() as cursor, cursor.copy(
                f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types([_PG_TYPES[kind] for _, kind in columns])
                for row in rows:
                    await copy.write_row(row)
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
        schema = "pg_temp" if self._pg else "temp"
        await self._conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.{table}")

    def _distinct(self, left: str, right: str) -> str:
        return f"{left} IS DISTINCT FROM {right}" if self._pg else f"{left} IS NOT {right}"

    # -- courses and assessments: few distinct values, resolved to ids first ---------------
    async def _course_ids(self, keys: set[tuple[str, str]],
                          codes: dict[tuple[str, str], str] | None = None
                          ) -> dict[tuple[str, str], int]:
        """Create missing (name, period) courses; return the id of each."""
        conn = self._conn
        values = [{"name": n, "period": p, "code": (codes or {}).get((n, p))}
                  for n, p in sorted(keys)]
        insert = upsert_into(self._conn.dialect.name, courses)
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=["name", "period"],
                set_={"code": sa.func.coalesce(insert.excluded.code, courses.c.code)})
            if codes else insert.on_conflict_do_nothing(index_elements=["name", "period"]),
            values)
        ids: dict[tuple[str, str], int] = {}
        names = sorted({n for n, _ in keys})
        for start in range(0, len(names), 500):
            rows = await conn.execute(
                sa.select(courses.c.name, courses.c.period, courses.c.id)
                .where(courses.c.name.in_(names[start : start + 500])))
            for name, period, course_id in rows:
                if (name, period) in keys:
                    ids[(name, period)] = int(course_id)
        return ids

    async def _assessment_ids(
        self, specs: dict[tuple[int, str, str], tuple[float | None, float | None, date | None]]
    ) -> dict[tuple[int, str, str], int]:
        conn = self._conn
        insert = upsert_into(self._conn.dialect.name, assessments)
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=["course_id", "title", "period"],
                set_={
                    "max_score": sa.func.coalesce(insert.excluded.max_score,
                                                  assessments.c.max_score),
                    "weight": sa.func.coalesce(insert.excluded.weight, assessments.c.weight),
                    "due_date": sa.func.coalesce(insert.excluded.due_date,
                                                 assessments.c.due_date),
                }),
            [{"course_id": c, "title": t, "period": p, "max_score": m, "weight": w,
              "due_date": d} for (c, t, p), (m, w, d) in sorted(specs.items())])
        ids: dict[tuple[int, str, str], int] = {}
        course_list = sorted({c for c, _, _ in specs})
        for start in range(0, len(course_list), 500):
            rows = await conn.execute(
                sa.select(assessments.c.course_id, assessments.c.title, assessments.c.period,
                          assessments.c.id)
                .where(assessments.c.course_id.in_(course_list[start : start + 500])))
            for course_id, title, period, assessment_id in rows:
                key = (int(course_id), title, period)
                if key in specs:
                    ids[key] = int(assessment_id)
        return ids

    async def _enrol(self, pairs: set[tuple[int, int]], now: datetime) -> int:
        """Enrol (student, course) pairs that are not yet; return how many were new."""
        if not pairs:
            return 0
        table = "eki_stage_enrol"
        await self._stage(table, [("student_id", "bigint"), ("course_id", "bigint")],
                          sorted(pairs))
        created = await self._touch(
            "INSERT INTO enrollments (student_id, course_id, created_at) "
            f"SELECT t.student_id, t.course_id, :now FROM {table} t "
            "LEFT JOIN enrollments e ON e.student_id = t.student_id "
            "AND e.course_id = t.course_id WHERE e.student_id IS NULL", {"now": now})
        await self._drop(table)
        return created

    async def _touch(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """Run an INSERT/UPDATE and return the number of rows it wrote."""
        result = await self._conn.execute(sa.text(sql).bindparams(_NOW), params or {})
        return int(result.rowcount or 0)

    async def _merge(self, target: str, keys: Sequence[tuple[str, str]],
                     values: Sequence[tuple[str, str]], staged: Sequence[Sequence[object]],
                     now: datetime) -> WriteCounts:
        """Stage the rows, insert the new keys, update the keys whose values differ.

        The import lock keeps other writers away, so an anti-join insert and an update of
        the differences give exact counts without speculative inserts.
        """
        table = f"eki_stage_{target}"
        await self._stage(table, [*keys, *values], staged)
        key_names = [name for name, _ in keys]
        value_names = [name for name, _ in values]
        columns = ", ".join([*key_names, *value_names])
        on_key = " AND ".join(f"x.{k} = t.{k}" for k in key_names)
        created = await self._touch(
            f"INSERT INTO {target} ({columns}, updated_at) "
            f"SELECT {', '.join(f't.{c}' for c in [*key_names, *value_names])}, :now "
            f"FROM {table} t LEFT JOIN {target} x ON {on_key} "
            f"WHERE x.{key_names[0]} IS NULL", {"now": now})
        updated = 0
        if created < len(staged):
            changed = " OR ".join(self._distinct(f"{target}.{v}", f"t.{v}")
                                  for v in value_names)
            updated = await self._touch(
                f"UPDATE {target} SET "
                + ", ".join(f"{v} = t.{v}" for v in value_names)
                + f", updated_at = :now FROM {table} t WHERE "
                + " AND ".join(f"{target}.{k} = t.{k}" for k in key_names)
                + f" AND ({changed})", {"now": now})
        await self._drop(table)
        return WriteCounts(created=created, updated=updated,
                           unchanged=len(staged) - created - updated)

    # -- grades -----------------------------------------------------------------------------
    async def write_grades(self, rows: Sequence[GradeRow], now: datetime) -> WriteCounts:
        if not rows:
            return WriteCounts(0, 0, 0)
        # One pass over the rows to gather the few distinct activities (and their max
        # score, weight and due date: the last value given wins), then ids for them.
        activities: dict[tuple[str, str | None, str], list[Any]] = {}
        for r in rows:
            key = (r.course, r.period, r.assessment)
            spec = activities.get(key)
            if spec is None:
                activities[key] = [r.max_score, r.weight, r.due_date]
            else:
                if r.max_score is not None:
                    spec[0] = r.max_score
                if r.weight is not None:
                    spec[1] = r.weight
                if r.due_date is not None:
                    spec[2] = r.due_date
        course_ids = await self._course_ids({(c, _period(p)) for c, p, _t in activities})
        specs = {(course_ids[(c, _period(p))], t, _period(p)): tuple(v)
                 for (c, p, t), v in activities.items()}
        assessment_ids = await self._assessment_ids(specs)
        ids_of = {(c, p, t): (assessment_ids[(course_ids[(c, _period(p))], t, _period(p))],
                              course_ids[(c, _period(p))])
                  for c, p, t in activities}
        staged = []
        pairs: set[tuple[int, int]] = set()
        for r in rows:
            assessment_id, course_id = ids_of[(r.course, r.period, r.assessment)]
            staged.append((assessment_id, r.student_id, r.score, r.status.value))
            pairs.add((r.student_id, course_id))
        await self._enrol(pairs, now)
        return await self._merge(
            "results", [("assessment_id", "bigint"), ("student_id", "bigint")],
            [("score", "double precision"), ("status", "text")], staged, now)

    # -- attendance -------------------------------------------------------------------------
    async def write_attendance(self, rows: Sequence[AttendanceRow], now: datetime
                               ) -> WriteCounts:
        if not rows:
            return WriteCounts(0, 0, 0)
        course_ids = await self._course_ids({(r.course, _period(r.period)) for r in rows})
        staged = [(r.student_id, course_ids[(r.course, _period(r.period))], r.day,
                   r.status.value) for r in rows]
        await self._enrol({(s, c) for s, c, _d, _st in staged}, now)
        return await self._merge(
            "attendance", [("student_id", "bigint"), ("course_id", "bigint"), ("day", "date")],
            [("status", "text")], staged, now)

    # -- enrolments -------------------------------------------------------------------------
    async def write_enrollments(self, rows: Sequence[EnrollmentRow], now: datetime
                                ) -> WriteCounts:
        if not rows:
            return WriteCounts(0, 0, 0)
        codes = {(r.course, _period(r.period)): r.code for r in rows if r.code}
        course_ids = await self._course_ids({(r.course, _period(r.period)) for r in rows},
                                            codes or None)
        created = await self._enrol(
            {(r.student_id, course_ids[(r.course, _period(r.period))]) for r in rows}, now)
        return WriteCounts(created=created, updated=0, unchanged=len(rows) - created)


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
