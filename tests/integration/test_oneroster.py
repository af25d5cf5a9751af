"""OneRoster 1.1 CSV import end to end (SQLite and PostgreSQL): a sample package written
here (folder and zip), mapped onto students, enrolments and grades, in one transaction."""

from __future__ import annotations

import argparse
import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eki_adapters.oneroster import read_oneroster
from eki_adapters.system import FixedClock
from eki_domain.model.imports import ImportFileError, ImportMode, ImportStatus, Severity
from eki_domain.services.oneroster_import import OneRosterImportService, OneRosterResult
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.cli.oneroster import add_parser, oneroster_service
from eki_entrypoints.settings import Secret, Settings

ANA, BETO = "+573001234567", "+573109876543"

MANIFEST = [
    ["propertyName", "value"],
    ["manifest.version", "1.0"],
    ["oneroster.version", "1.1"],
    ["file.academicSessions", "bulk"],
    ["file.categories", "absent"],
    ["file.classes", "bulk"],
    ["file.classResources", "absent"],
    ["file.courses", "bulk"],
    ["file.courseResources", "absent"],
    ["file.demographics", "absent"],
    ["file.enrollments", "bulk"],
    ["file.lineItems", "bulk"],
    ["file.orgs", "bulk"],
    ["file.resources", "absent"],
    ["file.results", "bulk"],
    ["file.users", "bulk"],
    ["source.systemName", "SIS Colegio San José"],
    ["source.systemCode", "sis-csj"],
]
ORGS = [
    ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
    ["org-1", "active", "2026-01-20T10:00:00.000Z", "Colegio San José", "school", "CSJ", ""],
]
USERS_HEADER = ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds",
                "role", "username", "userIds", "givenName", "familyName", "middleName",
                "identifier", "email", "sms", "phone", "agentSourcedIds", "grades", "password"]
