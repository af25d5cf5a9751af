"""The staff inbox over real HTTP (issue #15), on SQLite and PostgreSQL: the list (waiting
first, tabs, unread counts, window badge), teachers scoped to their students, take, assign,
reply with a quick reply, notes that are never sent, the template picker outside the
24-hour window, "Devolver al bot", quick-reply CRUD, the dashboard's first-response figures,
and every action in the audit log."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from eki_adapters.system import FixedClock
from eki_domain.model.audit import AuditFilter
from eki_domain.model.pagination import PageRequest
from eki_domain.model.templates import MessageTemplate, TemplateStatus
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.worker import PipelineWorker
from eki_testing import meta
from tests.integration.admin_seed import ANA, CARLA, deliver
from tests.integration.staff_web_support import (
    CLI,
    add_accounts,
    client_for,
    make_eki,
    sign_in,
)

DIEGO = "573104445566"
COORD = "coordina@colegio.edu.co"
TEACHER = "profe10@colegio.edu.co"


async def write(eki: Eki, phone: str, text: str) -> None:
    """The student writes now (the message's own timestamp is the clock's: the window)."""
    await deliver(eki, meta.text_message(phone, text,
                                         timestamp=int(eki.clock.now().timestamp())))
    await PipelineWorker(eki).drain()


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    # 2026-01-15 07:00 in Bogotá, a Thursday; hand-offs are not released for idleness.
    app = await make_eki(database_url, handoff_idle_hours=720)
    await add_accounts(app)
    await app.registration.register("Ana María Pérez", ANA, tags=["grado 10"])
    await app.registration.register("Carla Gómez", CARLA, tags=["grado 10"])
    await app.registration.register("Diego Ruiz", DIEGO, tags=["grado 11"])
    await write(app, ANA, "hola, ¿cómo voy?")
    _clock(app).advance(timedelta(minutes=1))
    await write(app, CARLA, "quiero hablar con una persona")
    _clock(app).advance(timedelta(minutes=1))
    await write(app, DIEGO, "buenas tardes")
    _clock(app).advance(timedelta(minutes=1))
    yield app
    await app.aclose()


def _clock(eki: Eki) -> FixedClock:
    assert isinstance(eki.clock, FixedClock)
    return eki.clock


async def _actions(eki: Eki) -> list[tuple[str, str]]:
    entries = await eki.audit.list(CLI, AuditFilter(), PageRequest(limit=500))
    return [(e.actor, e.action) for e in entries.items]


async def _outbox(eki: Eki, student_id: int) -> list[tuple[str | None, str]]:
    async with eki.uow() as uow:
        history = await uow.history.page(student_id, PageRequest(limit=100))
    return [(e.intent, e.text or "") for e in history.items if e.direction == "out"]


def _section(html: str, name: str) -> str:
    found = re.search(rf'data-section="{name}">(.*?)</ul>', html, re.S)
    return found.group(1) if found else ""


def _form_csrf(client: TestClient, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


async def test_the_list_puts_waiting_first_and_a_teacher_sees_only_her_students(
        eki: Eki) -> None:
    with client_for(eki) as client:
        sign_in(client, COORD)
        page = client.get("/admin/inbox")
        assert page.status_code == 200
        waiting = _section(page.text, "waiting")
        assert "Carla Gómez" in waiting and "Ana María" not in waiting
        assert "espera" in waiting
        everyone = _section(page.text, "todas")
        assert {"Ana María Pérez", "Carla Gómez", "Diego Ruiz"} <= set(
            re.findall(r'class="who">([^<]+)<', everyone))
        assert "quedan 23 h 57 min" in everyone  # Ana wrote 3 minutes ago
        assert 'class="badge unread-count"' in everyone
        assert "Sin asignar (1)" in page.text and "Asignadas a mí (0)" in page.text
        # The fragment the live script fetches is the same list without the page around it.
        fragment = client.get("/admin/inbox/fragmento?tab=todas")
        assert fragment.status_code == 200 and "<html" not in fragment.text
        assert "Diego Ruiz" in fragment.text

    with client_for(eki) as client:
        sign_in(client, TEACHER)
        page = client.get("/admin/inbox")
        assert "Carla Gómez" in page.text and "Ana María Pérez" in page.text
        assert "Diego Ruiz" not in page.text  # grado 11
        assert client.get(f"/admin/inbox/+{DIEGO}").status_code == 404
        assert client.get(f"/admin/inbox/+{CARLA}").status_code == 200


async def test_take_reply_with_a_quick_reply_note_assign_and_release(eki: Eki) -> None:
    carla = await eki.registration.find(CARLA)
    assert carla.id is not None
    url = f"/admin/inbox/+{CARLA}"
    with client_for(eki) as client:
        csrf = sign_in(client, COORD)
        saved = client.post("/admin/respuestas", data={
            "csrf": csrf, "shortcut": "horario", "body": "Atendemos de 7 a 5."},
            follow_redirects=False)
        assert saved.status_code == 303
        assert "/horario" in client.get("/admin/respuestas").text

        taken = client.post(f"{url}/tomar", data={"csrf": csrf}, follow_redirects=False)
        assert taken.status_code == 303
        page = client.get(url)
        assert "Tomada por coordina@colegio.edu.co" in page.text
        assert "atiende usted" in page.text

        sent = client.post(f"{url}/responder", data={"csrf": csrf, "text": "Hola Carla. /horario"},
                           follow_redirects=False)
        assert sent.status_code == 303, sent.text
        noted = client.post(f"{url}/nota", data={"csrf": csrf,
                                                 "note": "Llamar a la mamá mañana"},
                            follow_redirects=False)
        assert noted.status_code == 303
        thread = client.get(f"{url}/fragmento").text
        assert "Hola Carla. Atendemos de 7 a 5." in thread
        assert "Llamar a la mamá mañana" in thread and "Nota interna" in thread
        assert "🕓 en cola" in thread

        await eki.delivery.dispatch_due()
        assert "✓ enviado" in client.get(f"{url}/fragmento").text
        assert ("staff", "Hola Carla. Atendemos de 7 a 5.") in await _outbox(eki, carla.id)
        assert all("mamá" not in text for _, text in await _outbox(eki, carla.id))

        refused = client.post(f"{url}/asignar", data={"csrf": csrf,
                                                     "to": "mira@colegio.edu.co"})
        assert refused.status_code == 400 and "no puede atender" in refused.text
        assigned = client.post(f"{url}/asignar", data={"csrf": csrf, "to": TEACHER},
                               follow_redirects=False)
        assert assigned.status_code == 303
        assert "atiende profe10@colegio.edu.co" in client.get(f"{url}/fragmento").text

        released = client.post(f"{url}/devolver", data={"csrf": csrf},
                               follow_redirects=False)
        assert released.headers["location"].endswith("ok=released")
        assert "responde el bot" in client.get(f"{url}/fragmento").text

    with client_for(eki) as client:
        sign_in(client, TEACHER)
        mine = client.get("/admin/inbox?tab=mias").text
        assert "Asignadas a mí (0)" in mine  # released: nobody owns it any more

    actions = await _actions(eki)
    for action in ("handoff.taken", "inbox.replied", "inbox.noted", "handoff.assigned",
                   "handoff.released", "quick_reply.saved"):
        assert (COORD, action) in actions, action


async def test_outside_the_window_the_reply_box_is_a_template_picker(eki: Eki) -> None:
    ana = await eki.registration.find(ANA)
    assert ana.id is not None
    async with eki.uow() as uow:
        await uow.templates.upsert(MessageTemplate.create(
            "recordatorio", "es", "utility", "Hola {{1}}, te escribe {{2}}.",
            status=TemplateStatus.APPROVED, updated_at=eki.clock.now()))
        await uow.commit()
    _clock(eki).advance(timedelta(hours=24, minutes=1))
    url = f"/admin/inbox/+{ANA}"
    with client_for(eki) as client:
        csrf = sign_in(client, COORD)
        page = client.get(url).text
        assert "ventana cerrada" in page and 'name="plantilla"' in page
        assert 'name="text"' not in page
        refused = client.post(f"{url}/responder", data={"csrf": csrf, "text": "¿Sigues ahí?"})
        assert refused.status_code == 400
        assert "La ventana de 24 horas está cerrada" in refused.text
        picker = client.get(f"{url}?plantilla=recordatorio|es").text
        assert 'name="p1"' in picker and 'name="p2"' in picker and 'name="p3"' not in picker
        sent = client.post(f"{url}/responder", data={
            "csrf": csrf, "template": "recordatorio|es", "p1": "Ana", "p2": "la rectora"},
            follow_redirects=False)
        assert sent.status_code == 303, sent.text
    assert ("staff", "Hola Ana, te escribe la rectora.") in await _outbox(eki, ana.id)
    assert all(text != "¿Sigues ahí?" for _, text in await _outbox(eki, ana.id))


async def test_the_dashboard_shows_first_response_and_waiting_beyond_the_sla(
        eki: Eki) -> None:
    with client_for(eki) as client:
        csrf = sign_in(client, COORD)
        board = client.get("/admin").text
        assert "Primera respuesta de una persona" in board
        assert re.search(r'id="over-sla".*?<span class="value[^"]*">(\d+)<', board, re.S)
        _clock(eki).advance(timedelta(minutes=100))  # 100 business minutes: inside the SLA
        board = client.get("/admin").text
        over = re.search(r'id="over-sla".*?<span class="value[^"]*">(\d+)<', board, re.S)
        assert over and over.group(1) == "0"
        _clock(eki).advance(timedelta(days=3))  # Carla's hand-off waits a weekend too
        csrf = sign_in(client, COORD)  # the session expired meanwhile
        board = client.get("/admin").text
        over = re.search(r'id="over-sla".*?<span class="value[^"]*">(\d+)<', board, re.S)
        assert over and over.group(1) == "1"
        await write(eki, CARLA, "¿hay alguien?")
        answered = client.post(f"/admin/inbox/+{CARLA}/responder",
                               data={"csrf": csrf, "text": "Hola"}, follow_redirects=False)
        assert answered.status_code == 303
        board = client.get("/admin").text
        over = re.search(r'id="over-sla".*?<span class="value[^"]*">(\d+)<', board, re.S)
        assert over and over.group(1) == "0"
        assert "1 atenciones respondidas" in board
        # Thursday 07:01 → the answer on Sunday: Thursday's and Friday's business minutes.
        assert "p50 1199 min · p90 1199 min" in board
