"""Bulk roster access and the import history over SQL.

PostgreSQL: the rows to write are COPYed into a temporary table; the new students go in
with one plain ``INSERT … SELECT`` (``INSERT … ON CONFLICT DO UPDATE`` if a student with one
of their phones appeared meanwhile), the changed ones with one ``INSERT … ON CONFLICT DO
UPDATE``, and the tags with set-based statements.
SQLite: Core ``executemany`` upserts. Both run inside the caller's transaction,
so a dry run or a strict rejection rolls everything back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.students import TAG_SEPARATOR, SqlStudentRepository
from eki_adapters.sql.tables import import_jobs, import_locks, students
from eki_domain.model.imports import FailedRow, ImportReport
from eki_domain.model.roster import ExistingStudent, RosterPlan, StudentChange
from eki_domain.ports.imports import FailedRows, ImportRecord

#: One advisory lock key for every import into this database.
IMPORT_LOCK_KEY = int.from_bytes(hashlib.sha256(b"eki-import").digest()[:4], "big") & 0x7FFFFFFF
SQLITE_LOCK_WAIT_MS = 1500
PG_HASH_JOIN_THRESHOLD = 5000

_STUDENT_COLUMNS = "INSERT INTO students (name, phone, wa_id, active, registered_at, updated_at) "
_STAGED = "SELECT name, phone, wa_id, active, :now, :now FROM eki_import_students WHERE "
_INSERT_NEW = sa.text(_STUDENT_COLUMNS + _STAGED + "new")
_DELETE_REPLACED_TAGS = sa.text(
    "DELETE FROM student_tags st USING students s, eki_import_students i "
    "WHERE st.student_id = s.id AND s.phone = i.phone AND i.replace_tags")


def _upsert(rows: str) -> sa.TextClause:
    """``INSERT … ON CONFLICT (phone) DO UPDATE`` of the staged rows where ``rows``."""
    return sa.text(_STUDENT_COLUMNS + _STAGED + rows + " ON CONFLICT (phone) DO UPDATE SET "
                   "name = EXCLUDED.name, active = EXCLUDED.active, "
                   "updated_at = EXCLUDED.updated_at")


def _copy_text(value: str) -> str:
    """Escape a value for COPY's text format (names and tags have no tabs or newlines,
    being whitespace-collapsed, but a backslash must still be doubled)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                .replace("\r", "\\r"))
    return value


def _tags_text(tags: frozenset[str]) -> str:
    return TAG_SEPARATOR.join(sorted(tags))


def _tags_copy_text(cache: dict[frozenset[str], str], tags: frozenset[str]) -> str:
    text = cache.get(tags)
    if text is None:
        text = cache[tags] = _copy_text(_tags_text(tags))
    return text


def _tag_set(cache: dict[str | None, frozenset[str]], names: str | None) -> frozenset[str]:
    """Tag sets repeat across thousands of students: build each distinct one once."""
    found = cache.get(names)
    if found is None:
        found = cache[names] = (
            frozenset(names.split(TAG_SEPARATOR)) if names else frozenset()
        )
    return found


class SqlRosterRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._pg = connection.dialect.name == "postgresql"

    async def existing(self, phones: Sequence[str]) -> dict[str, ExistingStudent]:
        if not phones:
            return {}
        if self._pg:
            # One text parameter split on the server: no per-element adaptation of 100k
            # values. The planner guesses 10 rows for unnest() and picks 100k index probes
            # plus an on-disk sort; for big lookups steer it to hash joins (600 → 230 ms).
            return await self._read_postgres(
                "FROM unnest(string_to_array(%(phones)s, ',')) AS w(phone) "
                "JOIN students s ON s.phone = w.phone ",
                {"phones": ",".join(phones)}, big=len(phones) > PG_HASH_JOIN_THRESHOLD)
        # SQLite: the same shape, the phones passed as one JSON array (json_each).
        return await self._read_sqlite("FROM json_each(?) AS w JOIN students s "
                                       "ON s.phone = w.value ", (json.dumps(list(phones)),))

    async def existing_all(self, at_most: int) -> dict[str, ExistingStudent] | None:
        count = int(await self._conn.scalar(
            sa.select(sa.func.count()).select_from(students)) or 0)
        if count > at_most:
            return None
        if self._pg:
            return await self._read_postgres("FROM students s ", {},
                                             big=count > PG_HASH_JOIN_THRESHOLD)
        return await self._read_sqlite("FROM students s ", ())

    async def _read_postgres(self, source: str, params: dict[str, str], *,
                             big: bool) -> dict[str, ExistingStudent]:
        """Students ``source`` names (``FROM … s``), with their tags. Read through the
        driver's cursor: 100k plain tuples, without SQLAlchemy's per-row Result processing
        (about 0.15 s of CPU for 100,000 students)."""
        # JIT compilation off too: the planner's cost of a 100k lookup passes
        # jit_above_cost, and compiling costs more than the query (15-450 ms).
        if big:
            await self._conn.exec_driver_sql(
                "SET LOCAL enable_nestloop = off; SET LOCAL work_mem = '64MB'; "
                "SET LOCAL jit = off")
        raw = await self._conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        async with driver.cursor() as cursor:
            await cursor.execute(
                "SELECT s.id, s.phone, s.name, s.active, "
                "string_agg(t.name, %(sep)s) AS tag_names " + source +
                "LEFT JOIN student_tags st ON st.student_id = s.id "
                "LEFT JOIN tags t ON t.id = st.tag_id "
                "GROUP BY s.id",
                {**params, "sep": TAG_SEPARATOR},
            )
            fetched = await cursor.fetchall()
        tag_sets: dict[str | None, frozenset[str]] = {}
        found: dict[str, ExistingStudent] = {}
        for sid, phone, name, active, tag_names in fetched:
            tags = tag_sets.get(tag_names)
            if tags is None:
                tags = _tag_set(tag_sets, tag_names)
            found[phone] = ExistingStudent(sid, name, active, tags)
        if big:
            await self._conn.exec_driver_sql("RESET enable_nestloop; RESET work_mem; RESET jit")
        return found

    async def _read_sqlite(self, source: str,
                           params: tuple[str, ...]) -> dict[str, ExistingStudent]:
        rows: Any = await self._conn.exec_driver_sql(
            "SELECT s.id, s.phone, s.name, s.active, group_concat(t.name, ?) "
            + source + "LEFT JOIN student_tags st ON st.student_id = s.id "
            "LEFT JOIN tags t ON t.id = st.tag_id GROUP BY s.id",
            (TAG_SEPARATOR, *params),
        )
        tag_sets: dict[str | None, frozenset[str]] = {}
        return {phone: ExistingStudent(sid, name, bool(active), _tag_set(tag_sets, tag_names))
                for sid, phone, name, active, tag_names in rows}

    async def write(self, plan: RosterPlan, now: datetime) -> None:
        changes = [*plan.creates, *plan.updates]
        if not changes:
            return
        if self._pg:
            await self._write_postgres(changes, now)
        else:
            await self._write_sqlite(changes, now)

    # -- PostgreSQL: COPY + set-based statements -------------------------------------------
    async def _write_postgres(self, changes: Sequence[StudentChange], now: datetime) -> None:
        conn = self._conn
        await conn.execute(sa.text(
            # No index: the phones are unique already (validation keeps the first of each),
            # the statements below join it by hash, and indexing 100k phones costs COPY
            # about as much as loading them. ``new``: no student had this phone at lookup.
            "CREATE TEMP TABLE eki_import_students (phone text, wa_id text, "
            "name text, active boolean, tags text, replace_tags boolean, new boolean) "
            "ON COMMIT DROP"
        ))
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        # COPY text format, built in one buffer: one write instead of 100k awaits. The tag
        # sets repeat (one frozenset per distinct cell): each is written out once.
        tag_texts: dict[frozenset[str], str] = {}
        lines = [
            f"{c.phone.e164}\t{c.phone.wa_id}\t{_copy_text(c.name)}\t"
            f"{'t' if c.active else 'f'}\t{_tags_copy_text(tag_texts, c.tags)}\t"
            f"{'t' if c.replace_tags else 'f'}\t{'t' if c.student_id is None else 'f'}\n"
            for c in changes
        ]
        async with driver.cursor() as cursor, cursor.copy(
            "COPY eki_import_students (phone, wa_id, name, active, tags, replace_tags, new) "
            "FROM STDIN"
        ) as copy:
            await copy.write("".join(lines).encode())
        await conn.execute(sa.text("ANALYZE eki_import_students"))
        tagged = any(c.replace_tags for c in changes)
        if tagged:
            # The tags being replaced are those of students stored before this statement:
            # the students created below have none yet (so the join stays small).
            await conn.execute(_DELETE_REPLACED_TAGS)
        params = {"now": now.astimezone(UTC)}
        if any(c.student_id is not None for c in changes):
            await conn.execute(_upsert("NOT new"), params)
        if any(c.student_id is None for c in changes):
            try:
                # Students to create: a plain INSERT, a third cheaper for PostgreSQL than
                # INSERT … ON CONFLICT (no speculative insertion per row).
                async with conn.begin_nested():
                    await conn.execute(_INSERT_NEW, params)
            except IntegrityError:
                # A student with one of these phones was registered since the lookup (or
                # another unique violation): the upsert does what the plain INSERT could not,
                # and the tags of the students that appeared meanwhile are replaced too.
                await conn.execute(_upsert("new"), params)
                if tagged:
                    await conn.execute(_DELETE_REPLACED_TAGS)
        if not tagged:
            return
        await conn.execute(sa.text(
            "INSERT INTO tags (name) SELECT DISTINCT t.name FROM eki_import_students i "
            "CROSS JOIN LATERAL unnest(string_to_array(i.tags, :sep)) AS t(name) "
            "WHERE i.replace_tags AND t.name <> '' ON CONFLICT (name) DO NOTHING"
        ), {"sep": TAG_SEPARATOR})
        await conn.execute(sa.text(
            "INSERT INTO student_tags (student_id, tag_id) SELECT s.id, tg.id "
            "FROM eki_import_students i JOIN students s ON s.phone = i.phone "
            "CROSS JOIN LATERAL unnest(string_to_array(i.tags, :sep)) AS t(name) "
            "JOIN tags tg ON tg.name = t.name WHERE i.replace_tags"
        ), {"sep": TAG_SEPARATOR})

    # -- SQLite: executemany ----------------------------------------------------------------
    async def _write_sqlite(self, changes: Sequence[StudentChange], now: datetime) -> None:
        # Straight to the driver's executemany: SQLAlchemy's per-row parameter processing
        # would cost more than SQLite's own work. Timestamps in SQLAlchemy's SQLite format.
        conn = self._conn
        stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        await conn.exec_driver_sql(
            "INSERT INTO students (name, phone, wa_id, active, registered_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (phone) DO UPDATE SET "
            "name = excluded.name, active = excluded.active, updated_at = excluded.updated_at",
            [(c.name, c.phone.e164, c.phone.wa_id, c.active, stamp, stamp) for c in changes],
        )
        tagged = [c for c in changes if c.replace_tags]
        if not tagged:
            return
        result = await conn.exec_driver_sql(
            "SELECT s.id, s.phone FROM json_each(?) AS w JOIN students s ON s.phone = w.value",
            (json.dumps([c.phone.e164 for c in tagged]),),
        )
        rows: list[Any] = list(result)
        ids = {str(row[1]): int(row[0]) for row in rows}
        tag_ids = await SqlStudentRepository(conn).ensure_tags(
            {name for c in tagged for name in c.tags}
        )
        await conn.exec_driver_sql(
            "DELETE FROM student_tags WHERE student_id IN (SELECT value FROM json_each(?))",
            (json.dumps([ids[c.phone.e164] for c in tagged]),),
        )
        pairs = [(ids[c.phone.e164], tag_ids[name]) for c in tagged for name in c.tags]
        if pairs:
            await conn.exec_driver_sql(
                "INSERT INTO student_tags (student_id, tag_id) VALUES (?, ?)", pairs
            )


