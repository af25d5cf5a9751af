"""``/admin/alertas`` (issue 16) on SQLite and PostgreSQL: coordinators switch rules through
the real form (audited, the template checked), teachers and viewers are refused, and the
page shows the preview (at most PREVIEW_ROWS rows of each list) and what went out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from eki_adapters.system.clock import FixedClock
from eki_domain.model.alerts import AlertRule
from eki_domain.model.audit import AuditFilter
from eki_domain.model.gradebook import ProgressKind
from eki_domain.model.imports import sheet_from_records
from eki_domain.model.pagination import PageRequest
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.web.admin import alerts as alerts_page
from tests.integration.staff_web_support import (
    CLI,
    add_accounts,
    client_for,
    make_eki,
    sign_in,
)


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await make_eki(database_url, quiet_hours="")
    yield app
    await app.aclose()


def test_coordinator_switches_rules_teacher_may_not(eki: Eki) -> None:
    with client_for(eki) as client:
        emails = client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        client.portal.call(eki.templates.add, CLI, "alerta_falla", "es",  # type: ignore[union-attr]
                           "utility", "Hoy {{1}} no asistió a {{2}}.")
        csrf = sign_in(client, emails["coordinator"])
        listing = client.get("/admin/alertas")
        assert listing.status_code == 200
        assert "Alertas académicas" in listing.text and "Entrega próxima" in listing.text
        assert 'href="/admin/alertas"' in listing.text  # in the menu
        missing = client.post("/admin/alertas/entrega", data={"csrf": csrf, "enabled": "1"})
        assert missing.status_code == 422 and "alerta_entrega" in missing.text
        bad = client.post("/admin/alertas/falla", data={"csrf": csrf, "enabled": "tal vez"})
        assert bad.status_code == 422
        unknown = client.post("/admin/alertas/tardanza", data={"csrf": csrf, "enabled": "1"})
        assert unknown.status_code == 404
        no_csrf = client.post("/admin/alertas/falla", data={"enabled": "1"})
        assert no_csrf.status_code == 403
        done = client.post("/admin/alertas/falla",
                           data={"csrf": csrf, "enabled": "1", "template": "alerta_falla:es"},
                           follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"].endswith("switched=falla")
        page = client.get("/admin/alertas?switched=falla")
        assert "Regla «falla» guardada." in page.text and "Activa" in page.text
        rules = {c.rule: c for c in client.portal.call(eki.alerts.rules)}  # type: ignore[union-attr]
        assert rules[AlertRule.FALLA].enabled
        assert rules[AlertRule.FALLA].updated_by == emails["coordinator"]
        entries = client.portal.call(  # type: ignore[union-attr]
            eki.audit.list, CLI, AuditFilter(action="alerts.rule_switched"),
            PageRequest(limit=5))
        assert [(e.actor, e.target_id) for e in entries.items] == [
            (emails["coordinator"], "falla")]
        for role in ("teacher", "viewer"):
            csrf = sign_in(client, emails[role])
            assert client.get("/admin/alertas").status_code == 403
            refused = client.post("/admin/alertas/falla", data={"csrf": csrf, "enabled": "0"})
            assert refused.status_code == 403
            assert 'href="/admin/alertas"' not in client.get("/admin").text
        assert {c.rule: c for c in client.portal.call(  # type: ignore[union-attr]
            eki.alerts.rules)}[AlertRule.FALLA].enabled


async def _two_absences(eki: Eki) -> None:
    await eki.templates.add(CLI, "alerta_falla", "es", "utility",
                            "Hoy {{1}} no asistió a {{2}}.")
    await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
    phones = ("+573001234567", "+573007654321")
    for n, phone in enumerate(phones):
        await eki.registration.register(f"Estudiante {n}", phone)
    assert isinstance(eki.clock, FixedClock)
    eki.clock.advance(timedelta(minutes=1))
    day = eki.clock.now().date().isoformat()
    result = await eki.progress_import.import_sheet(sheet_from_records(
        [{"telefono": p, "curso": "Inglés", "fecha": day, "estado": "ausente"}
         for p in phones], "asistencia.csv"), kind=ProgressKind.ATTENDANCE)
    assert result.report.errors == 0, result.report


def test_the_preview_lists_at_most_its_rows_with_whole_counts(
        eki: Eki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(alerts_page, "PREVIEW_ROWS", 1)
    with client_for(eki) as client:
        emails = client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        client.portal.call(_two_absences, eki)  # type: ignore[union-attr]
        sign_in(client, emails["coordinator"])
        page = client.get("/admin/alertas")
        assert page.status_code == 200
        assert "Saldrían <strong>2</strong> alerta(s)" in page.text
        assert page.text.count("<td>sale</td>") == 1
        assert "Se muestran las primeras 1 de cada lista." in page.text