USERS = [
    USERS_HEADER,
    ["u-ana", "active", "2026-01-20T10:00:00.000Z", "true", "org-1", "student", "ana.perez",
     "{sis:1001}", "Ana", "Pérez", "María", "1001", "ana@csj.edu.co", "+57 300 123 4567", "",
     "u-mama", "09", ""],
    ["u-beto", "active", "2026-01-20T10:00:00.000Z", "false", "org-1", "student", "beto.ruiz",
     "{sis:1002}", "Beto", "Ruiz", "", "1002", "", "", "310 987 6543", "", "09", ""],
    ["u-carla", "active", "2026-01-20T10:00:00.000Z", "true", "org-1", "student", "carla.gomez",
     "{sis:1003}", "Carla", "Gómez", "", "1003", "", "", "", "", "09", ""],
    ["u-prof", "active", "2026-01-20T10:00:00.000Z", "true", "org-1", "teacher", "prof.diaz",
     "", "Luis", "Díaz", "", "T01", "ldiaz@csj.edu.co", "", "3201112233", "", "", ""],
    ["u-mama", "active", "2026-01-20T10:00:00.000Z", "true", "org-1", "guardian", "mama.ana",
     "", "Marta", "Pérez", "", "", "", "", "3004445566", "u-ana", "", ""],
]
COURSES = [
    ["sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode",
     "grades", "orgSourcedId", "subjects", "subjectCodes"],
    ["c-mat", "active", "2026-01-20T10:00:00.000Z", "y2026", "Matemáticas", "MAT9", "09",
     "org-1", "Matemáticas", ""],
    ["c-ing", "active", "2026-01-20T10:00:00.000Z", "y2026", "Inglés", "ING9", "09", "org-1",
     "Inglés", ""],
]
SESSIONS = [
    ["sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
     "parentSourcedId", "schoolYear"],
    ["y2026", "active", "2026-01-20T10:00:00.000Z", "Año 2026", "schoolYear", "2026-01-19",
     "2026-11-27", "", "2026"],
    ["t1", "active", "2026-01-20T10:00:00.000Z", "Periodo 1", "term", "2026-01-19",
     "2026-04-03", "y2026", "2026"],
]
CLASSES = [
    ["sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
     "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects",
     "subjectCodes", "periods"],
    ["cl-mat", "active", "2026-01-20T10:00:00.000Z", "Matemáticas 9A", "09", "c-mat", "MAT9-A",
     "scheduled", "Aula 3", "org-1", "t1", "", "", "1"],
    # no title: named after its course and class code
    ["cl-ing", "active", "2026-01-20T10:00:00.000Z", "", "09", "c-ing", "9A", "scheduled",
     "Aula 5", "org-1", "t1", "", "", "2"],
]
ENROLLMENTS = [
    ["sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
     "userSourcedId", "role", "primary", "beginDate", "endDate"],
    ["e1", "active", "2026-01-20T10:00:00.000Z", "cl-mat", "org-1", "u-ana", "student",
     "false", "2026-01-19", "2026-04-03"],
    ["e2", "active", "2026-01-20T10:00:00.000Z", "cl-ing", "org-1", "u-ana", "student",
     "false", "2026-01-19", "2026-04-03"],
    ["e3", "active", "2026-01-20T10:00:00.000Z", "cl-mat", "org-1", "u-beto", "student",
     "false", "2026-01-19", "2026-04-03"],
    ["e4", "active", "2026-01-20T10:00:00.000Z", "cl-mat", "org-1", "u-carla", "student",
     "false", "2026-01-19", "2026-04-03"],  # no phone: left out
    ["e5", "active", "2026-01-20T10:00:00.000Z", "cl-mat", "org-1", "u-prof", "teacher",
     "true", "2026-01-19", "2026-04-03"],  # not a student enrolment: ignored
    ["e6", "active", "2026-01-20T10:00:00.000Z", "cl-fis", "org-1", "u-beto", "student",
     "false", "2026-01-19", "2026-04-03"],  # unknown class
]
LINE_ITEMS = [
    ["sourcedId", "status", "dateLastModified", "title", "description", "assignDate",
     "dueDate", "classSourcedId", "categorySourcedId", "gradingPeriodSourcedId",
     "resultValueMin", "resultValueMax"],
    ["li-1", "active", "2026-01-20T10:00:00.000Z", "Taller 1", "Fracciones",
     "2026-02-02T00:00:00.000Z", "2026-02-10T23:59:00.000Z", "cl-mat", "cat-1", "t1", "0.0",
     "5.0"],
    ["li-2", "active", "2026-01-20T10:00:00.000Z", "Quiz", "", "2026-02-12T00:00:00.000Z",
     "2026-02-20T23:59:00.000Z", "cl-mat", "cat-2", "t1", "0.0", "50.0"],
    ["li-3", "active", "2026-01-20T10:00:00.000Z", "Examen final", "", "",
     "2026-03-20T23:59:00.000Z", "cl-mat", "cat-3", "t1", "0.0", "5.0"],
    ["li-4", "active", "2026-01-20T10:00:00.000Z", "Writing", "An essay", "",
     "2026-02-15T23:59:00.000Z", "cl-ing", "cat-1", "t1", "0.0", "100.0"],
]
RESULTS_HEADER = ["sourcedId", "status", "dateLastModified", "lineItemSourcedId",
                  "studentSourcedId", "scoreStatus", "score", "scoreDate", "comment"]
