"""OneRoster 1.1 records → EKI's three import sheets (students, enrolments, grades).

* **users.csv**: role ``student`` (any case), status not ``tobedeleted`` → a student row
  ``nombre`` = "givenName middleName familyName", ``telefono`` = ``sms`` or else ``phone``,
  ``activo`` = ``enabledUser``. A student without a phone is a problem (error) and their
  enrolments and results are left out. So are those of a student whose phone another user
  of the package already has: EKI knows students by phone, and they would be mixed up.
* **classes.csv** (+ courses.csv, academicSessions.csv): a class is a course named by its
  ``title`` (or its course's title and its ``classCode``), coded by ``classCode`` (or the
  course's ``courseCode``), in the period named by the title of its first known term.
* **enrollments.csv**: role ``student`` → ``telefono``, ``curso``, ``periodo``, ``codigo``.
* **lineItems.csv** + **results.csv**: one grade row per result — ``actividad`` = the
  lineItem's title, ``nota`` = ``score`` (``exempt`` → ``excusa``; ``not submitted``,
  ``submitted`` or no score → pending), ``nota_maxima`` = ``resultValueMax``,
  ``fecha_entrega`` = the date part of ``dueDate``, ``periodo`` = the class's.

References that lead nowhere are problems naming the file and line, never crashes. Sheet
rows are numbered with the line numbers of users.csv, enrollments.csv and results.csv.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date

import attrs

from eki_adapters.oneroster.files import CsvTable, RawPackage, empty_table, problem
from eki_domain.model.imports import RowIssue, Severity, Sheet
from eki_domain.services.oneroster_import import GuardianLinkRow, OneRosterPackage

STUDENT_COLUMNS = ("nombre", "telefono", "activo")
#: users.csv roles of guardians, and the relationship EKI records for each.
GUARDIAN_ROLES = {"parent": "acudiente", "guardian": "acudiente", "relative": "otro"}
ENROLLMENT_COLUMNS = ("telefono", "curso", "periodo", "codigo")
GRADE_COLUMNS = ("telefono", "curso", "periodo", "actividad", "nota", "nota_maxima",
                 "fecha_entrega")
SUPPORTED_VERSION = "1.1"

_FILE_ORDER = {name: position for position, name in enumerate(
    ("manifest.csv", "users.csv", "courses.csv", "academicSessions.csv", "classes.csv",
     "enrollments.csv", "lineItems.csv", "results.csv"))}
_DELETED = "tobedeleted"
_PENDING_STATUSES = {"not submitted", "submitted"}
_GRADED_STATUSES = {"fully graded", "partially graded"}
_DIGITS = re.compile(r"\D+")


@attrs.define
class _User:
    line: int
    sourced_id: str
    role: str
    deleted: bool
    name: str
    phone: str
    is_student: bool = False
    agents: tuple[str, ...] = ()  # agentSourcedIds
    skip_reason: str | None = None  # "no_phone" or "shared_phone": rows left out
    shared_with: _User | None = None
    skipped_enrollments: int = 0
    skipped_results: int = 0


@attrs.frozen
class _Class:
    line: int
    name: str | None  # None: unusable (reported once on classes.csv)
    code: str | None
    period: str | None
    deleted: bool


@attrs.define
class _LineItem:
    line: int
    title: str
    klass: _Class | None  # None: its class is missing (reported once on lineItems.csv)
    max_score: str | None
    due: str | None
    deleted: bool
    results: int = 0


def build_package(raw: RawPackage) -> OneRosterPackage:
    tables = raw.tables
    problems: list[RowIssue] = list(raw.problems)
    version = _check_manifest(tables.get("manifest.csv"), tables, problems)
    users_table = tables["users.csv"]
    users, student_rows = _students(users_table, problems)
    guardian_links = _guardian_links(users, student_rows, problems)
    classes = _classes(tables, problems)
    enrollment_table = tables.get("enrollments.csv") or empty_table("enrollments.csv")
    enrollment_rows = _enrollments(enrollment_table, users, classes, problems)
    line_items = _line_items(tables.get("lineItems.csv") or empty_table("lineItems.csv"),
                             classes, problems)
    result_table = tables.get("results.csv") or empty_table("results.csv")
    grade_rows = _results(result_table, users, line_items, problems)
    _left_out(users_table, users, problems)
    for item_id, item in line_items.items():
        if not item.deleted and item.klass is not None and item.klass.name is not None \
                and item.results == 0:
            problems.append(problem(
                "lineItems.csv", item.line, "sourcedId", item_id, "LINE_ITEM_WITHOUT_RESULTS",
                f"la actividad «{item.title}» no tiene ningún resultado en results.csv; EKI "
                "la creará cuando llegue el primero (aunque sea «not submitted»).",
                Severity.WARNING))
    problems.sort(key=lambda p: (_FILE_ORDER.get(getattr(p, "file", ""), 99), p.row))
    return OneRosterPackage(
        name=raw.name,
        students=_sheet(raw.name, users_table, STUDENT_COLUMNS, student_rows),
        enrollments=_sheet(raw.name, enrollment_table, ENROLLMENT_COLUMNS, enrollment_rows),
        grades=_sheet(raw.name, result_table, GRADE_COLUMNS, grade_rows),
        problems=tuple(problems),
        version=version,
        guardian_links=guardian_links,
    )


def _sheet(package: str, table: CsvTable, columns: tuple[str, ...],
           rows: list[tuple[int, Sequence[object]]]) -> Sheet:
    return Sheet(filename=f"{package}/{table.file}", sha256=table.sha256,
                 rows=[(table.header_line, columns), *rows])


def _deleted(table: CsvTable, cells: Sequence[str]) -> bool:
    return table.value(cells, "status").lower() == _DELETED


def _check_manifest(manifest: CsvTable | None, tables: Mapping[str, CsvTable],
                    problems: list[RowIssue]) -> str | None:
    if manifest is None:
        return None
    properties: dict[str, tuple[int, str]] = {}
    for line, cells in manifest.rows:
        key = manifest.value(cells, "propertyName")
        if key:
            properties.setdefault(key.lower(), (line, manifest.value(cells, "value")))
    found = properties.get("oneroster.version")
    version = found[1] if found else None
    if found is None:
        problems.append(problem(
            "manifest.csv", 0, "propertyName", None, "ONEROSTER_VERSION_MISSING",
            "no indica «oneroster.version»; EKI lo lee como OneRoster 1.1.", Severity.WARNING))
    elif version != SUPPORTED_VERSION:
        problems.append(problem(
            "manifest.csv", found[0], "value", version, "ONEROSTER_VERSION",
            f"el paquete es OneRoster {version or '(sin versión)'}, pero EKI lee la versión "
            f"{SUPPORTED_VERSION}: puede que falten datos. Exporte en OneRoster 1.1 CSV si "
            "su sistema lo permite.", Severity.WARNING))
    for key, (line, value) in properties.items():
        if not key.startswith("file."):
            continue
        name = f"{key[5:]}.csv"
        spec = next((known for known in _FILE_ORDER if known.lower() == name.lower()), None)
        if spec is not None and value.lower() in {"bulk", "delta"} and spec not in tables:
            problems.append(problem(
                "manifest.csv", line, "value", value, "MISSING_FILE",
                f"anuncia {spec} ({value}), pero el paquete no lo trae: se importa sin él.",
                Severity.WARNING))
    return version


def _phone_key(phone: str) -> str:
    digits = _DIGITS.sub("", phone)
    return digits[-10:] if len(digits) >= 7 else phone


def _students(table: CsvTable, problems: list[RowIssue]
              ) -> tuple[dict[str, _User], list[tuple[int, Sequence[object]]]]:
    users: dict[str, _User] = {}
    rows: list[tuple[int, Sequence[object]]] = []
    has_phone_column = table.has("sms") or table.has("phone")
    if not has_phone_column and table.rows:
        problems.append(problem(
            "users.csv", table.header_line, "sms", None, "NO_PHONE_COLUMN",
            "no tiene las columnas «sms» ni «phone»: EKI identifica a cada estudiante por su "
            "celular y no puede importar ninguno. Exporte los usuarios con su teléfono."))
    by_phone: dict[str, _User] = {}
    sourced_of, status_of, role_of = (table.column("sourcedId"), table.column("status"),
                                      table.column("role"))
    given_of, middle_of, family_of = (table.column("givenName"), table.column("middleName"),
                                      table.column("familyName"))
    sms_of, phone_of, enabled_of = (table.column("sms"), table.column("phone"),
                                    table.column("enabledUser"))
    agents_of = table.column("agentSourcedIds")
    for line, cells in table.rows:
        sourced_id = sourced_of(cells)
        if not sourced_id:
            problems.append(problem("users.csv", line, table.label("sourcedId"), None,
                                    "MISSING_ID", "el usuario no tiene sourcedId: se omitió."))
            continue
        if sourced_id in users:
            problems.append(problem(
                "users.csv", line, table.label("sourcedId"), sourced_id, "DUPLICATE_ID",
                f"el sourcedId «{sourced_id}» ya apareció en la línea "
                f"{users[sourced_id].line}: se usa esa y esta se omite.", Severity.WARNING))
            continue
        name = " ".join(part for part in (given_of(cells), middle_of(cells), family_of(cells))
                        if part)
        phone = sms_of(cells) or phone_of(cells)
        role = role_of(cells).lower()
        user = _User(line=line, sourced_id=sourced_id, role=role,
                     deleted=status_of(cells).lower() == _DELETED, name=name, phone=phone,
                     is_student=role == "student",
                     agents=tuple(a.strip() for a in agents_of(cells).split(",") if a.strip()))
        users[sourced_id] = user
        if not user.is_student:
            continue
        if user.deleted:
            problems.append(problem(
                "users.csv", line, table.label("status"), "tobedeleted", "USER_TO_BE_DELETED",
                f"«{name or sourced_id}» está marcado para borrar (tobedeleted) y no se "
                "importó. EKI no borra estudiantes: desactívelo en EKI si ya no estudia.",
                Severity.WARNING))
            continue
        if not phone:
            user.skip_reason = "no_phone"
            continue
        first = by_phone.setdefault(_phone_key(phone), user)
        if first is not user:
            user.skip_reason, user.shared_with = "shared_phone", first
        rows.append((line, (name or None, phone, enabled_of(cells) or None)))
    if not has_phone_column:
        for user in users.values():
            if user.skip_reason == "no_phone":
                user.skip_reason = "no_phone_column"
    return users, rows


def _guardian_links(users: dict[str, _User], rows: list[tuple[int, Sequence[object]]],
                    problems: list[RowIssue]) -> tuple[GuardianLinkRow, ...]:
    """Guardians of the imported students: users with role parent, guardian or relative
    named in a student's agentSourcedIds, or naming the student in theirs."""
    guardians = [u for u in users.values() if u.role in GUARDIAN_ROLES and not u.deleted]
    if not guardians:
        return ()
    by_line = {u.line: u for u in users.values() if u.is_student}
    naming: dict[str, list[_User]] = {}
    for guardian in guardians:
        for agent in guardian.agents:
            naming.setdefault(agent, []).append(guardian)
    links: list[GuardianLinkRow] = []
    warned: set[str] = set()
    for line, cells in rows:
        student = by_line[line]
        if student.skip_reason is not None:
            continue
        found = [users[a] for a in student.agents
                 if a in users and users[a].role in GUARDIAN_ROLES and not users[a].deleted]
        found += naming.get(student.sourced_id, [])
        for guardian in sorted({g.sourced_id: g for g in found}.values(), key=lambda g: g.line):
            if not guardian.phone:
                if guardian.sourced_id not in warned:
                    warned.add(guardian.sourced_id)
                    problems.append(problem(
                        "users.csv", guardian.line, "sms", None, "GUARDIAN_NO_PHONE",
                        f"«{guardian.name or guardian.sourced_id}» ({guardian.role}) no tiene "
                        "teléfono: no se vinculó como acudiente.", Severity.WARNING))
                continue
            links.append(GuardianLinkRow(guardian.line, str(cells[1]), guardian.name,
                                         guardian.phone, GUARDIAN_ROLES[guardian.role]))
    return tuple(links)