def _failed_to_json(failed: FailedRows) -> str:
    headers, rows = failed
    return json.dumps(
        {"headers": list(headers), "rows": [[r.row, list(r.cells), r.errors] for r in rows]},
        ensure_ascii=False,
        default=str,
    )


def _failed_from_json(text: str) -> FailedRows:
    data = json.loads(text)
    rows = tuple(FailedRow(row=int(r[0]), cells=tuple(r[1]), errors=str(r[2]))
                 for r in data["rows"])
    return tuple(str(h) for h in data["headers"]), rows


def _record_from_row(row: Any) -> ImportRecord:
    return ImportRecord(
        id=int(row.id), kind=row.kind, file=row.file, sha256=row.sha256, mode=row.mode,
        dry_run=bool(row.dry_run), status=row.status, rows_read=row.rows_read,
        created=row.created, updated=row.updated, unchanged=row.unchanged, errors=row.errors,
        warnings=row.warnings, duration_ms=row.duration_ms, message=row.message,
        finished_at=row.finished_at,
    )


class SqlImportRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._pg = connection.dialect.name == "postgresql"

    async def try_lock(self, kind: str) -> bool:
        if self._pg:
            taken = await self._conn.scalar(
                sa.select(sa.func.pg_try_advisory_xact_lock(IMPORT_LOCK_KEY))
            )
            return bool(taken)
        # SQLite: writing the lock row takes the database write lock until the
        # transaction ends; wait only briefly for it.
        await self._conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_LOCK_WAIT_MS}")
        try:
            await self._conn.execute(
                import_locks.update()
                .where(import_locks.c.name == "imports")
                .values(acquired_at=datetime.now(UTC))
            )
        except OperationalError as exc:
            if "locked" in str(exc.orig).lower() or "busy" in str(exc.orig).lower():
                return False
            raise
        finally:
            await self._conn.exec_driver_sql("PRAGMA busy_timeout=10000")
        return True

    async def record(
        self, report: ImportReport, finished_at: datetime, failed: FailedRows | None = None
    ) -> int:
        result = await self._conn.execute(
            import_jobs.insert()
            .values(
                kind=report.kind, file=report.file[:255], sha256=report.sha256,
                mode=str(report.mode), dry_run=report.dry_run, status=str(report.status),
                rows_read=report.rows_read, created=report.created, updated=report.updated,
                unchanged=report.unchanged, errors=report.errors, warnings=report.warnings,
                duration_ms=report.duration_ms, message=report.message,
                finished_at=finished_at,
                failed_rows=None if failed is None else _failed_to_json(failed),
            )
            .returning(import_jobs.c.id)
        )
        return int(result.scalar_one())

    async def failed_rows(self, job_id: int) -> FailedRows | None:
        text = await self._conn.scalar(
            sa.select(import_jobs.c.failed_rows).where(import_jobs.c.id == job_id)
        )
        return None if text is None else _failed_from_json(text)

    async def recent(self, *, kind: str | None = None, limit: int = 20) -> list[ImportRecord]:
        columns = [c for c in import_jobs.c if c.name != "failed_rows"]
        query = sa.select(*columns).order_by(import_jobs.c.id.desc()).limit(limit)
        if kind is not None:
            query = query.where(import_jobs.c.kind == kind)
        return [_record_from_row(row) for row in await self._conn.execute(query)]