RESULTS = [
    RESULTS_HEADER,
    ["r1", "active", "2026-02-11T10:00:00.000Z", "li-1", "u-ana", "fully graded", "4.5",
     "2026-02-11", "Muy bien"],
    ["r2", "active", "2026-02-21T10:00:00.000Z", "li-2", "u-ana", "fully graded", "45.0",
     "2026-02-21", ""],
    ["r3", "active", "2026-02-21T10:00:00.000Z", "li-3", "u-ana", "not submitted", "0",
     "", ""],  # pending
    ["r4", "active", "2026-02-16T10:00:00.000Z", "li-4", "u-ana", "exempt", "", "", "Viaje"],
    ["r5", "active", "2026-02-11T10:00:00.000Z", "li-1", "u-beto", "fully graded", "2.5",
     "2026-02-11", ""],
    ["r6", "active", "2026-02-21T10:00:00.000Z", "li-2", "u-beto", "partially graded", "30",
     "2026-02-21", "Falta el punto 4"],
    ["r7", "active", "2026-02-21T10:00:00.000Z", "li-9", "u-beto", "fully graded", "3.0",
     "", ""],  # unknown lineItem
    ["r8", "active", "2026-02-11T10:00:00.000Z", "li-1", "u-carla", "fully graded", "4.0",
     "", ""],  # no phone: left out
    ["r9", "active", "2026-02-11T10:00:00.000Z", "li-1", "u-nadie", "fully graded", "3.5",
     "", ""],  # unknown user
]
#: Lines (in their files) of the rows that are wrong on purpose.
BAD = {("users.csv", 4): "NO_PHONE", ("enrollments.csv", 7): "MISSING_CLASS",
       ("results.csv", 8): "MISSING_LINE_ITEM", ("results.csv", 10): "MISSING_USER"}


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode()


def package_files(*, clean: bool = False) -> dict[str, bytes]:
    """The sample package; ``clean`` leaves out every row that is wrong on purpose."""
    users, enrollments, results = USERS, ENROLLMENTS, RESULTS
    if clean:
        users = [row for row in USERS if row[0] != "u-carla"]
        enrollments = [row for row in ENROLLMENTS if row[0] not in {"e4", "e6"}]
        results = [row for row in RESULTS if row[0] not in {"r7", "r8", "r9"}]
    return {
        "manifest.csv": _csv(MANIFEST),
        "orgs.csv": _csv(ORGS),
        # a BOM, as Excel writes it
        "users.csv": b"\xef\xbb\xbf" + _csv(users),
        "courses.csv": _csv(COURSES),
        "academicSessions.csv": _csv(SESSIONS),
        "classes.csv": _csv(CLASSES),
        "enrollments.csv": _csv(enrollments),
        "lineItems.csv": _csv(LINE_ITEMS),
        # headers in another case: accepted
        "results.csv": _csv([[h.lower() for h in results[0]], *results[1:]]),
    }


