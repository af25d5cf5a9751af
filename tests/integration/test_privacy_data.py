"""Data requests (issue 18) on SQLite and PostgreSQL: an export holds every kind of data
(every table of the registry), an erasure leaves the number in no text column of any table,
``--keep-academic`` keeps the school's averages, and the CLI reports what it did."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from eki_adapters.sql import tables as t
from eki_adapters.sql.privacy_registry import PERSONAL_TABLES
from eki_domain.model.phone import PhoneNumber
from eki_testing.graph import FakeGraphAPI
from eki_testing.harness import EkiHarness
from tests.integration.privacy_seed import (
    ANA,
    ANA_E164,
    ANA_NAME,
    ANA_SECRET_TEXT,
    ANA_WA,
    CLI,
    LUIS,
    MARTA,
    MARTA_NAME,
    scan,
    seed,
)


@pytest.fixture
def h(database_url: str, graph: FakeGraphAPI) -> Iterator[EkiHarness]:
    with EkiHarness.for_database(database_url, graph) as harness:
        yield harness


def _rows(document: dict[str, Any], section: str) -> list[dict[str, Any]]:
    [found] = [s for s in document["secciones"] if s["seccion"] == section]
    assert found["titulo"] and found["explicacion"]
    rows: list[dict[str, Any]] = found["filas"]
    return rows


def test_the_export_holds_every_kind_of_data(h: EkiHarness) -> None:
    ids = seed(h)
    ana_doc = h.call(h.eki.privacy.export, CLI, PhoneNumber.parse(ANA)).as_dict()
    marta_doc = h.call(h.eki.privacy.export, CLI, PhoneNumber.parse(MARTA)).as_dict()
    assert ana_doc["telefono"] == ANA_E164 and ana_doc["referencia"].startswith("ref:")
    assert "Ley 1581" in ana_doc["explicacion"]
    # Every table of the registry shows up with rows for Ana, or (guardian data) for Marta.
    for entry in PERSONAL_TABLES:
        holder = marta_doc if entry.name == "guardians" else ana_doc
        assert _rows(holder, entry.name), f"{entry.name} is empty in the export"
    # And the content is the person's own.
    [student] = _rows(ana_doc, "students")
    assert student["name"] == ANA_NAME and student["phone"] == ANA_E164
    assert {r["tag"] for r in _rows(ana_doc, "student_tags")} == {"11a"}
    assert {(r["course"], r["assessment"], r["score"]) for r in _rows(ana_doc, "results")} == {
        ("Matemáticas", "Taller 1", 4.5), ("Biología", "Quiz", 2.0)}
    assert [r["status"] for r in _rows(ana_doc, "attendance")] == ["ausente"]
    texts = [r["text"] for r in _rows(ana_doc, "inbound_messages")]
    assert ANA_SECRET_TEXT in texts
    assert any(r["media_id"] == "media-ana-1" for r in _rows(ana_doc, "inbound_messages"))
    assert all(r["to_wa_id"] == ANA_WA or r["student_id"] == ids["ana"].id
               for r in _rows(ana_doc, "outbound_messages"))
    assert any(ANA_WA in r["body"] for r in _rows(ana_doc, "webhook_events"))
    assert any(r["action"] == "student.viewed" for r in _rows(ana_doc, "audit_log"))
    assert [r["name"] for r in _rows(marta_doc, "guardians")] == [MARTA_NAME]
    # Only her messages, and the notice that someone moved to her number.
    assert all(ANA_WA in (r["wa_id"], r["new_wa_id"])
               for r in _rows(ana_doc, "inbound_messages"))
    [moved] = _rows(ana_doc, "students.new_number")
    assert moved["name"] == "Luis Gómez" and moved["new_wa_id"] == ANA_WA
    # Exporting is itself audited, with the reference and not the number.
    entries = h.call(_audit, h, "privacy.exported")
    assert [e["target_id"] for e in entries] == [ana_doc["referencia"], marta_doc["referencia"]]
    assert not any(ANA in json.dumps(e, default=str) for e in entries)


async def _audit(h: EkiHarness, action: str) -> list[dict[str, Any]]:
    async with h.eki.uow() as uow:
        rows = await uow.connection.execute(  # type: ignore[attr-defined]
            sa.select(t.audit_log).where(t.audit_log.c.action == action)
            .order_by(t.audit_log.c.id))
        return [dict(r._mapping) for r in rows]


def test_erasure_leaves_the_number_in_no_table(h: EkiHarness) -> None:
    ids = seed(h)
    assert h.call(scan, h.eki.engine, [ANA_WA])  # the scan finds the seeded data
    report = h.call(h.eki.privacy.erase, CLI, PhoneNumber.parse("+" + ANA_WA))
    assert report.remaining == 0 and report.deleted > 10
    by_table = {c.table: c for c in report.tables}
    assert by_table["students"].deleted == 1 and by_table["results"].deleted == 2
    assert by_table["webhook_events"].deleted >= 3
    assert by_table["privacy_requests"].anonymised == 1
    assert by_table["guardians.subject"].anonymised == 1
    # Nothing anywhere: both forms of the number, what she wrote, her name.
    leftovers = h.call(scan, h.eki.engine, [ANA, ANA_WA, ANA_E164, ANA_SECRET_TEXT, ANA_NAME])
    assert leftovers == {}
    # Other people's data is untouched.
    assert h.call(h.eki.registration.find, LUIS).name == "Luis Gómez"
    marta = h.call(h.eki.privacy.export, CLI, PhoneNumber.parse(MARTA)).as_dict()
    assert _rows(marta, "guardians") and not _rows(marta, "guardian_links")
    # Marta's conversation no longer remembers Ana as the child she asked about.
    assert _rows(marta, "guardians")[0]["subject_student_id"] is None
    assert _rows(marta, "guardians")[0]["question"] is None
    assert h.call(h.eki.privacy.requests, CLI)[0].phone is None
    [erased] = h.call(_audit, h, "privacy.erased")
    assert erased["target_id"] == report.reference and ANA not in erased["details"]
    assert ids["ana"].id is not None


async def _averages(h: EkiHarness) -> dict[str, float]:
    async with h.eki.uow() as uow:
        rows = await uow.connection.execute(  # type: ignore[attr-defined]
            sa.select(t.assessments.c.title, sa.func.avg(t.results.c.score))
            .join(t.results, t.results.c.assessment_id == t.assessments.c.id)
            .group_by(t.assessments.c.title))
        return {title: round(float(avg), 6) for title, avg in rows}


def test_keep_academic_keeps_the_averages_under_an_anonymous_id(h: EkiHarness) -> None:
    ids = seed(h)
    before = h.call(_averages, h)
    assert before == {"Taller 1": 3.75, "Quiz": 3.0}
    report = h.call(h.eki.privacy.erase, CLI, PhoneNumber.parse(ANA), keep_academic=True)
    by_table = {c.table: c for c in report.tables}
    assert by_table["students"].anonymised == 1 and by_table["results"].kept == 2
    assert by_table["inbound_messages"].deleted >= 2 and report.remaining == 0
    assert h.call(_averages, h) == before
    # The student row is anonymous: no name, no number, not active, same id and tags.
    found = h.call(_student_row, h, ids["ana"].id)
    assert found["name"].startswith("Anónimo ") and found["phone"].startswith("anon:")
    assert found["wa_id"] is None and found["active"] is False
    assert h.call(scan, h.eki.engine, [ANA, ANA_WA, ANA_E164, ANA_SECRET_TEXT, ANA_NAME]) == {}
    # The anonymous record still lists (the admin page and reports read it).
    assert h.call(h.eki.progress.report, ids["ana"].id).courses


async def _student_row(h: EkiHarness, student_id: int) -> dict[str, Any]:
    async with h.eki.uow() as uow:
        row = (await uow.connection.execute(  # type: ignore[attr-defined]
            sa.select(t.students).where(t.students.c.id == student_id))).one()
        return dict(row._mapping)


def test_the_cli_exports_erases_and_keeps_the_register(
        database_url: str, cli: Any, tmp_path: Path) -> None:
    assert cli("students", "add", ANA_NAME, ANA, "--tag", "11a")[0] == 0
    out = tmp_path / "ana.json"
    code, stdout, stderr = cli("privacy", "export", "300 111 2233", "--out", str(out))
    assert code == 0, stderr
    assert "+57***2233" in stdout and ANA not in stdout
    assert out.stat().st_mode & 0o077 == 0  # readable by its owner only
    existing = tmp_path / "existing.json"
    existing.write_text("{}", encoding="utf-8")
    existing.chmod(0o644)  # an export over a readable file narrows it too
    assert cli("privacy", "export", ANA, "--out", str(existing))[0] == 0
    assert existing.stat().st_mode & 0o077 == 0 and ANA_E164 in existing.read_text("utf-8")
    document = json.loads(out.read_text(encoding="utf-8"))
    assert _rows(document, "students")[0]["name"] == ANA_NAME
    assert cli("privacy", "export", ANA, "--out", str(tmp_path / "x.csv"))[0] == 2
    assert cli("privacy", "export", "12", "--out", str(out))[0] == 2  # not a phone

    code, stdout, _ = cli("privacy", "request", "add", ANA, "--kind", "reclamo",
                          "--note", "pide borrar sus datos")
    assert code == 0 and "15 días hábiles" in stdout
    code, stdout, _ = cli("privacy", "request", "list", "--json")
    [listed] = json.loads(stdout)
    assert listed["kind"] == "reclamo" and listed["phone"] == ANA_E164
    assert listed["business_days_left"] == 15

    # Without --yes and without a terminal nothing is erased.
    code, _, stderr = cli("privacy", "erase", ANA)
    assert code == 2 and "--yes" in stderr
    code, stdout, stderr = cli("privacy", "erase", ANA, "--yes", "--json")
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["remaining"] == 0 and report["deleted"] >= 1
    assert {row["table"] for row in report["tables"]} >= {e.name for e in PERSONAL_TABLES}
    code, stdout, _ = cli("privacy", "request", "list", "--json")
    assert json.loads(stdout)[0]["phone"] is None
    assert cli("privacy", "request", "close", str(listed["id"]))[0] == 0
    assert cli("privacy", "request", "close", str(listed["id"]))[0] == 2  # already closed
    assert json.loads(cli("privacy", "request", "list", "--json")[1]) == []
    code, stdout, _ = cli("audit", "list", "--json", "--action", "privacy.erased")
    assert ANA not in stdout and json.loads(stdout)[0]["target_id"] == report["reference"]


def test_an_erasure_is_all_or_nothing_and_bounded(
        h: EkiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from eki_adapters.sql.privacy import SqlPrivacyRequests
    from eki_domain.model.privacy import TooMuchToErase
    from eki_domain.services import privacy as service

    seed(h)
    before = h.call(scan, h.eki.engine, [ANA_WA])

    async def broken(self: Any, phones: Any) -> int:
        raise RuntimeError("the disk is full")

    # A failure after every table was erased, before the commit: nothing is erased.
    with monkeypatch.context() as patch:
        patch.setattr(SqlPrivacyRequests, "forget_phone", broken)
        with pytest.raises(RuntimeError, match="disk"):
            h.call(h.eki.privacy.erase, CLI, PhoneNumber.parse(ANA))
    assert h.call(scan, h.eki.engine, [ANA_WA]) == before
    assert h.call(h.eki.registration.find, ANA).name == ANA_NAME
    # More rows than one erasure may touch: refused before anything is deleted.
    monkeypatch.setattr(service, "ERASE_MAX_ROWS", 5)
    with pytest.raises(TooMuchToErase, match="eki privacy purge"):
        h.call(h.eki.privacy.erase, CLI, PhoneNumber.parse(ANA))
    assert h.call(scan, h.eki.engine, [ANA_WA]) == before
    assert h.call(_audit, h, "privacy.erased") == []


def test_an_export_says_when_a_table_was_cut(
        h: EkiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from eki_adapters.sql import privacy as sql_privacy

    seed(h)
    full = h.call(h.eki.privacy.export, CLI, PhoneNumber.parse(ANA)).as_dict()
    assert not any("incompleta" in s for s in full["secciones"])
    assert len(_rows(full, "results")) == 2
    monkeypatch.setattr(sql_privacy, "EXPORT_MAX_ROWS", 1)
    cut = h.call(h.eki.privacy.export, CLI, PhoneNumber.parse(ANA)).as_dict()
    [results] = [s for s in cut["secciones"] if s["seccion"] == "results"]
    assert len(results["filas"]) == 1 and "primeras 1 filas" in results["incompleta"]
    [student] = [s for s in cut["secciones"] if s["seccion"] == "students"]
    assert len(student["filas"]) == 1 and "incompleta" not in student