def _left_out(table: CsvTable, users: dict[str, _User], problems: list[RowIssue]) -> None:
    """One problem per student whose rows were left out, with how many."""
    for user in users.values():
        if user.skip_reason not in {"no_phone", "shared_phone"}:
            continue
        label = f"«{user.name or user.sourced_id}» ({user.sourced_id})"
        parts = []
        if user.skipped_enrollments:
            parts.append(f"sus matrículas ({user.skipped_enrollments})")
        if user.skipped_results:
            parts.append(f"sus notas ({user.skipped_results})")
        also = f" Tampoco se importaron {' ni '.join(parts)}." if parts else ""
        if user.skip_reason == "no_phone":
            problems.append(problem(
                "users.csv", user.line, table.label("sms"), None, "NO_PHONE",
                f"el estudiante {label} no tiene teléfono (columnas sms y phone vacías) y no "
                f"se importó: EKI identifica a cada estudiante por su celular.{also} "
                "Agregue su celular en el sistema de origen y exporte de nuevo."))
        else:
            first = user.shared_with
            assert first is not None
            problems.append(problem(
                "users.csv", user.line, table.label("sms"), user.phone, "SHARED_PHONE",
                f"el estudiante {label} tiene el mismo teléfono que «{first.name}» (línea "
                f"{first.line}); EKI identifica a cada estudiante por su celular, así que "
                f"solo se importa el primero.{also}", Severity.WARNING))