def write_folder(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def write_zip(path: Path, files: dict[str, bytes], prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(prefix + name, data)
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "oneroster", package_files())


@pytest.fixture
def zipped(tmp_path: Path) -> Path:
    return write_zip(tmp_path / "oneroster.zip", package_files(), prefix="export-2026/")


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await bootstrap(Settings(database_url=database_url, admin_token=Secret("t")),
                          clock=FixedClock(datetime(2026, 3, 1, 15, tzinfo=UTC)))
    yield app
    await app.aclose()


def service(eki: Eki) -> OneRosterImportService:
    return oneroster_service(eki)


def counts(result: OneRosterResult) -> list[tuple[int, int, int, int, int]]:
    return [(r.rows_read, r.created, r.updated, r.unchanged, r.rows_rejected)
            for r in result.reports]


# -- reading ---------------------------------------------------------------------------------


def test_folder_and_zip_read_the_same(folder: Path, zipped: Path) -> None:
    from_folder, from_zip = read_oneroster(folder), read_oneroster(zipped)
    assert from_folder.version == "1.1"
    for a, b in ((from_folder.students, from_zip.students),
                 (from_folder.enrollments, from_zip.enrollments),
                 (from_folder.grades, from_zip.grades)):
        assert list(a.rows) == list(b.rows) and a.sha256 == b.sha256
    assert from_folder.problems == from_zip.problems
    assert from_zip.students.filename == "oneroster.zip/users.csv"


def test_mapping_onto_the_three_sheets(folder: Path) -> None:
    package = read_oneroster(folder)
    # sheet rows carry the line numbers of users.csv, enrollments.csv and results.csv
    assert list(package.students.rows) == [
        (1, ("nombre", "telefono", "activo")),
        (2, ("Ana María Pérez", "+57 300 123 4567", "true")),
        (3, ("Beto Ruiz", "310 987 6543", "false")),
    ]
    assert list(package.enrollments.rows) == [
        (1, ("telefono", "curso", "periodo", "codigo")),
        (2, ("+57 300 123 4567", "Matemáticas 9A", "Periodo 1", "MAT9-A")),
        (3, ("+57 300 123 4567", "Inglés 9A", "Periodo 1", "9A")),
        (4, ("310 987 6543", "Matemáticas 9A", "Periodo 1", "MAT9-A")),
    ]
    grades = dict(package.grades.rows)
    assert grades[1][:5] == ("telefono", "curso", "periodo", "actividad", "nota")
    assert grades[2] == ("+57 300 123 4567", "Matemáticas 9A", "Periodo 1", "Taller 1", "4.5",
                         "5.0", "2026-02-10")
    assert grades[4][4] is None  # not submitted → pending
    assert grades[5][3:5] == ("Writing", "excusa")  # exempt
    assert sorted(grades) == [1, 2, 3, 4, 5, 6, 7]
    errors = {(p.file, p.row): p.code for p in package.problems  # type: ignore[attr-defined]
              if p.severity is Severity.ERROR}
    assert errors == BAD
    no_phone = next(p for p in package.problems if p.code == "NO_PHONE")
    assert no_phone.message.startswith("users.csv, línea 4: el estudiante «Carla Gómez»")
    assert "Tampoco se importaron sus matrículas (1) ni sus notas (1)." in no_phone.message
    missing = next(p for p in package.problems if p.code == "MISSING_LINE_ITEM")
    assert missing.as_dict()["file"] == "results.csv" and missing.value == "li-9"


def test_unreadable_packages(tmp_path: Path) -> None:
    broken = tmp_path / "roto.zip"
    broken.write_bytes(zipfile_bytes()[:60])
    with pytest.raises(ImportFileError) as caught:
        read_oneroster(broken)
    assert caught.value.code == "CORRUPT_FILE" and "no es un .zip válido" in caught.value.message

    without_users = write_zip(tmp_path / "sin_usuarios.zip",
                              {k: v for k, v in package_files().items() if k != "users.csv"})
    with pytest.raises(ImportFileError) as caught:
        read_oneroster(without_users)
    assert caught.value.code == "NOT_ONEROSTER" and "users.csv" in caught.value.message

    files = package_files()
    files["results.csv"] = b'lineItemSourcedId,studentSourcedId,score\r\nli-1,"u-ana,4\r\n'
    with pytest.raises(ImportFileError) as caught:
        read_oneroster(write_folder(tmp_path / "malo", files))
    assert caught.value.code == "CORRUPT_FILE" and "results.csv" in caught.value.message
    files["results.csv"] = "lineItemSourcedId,studentSourcedId\r\n".encode("utf-16")
    with pytest.raises(ImportFileError) as caught:
        read_oneroster(write_folder(tmp_path / "utf16", files))
    assert caught.value.code == "WRONG_FORMAT"

    files = package_files()
    files["enrollments.csv"] = _csv([["sourcedId", "classSourcedId", "role"], ["e1", "x", "s"]])
    with pytest.raises(ImportFileError) as caught:
        read_oneroster(write_folder(tmp_path / "sin_columna", files))
    assert caught.value.code == "MISSING_COLUMN" and "«userSourcedId»" in caught.value.message


def zipfile_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in package_files().items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_other_versions_and_missing_files_are_warnings(tmp_path: Path) -> None:
    files = package_files(clean=True)
    files["manifest.csv"] = _csv([["propertyName", "value"], ["oneroster.version", "1.2"],
                                  ["file.lineItems", "bulk"], ["file.results", "bulk"]])
    del files["lineItems.csv"], files["results.csv"]
    package = read_oneroster(write_folder(tmp_path / "v12", files))
    assert package.version == "1.2"
    assert {p.code for p in package.problems} == {"ONEROSTER_VERSION", "MISSING_FILE"}
    assert all(p.severity is Severity.WARNING for p in package.problems)
    assert len(package.grades.rows) == 1  # header only


def test_deleted_records_wrong_roles_and_other_encodings(tmp_path: Path) -> None:
    files = package_files(clean=True)
    users = [row[:] for row in USERS if row[0] != "u-carla"]
    users[2][1] = "tobedeleted"  # Beto
    files["users.csv"] = _csv(users).decode().encode("cp1252")  # Excel's "CSV" on Windows
    classes = [row[:] for row in CLASSES]
    classes[2][5] = "c-nada"  # Inglés: no title and an unknown course
    files["classes.csv"] = _csv(classes)
    files["enrollments.csv"] = _csv([*ENROLLMENTS[:2], ["e9", "tobedeleted", "", "cl-ing", "",
                                                        "u-ana", "student", "", "", ""],
                                     ["e10", "active", "", "cl-mat", "", "u-prof", "student",
                                      "", "", ""]])
    package = read_oneroster(write_folder(tmp_path / "p", files))
    assert [row for _n, row in package.students.rows[1:]] == [
        ("Ana María Pérez", "+57 300 123 4567", "true")]  # accents survive cp1252
    assert [(p.file, p.row, p.code) for p in package.problems] == [  # type: ignore[attr-defined]
        ("users.csv", 0, "NOT_UTF8"), ("users.csv", 3, "USER_TO_BE_DELETED"),
        ("classes.csv", 3, "MISSING_COURSE"), ("classes.csv", 3, "CLASS_WITHOUT_NAME"),
        ("enrollments.csv", 4, "NOT_A_STUDENT")]
    # Ana's results in the nameless class and Beto's results are left out quietly
    assert [row[3] for _n, row in package.grades.rows[1:]] == ["Taller 1", "Quiz",
                                                                "Examen final"]


# -- importing -------------------------------------------------------------------------------


async def test_import_students_enrolments_and_grades(eki: Eki, zipped: Path) -> None:
    result = await service(eki).import_package(read_oneroster(zipped))
    assert result.status is ImportStatus.COMPLETED
    assert counts(result) == [(2, 2, 0, 0, 0), (3, 3, 0, 0, 0), (6, 6, 0, 0, 0)]
    assert [r.message.split(":")[0] for r in result.reports] == [
        "Estudiantes", "Matrículas", "Notas"]
    assert {(p.file, p.row): p.code for p in result.problems  # type: ignore[attr-defined]
            if p.severity is Severity.ERROR} == BAD
    assert result.errors == 4
    assert all(r.job_id > 0 for r in (result.students, result.enrollments, result.grades))

    ana = await eki.registration.find(ANA)
    beto = await eki.registration.find(BETO)
    assert (ana.name, ana.active) == ("Ana María Pérez", True)
    assert (beto.name, beto.active) == ("Beto Ruiz", False)  # enabledUser false
    async with eki.uow() as uow:
        assert await uow.students.count() == 2  # not Carla, the teacher or the guardian
        history = await uow.imports.recent()
    assert [(h.kind, h.status) for h in history] == [
        ("progress", "completed"), ("progress", "completed"), ("students", "completed")]
    assert history[0].file == "oneroster.zip/results.csv"

    assert ana.id is not None and beto.id is not None
    report = await eki.progress.report(ana.id)
    by_name = {c.course: c for c in report.courses}
    assert set(by_name) == {"Matemáticas 9A", "Inglés 9A"}
    math = by_name["Matemáticas 9A"]
    assert (math.code, math.period) == ("MAT9-A", "Periodo 1")
    # Taller 1 4.5/5 and Quiz 45/50 → 4.5; the final exam is not submitted: pending
    assert (math.average, math.band, math.graded, math.total) == (4.5, "Alto", 2, 3)
    assert [(p.title, p.due_date and p.due_date.isoformat()) for p in math.pending] == [
        ("Examen final", "2026-03-20")]
    english = by_name["Inglés 9A"]
    assert (english.code, english.average, english.graded, english.total) == ("9A", None, 0, 0)
    assert [(g.title, g.status) for g in english.grades] == [("Writing", "excused")]

    beto_math = (await eki.progress.report(beto.id)).courses
    assert [(c.course, c.average, c.graded, c.total) for c in beto_math] == [
        ("Matemáticas 9A", 2.8, 2, 3)]  # (2.5 + 30/50·5) / 2 = 2.75 → 2.8


async def test_reimport_is_idempotent_and_clears_the_cached_reports(
        eki: Eki, folder: Path, tmp_path: Path) -> None:
    oneroster = service(eki)
    await oneroster.import_package(read_oneroster(folder))
    again = await oneroster.import_package(read_oneroster(folder))
    assert counts(again) == [(2, 0, 0, 2, 0), (3, 0, 0, 3, 0), (6, 0, 0, 6, 0)]

    ana = await eki.registration.find(ANA)
    assert ana.id is not None
    before = await eki.progress.report(ana.id)
    assert await eki.progress.report(ana.id) is before  # cached
    files = package_files()
    files["results.csv"] = _csv([RESULTS_HEADER, ["r3", "active", "", "li-3", "u-ana",
                                                  "fully graded", "3.5", "", ""]])
    changed = await oneroster.import_package(read_oneroster(write_folder(tmp_path / "b", files)))
    assert counts(changed)[2] == (1, 0, 1, 0, 0)
    math = next(c for c in (await eki.progress.report(ana.id)).courses
                if c.course == "Matemáticas 9A")
    assert (math.graded, math.total) == (3, 3)  # (4.5 + 4.5 + 3.5) / 3 = 4.17 → 4.2
    assert math.average == 4.2


async def test_dry_run_writes_nothing_and_counts_the_same(eki: Eki, zipped: Path) -> None:
    package = read_oneroster(zipped)
    dry = await service(eki).import_package(package, dry_run=True)
    assert dry.status is ImportStatus.DRY_RUN
    assert all(r.dry_run and r.status is ImportStatus.DRY_RUN for r in dry.reports)
    assert dry.reports[0].message.startswith("Estudiantes: Simulación (no se guardó nada)")
    async with eki.uow() as uow:
        assert await uow.students.count() == 0
        assert await uow.progress.course_periods(["Matemáticas 9A"]) == {}
    real = await service(eki).import_package(package)
    # the dry run's enrolments and grades saw the students it would have created
    assert counts(real) == counts(dry) == [(2, 2, 0, 0, 0), (3, 3, 0, 0, 0), (6, 6, 0, 0, 0)]
    assert [i.code for r in dry.reports for i in r.issues] == []


async def test_strict_mode_rejects_the_whole_package(
        eki: Eki, folder: Path, tmp_path: Path) -> None:
    strict = await service(eki).import_package(read_oneroster(folder), mode=ImportMode.STRICT)
    assert strict.status is ImportStatus.REJECTED
    assert all(r.status is ImportStatus.REJECTED and r.mode is ImportMode.STRICT
               and (r.created, r.updated, r.unchanged) == (0, 0, 0) for r in strict.reports)
    assert "Modo estricto: no se guardó nada" in strict.students.report.message
    async with eki.uow() as uow:
        assert await uow.students.count() == 0
        assert {h.status for h in await uow.imports.recent()} == {"rejected"}

    clean = write_folder(tmp_path / "limpio", package_files(clean=True))
    accepted = await service(eki).import_package(read_oneroster(clean), mode=ImportMode.STRICT)
    assert accepted.status is ImportStatus.COMPLETED and accepted.errors == 0
    assert counts(accepted) == [(2, 2, 0, 0, 0), (3, 3, 0, 0, 0), (6, 6, 0, 0, 0)]


async def test_row_errors_point_at_the_csv_line(eki: Eki, tmp_path: Path) -> None:
    files = package_files(clean=True)
    users = [row[:] for row in USERS if row[0] != "u-carla"]
    users[2][14] = "12"  # Beto's phone: too short
    files["users.csv"] = _csv(users)
    files["results.csv"] = _csv([*RESULTS[:2], ["r2", "active", "", "li-2", "u-ana",
                                                "fully graded", "75", "", ""]])
    result = await service(eki).import_package(
        read_oneroster(write_folder(tmp_path / "p", files)))
    assert [(i.row, i.column) for i in result.students.report.issues] == [(3, "telefono")]
    # Beto's enrolment (enrollments.csv line 4) cannot find him either
    assert [(i.row, i.code) for i in result.enrollments.report.issues][-1][0] == 4
    assert [(i.row, i.code) for i in result.grades.report.issues] == [
        (3, "SCORE_OUT_OF_RANGE")]  # 75 of a maximum of 50


async def test_shared_phones_do_not_mix_students(eki: Eki, tmp_path: Path) -> None:
    files = package_files(clean=True)
    users = [row[:] for row in USERS if row[0] != "u-carla"]
    users[2][13], users[2][14] = "3001234567", ""  # Beto with Ana's phone
    files["users.csv"] = _csv(users)
    result = await service(eki).import_package(
        read_oneroster(write_folder(tmp_path / "p", files)))
    shared = next(p for p in result.problems if p.code == "SHARED_PHONE")
    assert shared.row == 3 and "«Ana María Pérez» (línea 2)" in shared.message
    assert [i.code for i in result.students.report.issues] == ["DUPLICATE_IN_FILE"]
    assert counts(result)[1:] == [(2, 2, 0, 0, 0), (4, 4, 0, 0, 0)]  # only Ana's rows


# -- the command -----------------------------------------------------------------------------


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="eki")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(list(argv))


