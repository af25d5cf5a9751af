"""Broadcasts through the API, the admin pages and the CLI (issue #16), on SQLite and
PostgreSQL: the preview JSON, creating and following one, pausing and cancelling, the
results CSV (inert cells), and who may do it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

import pytest

from eki_adapters.system.clock import FixedClock
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import Student
from eki_domain.model.templates import TemplateStatus
from eki_entrypoints.bootstrap import Eki
from tests.integration.conftest import CliCall
from tests.integration.staff_web_support import (
    CLI,
    TOKEN,
    add_accounts,
    client_for,
    csrf_of,
    make_eki,
    sign_in,
)


async def seed(eki: Eki) -> None:
    await eki.templates.add(CLI, "aviso_general", "es", "utility", "Hola {{1}}: {{2}}",
                            status=TemplateStatus.APPROVED)
    now = eki.clock.now()
    async with eki.uow() as uow:
        for n, name in enumerate(["=Ana Pérez", "Luis Gómez", "Marta Ruiz"]):
            await uow.students.add(Student.register(
                name, PhoneNumber.parse(f"+57300666{n:04d}"), registered_at=now,
                tags={"grado 10"}, active=n != 2))
        await uow.commit()


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await make_eki(database_url)
    await seed(app)
    yield app
    await app.aclose()


def test_api_preview_create_follow_and_results(eki: Eki) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"name": "Cierre", "template": "aviso_general", "tags": ["grado 10"],
            "params": ["{nombre}", "mañana no hay clase"]}
    with client_for(eki) as client:
        dry = client.post("/api/broadcasts", headers=auth, json={**body, "dry_run": True})
        assert dry.status_code == 200, dry.text
        assert dry.json()["id"] is None
        assert dry.json()["recipients"] == 2
        assert dry.json()["excluded"]["inactive"] == 1
        created = client.post("/api/broadcasts", headers=auth, json=body)
        assert created.status_code == 201, created.text
        bid = created.json()["id"]
        shown = client.get(f"/api/broadcasts/{bid}", headers=auth).json()
        assert (shown["state"], shown["recipients"]) == ("sending", 2)
        assert shown["counts"] == {"queued": 2, "sent": 0, "delivered": 0, "read": 0,
                                   "failed": 0}
        assert [b["id"] for b in client.get("/api/broadcasts", headers=auth).json()["items"]
                ] == [bid]
        paused = client.post(f"/api/broadcasts/{bid}/pause", headers=auth)
        assert paused.json() == {"id": bid, "state": "paused"}
        again = client.post(f"/api/broadcasts/{bid}/pause", headers=auth)
        assert again.status_code == 409
        cancelled = client.post(f"/api/broadcasts/{bid}/cancel", headers=auth)
        assert cancelled.json()["state"] == "cancelled"
        results = client.get(f"/api/broadcasts/{bid}/results.csv", headers=auth)
        assert results.status_code == 200
        rows = list(csv.reader(io.StringIO(results.text)))
        assert rows[0][:4] == ["telefono", "estudiante_id", "estudiante", "estado"]
        assert {r[3] for r in rows[1:]} == {"failed"}
        assert {r[5] for r in rows[1:]} == {"difusión cancelada"}
        names = {r[2] for r in rows[1:]}
        assert "'=Ana Pérez" in names  # a formula-looking name is made inert
        # Bad input never 500s.
        for bad in ({"name": "x"}, {**body, "to": "profes"}, {**body, "params": "x"},
                    {**body, "at": "mañana"}, {**body, "template": "no_existe"}):
            refused = client.post("/api/broadcasts", headers=auth, json=bad)
            assert 400 <= refused.status_code < 500, (bad, refused.text)
        assert client.get("/api/broadcasts/999", headers=auth).status_code == 404


def test_admin_pages_preview_then_send_and_roles(eki: Eki) -> None:
    with client_for(eki) as probe:
        emails = probe.portal.call(add_accounts, eki)  # type: ignore[union-attr]
    with client_for(eki) as client:
        csrf = sign_in(client, emails["coordinator"])
        form = {"csrf": csrf, "name": "Reunión", "template": "aviso_general",
                "language": "es", "tags": "grado 10", "to": "students",
                "params": "{nombre}\nreunión el viernes", "at": ""}
        preview = client.post("/admin/difusiones", data={**form, "step": "preview"})
        assert preview.status_code == 200, preview.text
        assert "<strong>2</strong> persona(s)" in preview.text
        assert "Enviar a 2" in preview.text
        sent = client.post("/admin/difusiones", data={**form, "step": "send"},
                           follow_redirects=False)
        assert sent.status_code == 303
        follow = client.get(sent.headers["location"])
        assert follow.status_code == 200 and "progress" in follow.text
        state = client.get(sent.headers["location"] + "/estado").json()
        assert state["counts"]["queued"] == 2 and state["state_label"] == "enviando"
        paused = client.post(sent.headers["location"] + "/pausar",
                             data={"csrf": csrf_of(follow.text)}, follow_redirects=False)
        assert paused.status_code == 303
        assert "en pausa" in client.get(sent.headers["location"]).text
        csv_file = client.get(sent.headers["location"] + "/resultados.csv")
        assert csv_file.headers["content-type"].startswith("text/csv")
        bad = client.post("/admin/difusiones", data={**form, "template": "no_existe",
                                                     "step": "preview"})
        assert bad.status_code == 422
    with client_for(eki) as client:
        sign_in(client, emails["teacher"])
        assert client.get("/admin/difusiones").status_code == 403
        audit = client.portal.call(_audit, eki)  # type: ignore[union-attr]
    assert audit[:2] == ["broadcast.paused", "broadcast.created"]


async def _audit(eki: Eki) -> list[str]:
    from eki_domain.model.audit import AuditFilter
    from eki_domain.model.pagination import PageRequest

    async with eki.uow() as uow:
        page = await uow.audit.list(AuditFilter(target_type="broadcast"), PageRequest())
    return [e.action for e in page.items]


def test_cli_create_show_pause(eki: Eki, cli: CliCall) -> None:
    code, out, err = cli("broadcast", "create", "--name", "Aviso", "--template",
                         "aviso_general", "--tag", "grado 10", "--param", "{nombre}",
                         "--param", "hoy", "--dry-run", "--json")
    assert code == 0, err
    preview = json.loads(out)
    assert (preview["id"], preview["recipients"], preview["excluded"]["inactive"]) == (
        None, 2, 1)
    code, out, err = cli("broadcast", "create", "--name", "Aviso", "--template",
                         "aviso_general", "--to", "both", "--param", "{nombre}", "--param",
                         "hoy", "--at", "2099-01-01T07:30", "--json")
    assert code == 0, err
    bid = json.loads(out)["id"]
    code, out, _ = cli("broadcast", "show", str(bid), "--json")
    shown = json.loads(out)
    assert (shown["id"], shown["state"], shown["recipients"]) == (bid, "scheduled", 2)
    assert set(shown["counts"]) == {"queued", "sent", "delivered", "read", "failed"}
    assert cli("broadcast", "pause", str(bid))[1].strip() == f"Difusión {bid}: en pausa."
    code, _, err = cli("broadcast", "pause", str(bid))
    assert code != 0 and "No se puede pausar" in err
    code, out, _ = cli("broadcast", "list")
    assert "Aviso" in out
    code, _, err = cli("broadcast", "show", "424242")
    assert code != 0 and "No existe la difusión" in err


async def test_the_worker_starts_a_scheduled_broadcast_and_finishes_it(eki: Eki) -> None:
    from datetime import timedelta

    from eki_domain.model.broadcasts import Audience, BroadcastState
    from eki_domain.services.broadcasts import BroadcastSpec
    from eki_entrypoints.worker import PipelineWorker

    clock = eki.clock
    assert isinstance(clock, FixedClock)
    broadcast, _ = await eki.broadcasts.create(CLI, BroadcastSpec(
        name="Mañana", template="aviso_general", params=("{nombre}", "mañana"),
        audience=Audience.of(["grado 10"]), scheduled_at=clock.now() + timedelta(hours=1)))
    assert broadcast.id is not None
    worker = PipelineWorker(eki)
    await worker.drain()
    assert (await eki.broadcasts.get(CLI, broadcast.id)).broadcast.state is (
        BroadcastState.SCHEDULED)
    clock.advance(timedelta(hours=1))
    await worker.drain()  # the sweep starts it; the dispatcher sends it (tokens saved up)
    view = await eki.broadcasts.get(CLI, broadcast.id)
    assert view.broadcast.state is BroadcastState.SENDING
    assert (view.counts["sent"], view.counts["queued"]) == (2, 0)
    clock.advance(timedelta(seconds=1))
    await worker.drain()  # the next sweep sees nothing left: done
    view = await eki.broadcasts.get(CLI, broadcast.id)
    assert (view.broadcast.state, view.counts["sent"]) == (BroadcastState.DONE, 2)


def test_api_answers_400_to_json_nested_too_deep(eki: Eki) -> None:
    with client_for(eki) as client:
        deep = client.post("/api/broadcasts", content=b"[" * 30_000 + b"]" * 30_000,
                           headers={"Authorization": f"Bearer {TOKEN}",
                                    "Content-Type": "application/json"})
        assert deep.status_code == 400 and deep.json()["error"]["code"] == "BAD_JSON"
        big = client.post("/api/broadcasts", content=b" " * 70_000,
                          headers={"Authorization": f"Bearer {TOKEN}"})
        assert big.status_code == 413