def _classes(tables: Mapping[str, CsvTable], problems: list[RowIssue]) -> dict[str, _Class]:
    courses: dict[str, tuple[str, str]] = {}
    course_table: CsvTable | None = tables.get("courses.csv")
    for _line, cells in (course_table.rows if course_table else ()):
        assert course_table is not None
        courses.setdefault(course_table.value(cells, "sourcedId"),
                           (course_table.value(cells, "title"),
                            course_table.value(cells, "courseCode")))
    terms: dict[str, str] = {}
    session_table: CsvTable | None = tables.get("academicSessions.csv")
    for _line, cells in (session_table.rows if session_table else ()):
        assert session_table is not None
        title = session_table.value(cells, "title")
        if title:
            terms.setdefault(session_table.value(cells, "sourcedId"), title)
    classes: dict[str, _Class] = {}
    table: CsvTable | None = tables.get("classes.csv")
    if table is None:
        return classes
    for line, cells in table.rows:
        sourced_id = table.value(cells, "sourcedId")
        if not sourced_id:
            problems.append(problem("classes.csv", line, table.label("sourcedId"), None,
                                    "MISSING_ID", "la clase no tiene sourcedId: se omitió."))
            continue
        if sourced_id in classes:
            problems.append(problem(
                "classes.csv", line, table.label("sourcedId"), sourced_id, "DUPLICATE_ID",
                f"el sourcedId «{sourced_id}» ya apareció en la línea "
                f"{classes[sourced_id].line}: se usa esa y esta se omite.", Severity.WARNING))
            continue
        title = " ".join(table.value(cells, "title").split())
        class_code = table.value(cells, "classCode")
        course_id = table.value(cells, "courseSourcedId")
        course = courses.get(course_id)
        if course_id and course is None and course_table is not None:
            problems.append(problem(
                "classes.csv", line, table.label("courseSourcedId"), course_id,
                "MISSING_COURSE", f"el curso «{course_id}» no existe en courses.csv.",
                Severity.WARNING if title else Severity.ERROR))
        course_title, course_code = course or ("", "")
        name = title
        if not name and course_title:
            name = " ".join(f"{course_title} {class_code}".split())
        if not name:
            problems.append(problem(
                "classes.csv", line, table.label("title"), None, "CLASS_WITHOUT_NAME",
                f"la clase «{sourced_id}» no tiene título ni un curso con título: no se "
                "importan sus matrículas ni sus actividades."))
        period: str | None = None
        term_ids = [t.strip() for t in table.value(cells, "termSourcedIds").split(",")
                    if t.strip()]
        for term_id in term_ids:
            if term_id in terms:
                period = terms[term_id]
                break
        else:
            if term_ids and session_table is not None:
                problems.append(problem(
                    "classes.csv", line, table.label("termSourcedIds"), ",".join(term_ids),
                    "MISSING_TERM", f"el periodo «{', '.join(term_ids)}» no existe en "
                    "academicSessions.csv: la clase se importa sin periodo.",
                    Severity.WARNING))
        classes[sourced_id] = _Class(line=line, name=name or None,
                                     code=class_code or course_code or None, period=period,
                                     deleted=_deleted(table, cells))
    return classes