async def test_command_json_text_and_exit_codes(
        database_url: str, zipped: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=database_url)

    async def call(*argv: str) -> tuple[int, str, str]:
        args = _parse("oneroster", "import", *argv)
        code = await args.handler(settings, args)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = await call(str(zipped), "--strict")
    assert code == 1, err
    assert "Modo estricto: no se guardó nada." in out

    code, out, err = await call(str(zipped), "--dry-run", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"students", "enrollments", "grades", "problems"}
    assert (data["students"]["status"], data["grades"]["created"]) == ("dry_run", 6)
    assert {(p["file"], p["row"], p["code"]) for p in data["problems"]
            if p["severity"] == "error"} == {(f, r, c) for (f, r), c in BAD.items()}

    code, out, err = await call(str(zipped))
    assert code == 0, err
    assert "Estudiantes: 2 filas leídas: 2 creados" in out
    assert "Matrículas: 3 filas leídas: 3 creados" in out
    assert "Notas: 6 filas leídas: 6 creados" in out
    assert "results.csv, línea 8: la actividad «li-9» no existe en lineItems.csv" in out

    broken = tmp_path / "roto.zip"
    broken.write_bytes(b"PK\x03\x04 no es un zip")
    code, out, err = await call(str(broken))
    assert code == 2 and "no es un .zip válido" in err
    code, _, err = await call(str(tmp_path / "no-existe.zip"))
    assert code == 2 and "not found" in err


def test_the_real_cli_runs_it(database_url: str, zipped: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from eki_entrypoints.cli import run

    monkeypatch.setenv("EKI_DATABASE_URL", database_url)
    assert run(["oneroster", "import", str(zipped), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"students", "enrollments", "grades", "problems"}
    assert data["students"]["created"] >= 2
    assert run(["oneroster", "import", str(zipped.parent / "missing.zip")]) == 2
