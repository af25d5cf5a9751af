"""/admin/privacidad (issue 18): the register of requests with its deadlines, the
dashboard's due-soon notice, export as a download and erasure after a confirmation step;
admins and coordinators only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from eki_domain.model.phone import PhoneNumber
from eki_domain.model.privacy import PrivacyRequest, RequestKind
from eki_entrypoints.bootstrap import Eki
from tests.integration.admin_seed import ANA, seed_school
from tests.integration.staff_web_support import add_accounts, client_for, make_eki, sign_in

ANA_E164 = "+" + ANA


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await make_eki(database_url)
    yield app
    await app.aclose()


async def _late_request(eki: Eki) -> None:
    """A consulta opened 30 days ago: its 10 business days are over."""
    now = eki.clock.now()
    async with eki.uow() as uow:
        await uow.privacy_requests.add(PrivacyRequest.open(  # type: ignore[attr-defined]
            RequestKind.CONSULTA, PhoneNumber.parse("+573001112299"), "ref:0000000000000001",
            at=now - timedelta(days=30), today=(now - timedelta(days=30)).date()))
        await uow.commit()


def test_register_dashboard_export_and_erase(eki: Eki) -> None:
    with client_for(eki) as client:
        ids = client.portal.call(seed_school, eki)  # type: ignore[union-attr]
        emails = client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        client.portal.call(_late_request, eki)  # type: ignore[union-attr]
        csrf = sign_in(client, emails["coordinator"])

        board = client.get("/admin")
        assert "solicitud(es) de habeas data" in board.text and "vencida" in board.text
        assert 'href="/admin/privacidad"' in board.text

        added = client.post("/admin/privacidad/solicitudes", data={
            "csrf": csrf, "phone": "300 123 4567", "kind": "reclamo", "note": "borrar"},
            follow_redirects=False)
        assert added.status_code == 303
        listing = client.get("/admin/privacidad")
        assert "+57***4567" in listing.text and ANA not in listing.text
        assert "quedan 15 día(s) hábil(es)" in listing.text
        bad = client.post("/admin/privacidad/solicitudes", data={
            "csrf": csrf, "phone": "12", "kind": "reclamo"})
        assert bad.status_code == 400 and "notice error" in bad.text
        bad_kind = client.post("/admin/privacidad/solicitudes", data={
            "csrf": csrf, "phone": ANA_E164, "kind": "queja"})
        assert bad_kind.status_code == 400 and "consulta" in bad_kind.text

        student_page = client.get(f"/admin/students/{ids['ana']}")
        assert "Exportar sus datos" in student_page.text
        exported = client.post("/admin/privacidad/exportar",
                               data={"csrf": csrf, "phone": ANA_E164})
        assert exported.status_code == 200
        assert exported.headers["content-disposition"].startswith("attachment;")
        document = json.loads(exported.text)
        assert document["telefono"] == ANA_E164
        names = {s["seccion"] for s in document["secciones"] if s["filas"]}
        assert {"students", "results", "inbound_messages", "webhook_events"} <= names

        # Step 1 shows what would go and asks for the word; nothing is erased yet.
        preview = client.post("/admin/privacidad/borrar",
                              data={"csrf": csrf, "phone": ANA_E164, "keep_academic": "1"})
        assert preview.status_code == 200 and "Escriba BORRAR" in preview.text
        wrong = client.post("/admin/privacidad/borrar", data={
            "csrf": csrf, "phone": ANA_E164, "step": "confirm", "confirm": "si"})
        assert "Escriba BORRAR para confirmar." in wrong.text
        assert client.get(f"/admin/students/{ids['ana']}").status_code == 200
        assert "Ana María" in client.get(f"/admin/students/{ids['ana']}").text
        done = client.post("/admin/privacidad/borrar", data={
            "csrf": csrf, "phone": ANA_E164, "step": "confirm", "confirm": "borrar",
            "keep_academic": "1"})
        assert done.status_code == 200, done.text
        assert "No queda ningún registro con ese número." in done.text
        after = client.get(f"/admin/students/{ids['ana']}")
        assert "Ana María" not in after.text and "Anónimo" in after.text


@pytest.mark.parametrize("role", ["teacher", "viewer"])
def test_teachers_and_viewers_may_not(eki: Eki, role: str) -> None:
    with client_for(eki) as client:
        ids = client.portal.call(seed_school, eki)  # type: ignore[union-attr]
        emails = client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        csrf = sign_in(client, emails[role])
        assert client.get("/admin/privacidad").status_code == 403
        refused = client.post("/admin/privacidad/exportar",
                              data={"csrf": csrf, "phone": ANA_E164})
        assert refused.status_code == 403
        erase = client.post("/admin/privacidad/borrar", data={
            "csrf": csrf, "phone": ANA_E164, "step": "confirm", "confirm": "BORRAR"})
        assert erase.status_code == 403
        if role == "teacher":  # Ana is in grado 10, the teacher's tag: no privacy buttons
            page = client.get(f"/admin/students/{ids['ana']}")
            assert page.status_code == 200 and "Exportar sus datos" not in page.text
        assert "Privacidad" not in client.get("/admin").text