def _student_for(file: str, line: int, table: CsvTable, column: str, sourced_id: str,
                 users: dict[str, _User], problems: list[RowIssue]) -> _User | None:
    """The student a row refers to, or None (problem reported, or row left out quietly)."""
    user = users.get(sourced_id)
    if user is None:
        problems.append(problem(
            file, line, table.label(column), sourced_id or None, "MISSING_USER",
            f"el usuario «{sourced_id}» no existe en users.csv: se omitió la fila."
            if sourced_id else "falta el usuario (columna vacía): se omitió la fila."))
        return None
    if not user.is_student:
        problems.append(problem(
            file, line, table.label(column), sourced_id, "NOT_A_STUDENT",
            f"el usuario «{sourced_id}» es «{user.role or 'sin rol'}» en users.csv (línea "
            f"{user.line}), no estudiante: se omitió la fila."))
        return None
    if user.deleted or user.skip_reason == "no_phone_column":
        return None
    return user


def _enrollments(table: CsvTable, users: dict[str, _User], classes: dict[str, _Class],
                 problems: list[RowIssue]) -> list[tuple[int, Sequence[object]]]:
    rows: list[tuple[int, Sequence[object]]] = []
    status_of, role_of = table.column("status"), table.column("role")
    class_of, user_of = table.column("classSourcedId"), table.column("userSourcedId")
    for line, cells in table.rows:
        if status_of(cells).lower() == _DELETED or role_of(cells).lower() != "student":
            continue
        class_id = class_of(cells)
        klass = classes.get(class_id)
        if klass is None:
            problems.append(problem(
                "enrollments.csv", line, table.label("classSourcedId"), class_id or None,
                "MISSING_CLASS", f"la clase «{class_id}» no existe en classes.csv: se omitió "
                "la matrícula." if class_id else "falta la clase (columna vacía): se omitió "
                "la matrícula."))
            continue
        user = _student_for("enrollments.csv", line, table, "userSourcedId", user_of(cells),
                            users, problems)
        if user is None or klass.deleted or klass.name is None:
            continue
        if user.skip_reason is not None:
            user.skipped_enrollments += 1
            continue
        rows.append((line, (user.phone, klass.name, klass.period, klass.code)))
    return rows


