"""Progress benchmarks on PostgreSQL (throwaway databases, dropped afterwards).

    python bench/bench_progress.py [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
                                   [--results 1000000] [--reports 2000] [--json]

1. Report: one student with 8 courses × 30 assessments and 200 attendance rows, among
   2,000 students of the same school; p50/p99 of ``ProgressService.report`` uncached (cache
   off) and cached. Goals: uncached p50 <= 5 ms, cached <= 0.1 ms.
2. Gradebook import of ``--results`` rows (a CSV: students × assessments) through
   ``eki progress import`` end to end (process start to exit) and the service's own
   duration. Goal: >= 100,000 rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from eki_adapters.cache import TTLReportCache
from eki_adapters.sql import SqlUnitOfWorkFactory, create_engine, upgrade
from eki_adapters.system import SystemClock
from eki_domain.model.progress import (
    AttendanceRow,
    AttendanceStatus,
    GradeRow,
    ResultStatus,
)
from eki_domain.services.progress import ProgressService

EKI = str(Path(sys.executable).with_name("eki"))
COURSES = ["Matemáticas", "Lenguaje", "Inglés", "Ciencias Naturales", "Ciencias Sociales",
           "Educación Física", "Artes", "Tecnología"]


def conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Database:
    def __init__(self, admin_url: str) -> None:
        self.admin = admin_url
        self.name = f"eki_bench_{secrets.token_hex(4)}"
        self.url = make_url(admin_url).set(database=self.name).render_as_string(
            hide_password=False)

    def __enter__(self) -> Database:
        with psycopg.connect(conninfo(self.admin), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *_exc: object) -> None:
        with psycopg.connect(conninfo(self.admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def load_students(url: str, count: int) -> list[str]:
    phones = [f"+5730{i:08d}" for i in range(count)]
    now = datetime.now(UTC)
    with psycopg.connect(conninfo(url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY students (name, phone, wa_id, active, registered_at, updated_at) "
                      "FROM STDIN") as copy:
            for i, phone in enumerate(phones):
                copy.write_row((f"Estudiante {i}", phone, phone[1:], True, now, now))
        cur.execute("ANALYZE students")
    return phones


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def report_bench(url: str, reports: int) -> dict[str, float]:
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    load_students(url, 2000)
    engine = create_engine(url, pool_size=4)
    uow = SqlUnitOfWorkFactory(engine)
    now = datetime.now(UTC)
    async with uow() as work:
        ids = {p: s.id for p, s in (await work.roster.existing(
            [f"+5730{i:08d}" for i in range(2000)])).items()}
    grade_rows: list[GradeRow] = []
    attendance_rows: list[AttendanceRow] = []
    for n, (phone, sid) in enumerate(ids.items()):
        for c, course in enumerate(COURSES):
            for a in range(30 if n == 0 else 3):  # the measured student has the full book
                graded = a < 24
                grade_rows.append(GradeRow(
                    row=2, student_id=sid, course=course, period="2026-1",
                    assessment=f"Actividad {a + 1}", max_score=None,
                    weight=None, due_date=date(2026, 2, 1) + timedelta(days=a),
                    score=round(1 + ((n + c + a) % 40) / 10, 1) if graded else None,
                    status=ResultStatus.GRADED if graded else ResultStatus.PENDING))
        if n == 0:
            for d in range(200):
                attendance_rows.append(AttendanceRow(
                    row=2, student_id=sid, course=COURSES[d % 8], period="2026-1",
                    day=date(2026, 2, 1) + timedelta(days=d // 8),
                    status=AttendanceStatus.ABSENT if d % 17 == 0 else AttendanceStatus.PRESENT))
        _ = phone
    async with uow() as work:
        await work.progress.write_grades(grade_rows, now)
        await work.progress.write_attendance(attendance_rows, now)
        await work.commit()
    target = ids["+573000000000"]

    service = ProgressService(uow, SystemClock())
    for _ in range(50):
        await service.report(target)
    uncached: list[float] = []
    for _ in range(reports):
        started = time.perf_counter()
        report = await service.report(target)
        uncached.append((time.perf_counter() - started) * 1000)
    assert len(report.courses) == 8 and sum(c.total for c in report.courses) == 240

    cached_service = ProgressService(uow, SystemClock(), cache=TTLReportCache())
    await cached_service.report(target)
    cached: list[float] = []
    for _ in range(reports * 10):
        started = time.perf_counter()
        await cached_service.report(target)
        cached.append((time.perf_counter() - started) * 1000)
    await engine.dispose()
    return {"uncached_p50_ms": statistics.median(uncached), "uncached_p99_ms": pct(uncached, .99),
            "cached_p50_ms": statistics.median(cached), "cached_p99_ms": pct(cached, .99)}


def import_bench(url: str, results: int, workdir: Path) -> dict[str, float]:
    per_student = 200  # 8 courses × 25 assessments
    students = max(1, results // per_student)
    env = {**os.environ, "EKI_DATABASE_URL": url, "EKI_LOG_LEVEL": "WARNING"}
    subprocess.run([EKI, "db", "upgrade"], env=env, check=True, capture_output=True)
    load_students(url, students)
    path = workdir / f"notas-{results}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["telefono", "curso", "actividad", "nota", "peso", "fecha_entrega",
                         "periodo"])
        for s in range(students):
            phone = f"30{s:08d}"
            for c, course in enumerate(COURSES):
                for a in range(per_student // len(COURSES)):
                    writer.writerow([phone, course, f"Actividad {a + 1}",
                                     f"{1 + (s + c + a) % 40 / 10:.1f}".replace(".", ","), "",
                                     f"2026-02-{1 + a % 28:02d}", "2026-1"])
    rows = students * per_student
    timings = {}
    for label in ("first", "reimport"):
        started = time.perf_counter()
        done = subprocess.run([EKI, "progress", "import", str(path), "--json"], env=env,
                              capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"import failed: {done.stderr[-2000:]}")
        report = json.loads(done.stdout)
        timings[f"{label}_s"] = elapsed
        timings[f"{label}_service_s"] = report["duration_ms"] / 1000
        timings[f"{label}_created"] = report["created"]
        timings[f"{label}_unchanged"] = report["unchanged"]
        timings[f"{label}_errors"] = report["errors"]
    timings["rows"] = rows
    timings["rows_per_s_e2e"] = rows / timings["first_s"]
    timings["rows_per_s_service"] = rows / timings["first_service_s"]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description="progress report and gradebook benchmarks")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--results", type=int, default=1_000_000)
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out: dict[str, object] = {}
    with Database(args.pg_url) as db:
        out["report"] = asyncio.run(report_bench(db.url, args.reports))
    if not args.skip_import:
        with Database(args.pg_url) as db, tempfile.TemporaryDirectory() as tmp:
            out["import"] = import_bench(db.url, args.results, Path(tmp))
    if args.json:
        print(json.dumps(out, indent=2))
        return
    def ok(cond: bool) -> str:
        return "OK" if cond else "MISSED"

    r = out["report"]
    assert isinstance(r, dict)
    print(f"report uncached: p50 {r['uncached_p50_ms']:.2f} ms, p99 {r['uncached_p99_ms']:.2f} ms"
          f" (goal p50 <= 5 ms) {ok(r['uncached_p50_ms'] <= 5)}")
    print(f"report cached:   p50 {r['cached_p50_ms'] * 1000:.1f} µs, p99 "
          f"{r['cached_p99_ms'] * 1000:.1f} µs (goal <= 0.1 ms) {ok(r['cached_p50_ms'] <= 0.1)}")
    if "import" in out:
        i = out["import"]
        assert isinstance(i, dict)
        print(f"gradebook import of {i['rows']} rows: {i['first_s']:.1f} s end to end "
              f"({i['rows_per_s_e2e']:,.0f} rows/s; service {i['first_service_s']:.1f} s = "
              f"{i['rows_per_s_service']:,.0f} rows/s), created {i['first_created']}, errors "
              f"{i['first_errors']} (goal >= 100,000 rows/s) "
              f"{ok(i['rows_per_s_e2e'] >= 100_000)}")
        print(f"re-import: {i['reimport_s']:.1f} s, unchanged {i['reimport_unchanged']}")


if __name__ == "__main__":
    main()