def _line_items(table: CsvTable, classes: dict[str, _Class], problems: list[RowIssue]
                ) -> dict[str, _LineItem]:
    items: dict[str, _LineItem] = {}
    for line, cells in table.rows:
        sourced_id = table.value(cells, "sourcedId")
        if not sourced_id:
            problems.append(problem("lineItems.csv", line, table.label("sourcedId"), None,
                                    "MISSING_ID", "la actividad no tiene sourcedId: se omitió."))
            continue
        if sourced_id in items:
            problems.append(problem(
                "lineItems.csv", line, table.label("sourcedId"), sourced_id, "DUPLICATE_ID",
                f"el sourcedId «{sourced_id}» ya apareció en la línea "
                f"{items[sourced_id].line}: se usa esa y esta se omite.", Severity.WARNING))
            continue
        deleted = _deleted(table, cells)
        class_id = table.value(cells, "classSourcedId")
        klass = classes.get(class_id)
        if klass is None and not deleted:
            problems.append(problem(
                "lineItems.csv", line, table.label("classSourcedId"), class_id or None,
                "MISSING_CLASS", f"la clase «{class_id}» no existe en classes.csv: no se "
                "importan los resultados de esta actividad."))
        title = table.value(cells, "title") or sourced_id
        max_score: str | None = table.value(cells, "resultValueMax") or None
        if max_score is not None:
            try:
                top = float(max_score.replace(",", "."))
                if not math.isfinite(top) or top <= 0:
                    raise ValueError(max_score)
            except ValueError:
                problems.append(problem(
                    "lineItems.csv", line, table.label("resultValueMax"), max_score,
                    "INVALID_MAX_SCORE", f"resultValueMax «{max_score}» no es un número mayor "
                    "que 0: se usa el máximo de la escala del colegio.", Severity.WARNING))
                max_score = None
        due: str | None = table.value(cells, "dueDate") or None
        if due is not None:
            try:
                due = date.fromisoformat(due[:10]).isoformat()
            except ValueError:
                problems.append(problem(
                    "lineItems.csv", line, table.label("dueDate"), due, "INVALID_DATE",
                    f"dueDate «{due}» no es una fecha ISO (AAAA-MM-DD): la actividad queda sin "
                    "fecha de entrega.", Severity.WARNING))
                due = None
        items[sourced_id] = _LineItem(line=line, title=title, klass=klass, max_score=max_score,
                                      due=due, deleted=deleted)
    return items


def _results(table: CsvTable, users: dict[str, _User], items: dict[str, _LineItem],
             problems: list[RowIssue]) -> list[tuple[int, Sequence[object]]]:
    rows: list[tuple[int, Sequence[object]]] = []
    status_of, item_of, student_of = (table.column("status"), table.column("lineItemSourcedId"),
                                      table.column("studentSourcedId"))
    score_status_of, score_of = table.column("scoreStatus"), table.column("score")
    for line, cells in table.rows:
        if status_of(cells).lower() == _DELETED:
            continue
        item_id = item_of(cells)
        item = items.get(item_id)
        if item is None:
            problems.append(problem(
                "results.csv", line, table.label("lineItemSourcedId"), item_id or None,
                "MISSING_LINE_ITEM", f"la actividad «{item_id}» no existe en lineItems.csv: "
                "se omitió el resultado." if item_id else "falta la actividad (columna "
                "vacía): se omitió el resultado."))
            continue
        user = _student_for("results.csv", line, table, "studentSourcedId", student_of(cells),
                            users, problems)
        klass = item.klass
        if user is None or item.deleted or klass is None or klass.deleted \
                or klass.name is None:
            continue
        item.results += 1
        if user.skip_reason is not None:
            user.skipped_results += 1
            continue
        score_status = score_status_of(cells).lower()
        if "  " in score_status:
            score_status = " ".join(score_status.split())
        score: str | None = score_of(cells) or None
        if score_status == "exempt":
            score = "excusa"
        elif score_status in _PENDING_STATUSES:
            score = None
        elif score_status and score_status not in _GRADED_STATUSES:
            problems.append(problem(
                "results.csv", line, table.label("scoreStatus"), score_status,
                "UNKNOWN_SCORE_STATUS", f"scoreStatus «{score_status}» no es de OneRoster 1.1 "
                "(exempt, fully graded, not submitted, partially graded, submitted): se usa "
                "la nota tal como viene.", Severity.WARNING))
        rows.append((line, (user.phone, klass.name, klass.period, item.title, score,
                            item.max_score, item.due)))
    return rows
