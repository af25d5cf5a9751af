"""``/api/guardians`` and ``/api/codes/pending`` over real HTTP (Starlette TestClient) on
SQLite and PostgreSQL: the CRUD, Spanish field errors, hostile input (never a 500), the
teacher's scope, refusals and the audit entries (issue 17)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from eki_domain.model.audit import AuditFilter
from eki_domain.model.pagination import PageRequest
from eki_entrypoints.bootstrap import Eki
from tests.integration.staff_web_support import CLI, add_accounts, client_for, make_eki

ANA, BRUNO, LUIS = "+573001112233", "+573004445566", "+573007778899"
MARTA, PEDRO = "+573105550001", "+573105550002"


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await make_eki(database_url)
    await app.registration.register("Ana Pérez", ANA, tags=["grado 10"])
    await app.registration.register("Luis Pérez", LUIS, tags=["grado 10"])
    await app.registration.register("Bruno Díaz", BRUNO, tags=["grado 11"])
    yield app
    await app.aclose()


@pytest.fixture
def api(eki: Eki) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    """A client and the bearer headers of each role."""
    with client_for(eki) as client:
        emails = client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        headers = {}
        for role in ("admin", "coordinator", "teacher", "viewer"):
            token = client.portal.call(  # type: ignore[union-attr]
                eki.staff.create_token, CLI, emails[role], "pruebas")
            headers[role] = {"Authorization": f"Bearer {token.secret}"}
        yield client, headers


def audit_actions(client: TestClient, eki: Eki) -> list[tuple[str, str, dict[str, Any]]]:
    async def read() -> list[tuple[str, str, dict[str, Any]]]:
        page = await eki.audit.list(CLI, AuditFilter(), PageRequest(limit=200))
        return [(e.action, e.actor, dict(e.details)) for e in page.items]
    return client.portal.call(read)  # type: ignore[union-attr]


def test_add_show_change_unlink(eki: Eki, api: Any) -> None:
    client, who = api
    coord = who["coordinator"]
    made = client.post("/api/guardians", headers=coord, json={
        "name": " Marta  Gómez ", "phone": "310 555 0001", "student": "3001112233",
        "relationship": "mamá", "may_see_grades": True, "may_receive_alerts": False})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["name"] == "Marta Gómez" and body["phone"] == MARTA
    assert body["students"] == [{
        "student_id": body["students"][0]["student_id"], "name": "Ana Pérez", "phone": ANA,
        "relationship": "madre", "may_see_grades": True, "may_receive_alerts": False,
        "priority": 1}]
    again = client.post("/api/guardians", headers=coord, json={
        "name": "Marta Gómez", "phone": MARTA, "student": ANA})
    assert again.status_code == 409 and again.json()["error"]["code"] == "DUPLICATE_LINK"
    second = client.post("/api/guardians", headers=coord, json={
        "name": "Marta Gómez", "phone": MARTA, "student": LUIS, "relationship": "madre"})
    assert second.status_code == 201
    assert [s["name"] for s in second.json()["students"]] == ["Ana Pérez", "Luis Pérez"]

    shown = client.get(f"/api/guardians/{MARTA}", headers=coord)
    assert shown.status_code == 200 and len(shown.json()["students"]) == 2
    student = client.get("/api/students/3001112233", headers=coord).json()
    assert [(g["name"], g["relationship"], g["may_receive_alerts"])
            for g in student["guardians"]] == [("Marta Gómez", "madre", False)]

    changed = client.patch(f"/api/guardians/{MARTA}/students/{ANA}", headers=coord, json={
        "may_see_grades": False, "priority": 3, "relationship": "acudiente"})
    assert changed.status_code == 200, changed.text
    link = next(s for s in changed.json()["students"] if s["phone"] == ANA)
    assert (link["may_see_grades"], link["priority"], link["relationship"],
            link["may_receive_alerts"]) == (False, 3, "acudiente", False)

    listed = client.get("/api/guardians", headers=coord, params={"student": "3004445566"})
    assert listed.json() == {"items": [], "total": 0, "limit": 50, "offset": 0,
                             "has_more": False}
    listed = client.get("/api/guardians", headers=coord, params={"q": "gómez", "limit": 1})
    assert listed.json()["total"] == 1 and listed.json()["items"][0]["phone"] == MARTA

    gone = client.delete(f"/api/guardians/{MARTA}/students/{ANA}", headers=coord)
    assert gone.status_code == 200 and gone.json() == {"unlinked": True}
    twice = client.delete(f"/api/guardians/{MARTA}/students/{ANA}", headers=coord)
    assert twice.status_code == 404
    assert client.get("/api/students/3001112233", headers=coord).json()["guardians"] == []
    missing = client.patch(f"/api/guardians/{MARTA}/students/{ANA}", headers=coord,
                           json={"priority": 2})
    assert missing.status_code == 404

    entries = audit_actions(client, eki)
    mine = [(a, d.get("via"), d.get("change")) for a, actor, d in entries
            if actor == "coordina@colegio.edu.co" and a.startswith("guardian.")]
    assert sorted(mine, key=str) == sorted([
        ("guardian.created", "api", None), ("guardian.linked", "api", None),
        ("guardian.linked", "api", None), ("guardian.linked", "api", "update"),
        ("guardian.unlinked", "api", None), ("guardian.viewed", "api", None)], key=str)


def test_field_errors_in_spanish_and_hostile_input(eki: Eki, api: Any) -> None:
    client, who = api
    admin = who["admin"]
    bad = client.post("/api/guardians", headers=admin, json={
        "name": "123", "phone": "12", "student": ["x"], "relationship": "vecino",
        "may_see_grades": "sí", "extra": 1})
    assert bad.status_code == 422
    fields = bad.json()["error"]["fields"]
    assert set(fields) == {"name", "phone", "student", "relationship", "may_see_grades",
                           "extra"}
    assert "letras" in fields["name"] and "true o false" in fields["may_see_grades"]
    assert "Parentesco" in fields["relationship"] and fields["extra"] == "Campo desconocido."
    empty = client.post("/api/guardians", headers=admin, json={})
    assert set(empty.json()["error"]["fields"]) == {"name", "phone", "student"}
    unknown = client.post("/api/guardians", headers=admin, json={
        "name": "Pedro", "phone": PEDRO, "student": "3009999999"})
    assert unknown.status_code == 422 and "student" in unknown.json()["error"]["fields"]
    same = client.post("/api/guardians", headers=admin, json={
        "name": "Ana Pérez", "phone": ANA, "student": ANA})
    assert same.status_code == 422 and "mismo teléfono" in same.json()["error"]["fields"][
        "phone"]
    client.post("/api/guardians", headers=admin, json={
        "name": "Pedro", "phone": PEDRO, "student": ANA})
    wrong_types = client.patch(f"/api/guardians/{PEDRO}/students/{ANA}", headers=admin,
                               json={"priority": True, "may_receive_alerts": 1})
    assert wrong_types.status_code == 422
    assert set(wrong_types.json()["error"]["fields"]) == {"priority", "may_receive_alerts"}
    assert client.patch(f"/api/guardians/{PEDRO}/students/{ANA}", headers=admin,
                        json={"priority": 1000}).status_code == 422

    hostile: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/api/guardians", {"content": b"x" * 100_000}),
        ("POST", "/api/guardians", {"content": b"{not json"}),
        ("POST", "/api/guardians", {"content": b"[" * 50_00 + b"]" * 50_00}),
        ("POST", "/api/guardians", {"json": ["a list"]}),
        ("POST", "/api/guardians", {"json": {"name": "x" * 5000, "phone": "9" * 5000,
                                             "student": {"a": 1}}}),
        ("POST", "/api/guardians", {"content": b"\xff\xfe\x00", "headers": {
            "content-type": "application/json"}}),
        ("PATCH", f"/api/guardians/{PEDRO}/students/{ANA}", {"content": b"null"}),
        ("GET", "/api/guardians/" + "9" * 5000, {}),
        ("GET", "/api/guardians/%00%0a'--", {}),
        ("GET", "/api/guardians/abc", {}),
        ("GET", "/api/guardians?limit=0", {}),
        ("GET", "/api/guardians?offset=99999999999999999999999", {}),
        ("GET", "/api/guardians?student=" + "3" * 100, {}),
        ("GET", "/api/guardians?student=abc", {}),
        ("DELETE", f"/api/guardians/{PEDRO}/students/" + "1" * 300, {}),
        ("DELETE", f"/api/guardians/{PEDRO}/students/{BRUNO}", {}),
        ("POST", "/api/codes/pending/99999999999999999999999/approve", {}),
        ("POST", "/api/codes/pending/-1/approve", {}),
        ("POST", "/api/codes/pending/abc/reject", {}),
    ]
    for method, url, extra in hostile:
        headers = {**admin, **extra.pop("headers", {})}
        response = client.request(method, url, headers=headers, **extra)
        assert 400 <= response.status_code < 500, (method, url, response.status_code,
                                                   response.text[:200])
        if response.headers.get("content-type", "").startswith("application/json"):
            assert "error" in response.json()
    assert client.post("/api/guardians", headers=admin,
                       content=b"x" * 100_000).status_code == 413
    # LIKE wildcards are searched for as text, and a long search is cut, not refused
    for q in ("%", "_", "%_" + "z" * 500):
        found = client.get("/api/guardians", headers=admin, params={"q": q})
        assert found.status_code == 200 and found.json()["total"] == 0, q


def test_teacher_scope_and_refusals(eki: Eki, api: Any) -> None:
    client, who = api
    admin = who["admin"]
    for payload in ({"name": "Marta", "phone": MARTA, "student": ANA},
                    {"name": "Marta", "phone": MARTA, "student": BRUNO},
                    {"name": "Pedro", "phone": PEDRO, "student": BRUNO}):
        assert client.post("/api/guardians", headers=admin, json=payload).status_code == 201
    teacher = who["teacher"]  # grado 10: Ana and Luis, not Bruno
    listed = client.get("/api/guardians", headers=teacher).json()
    assert [(g["phone"], [s["name"] for s in g["students"]]) for g in listed["items"]] == [
        (MARTA, ["Ana Pérez"])]
    assert listed["total"] == 1
    marta = client.get(f"/api/guardians/{MARTA}", headers=teacher)
    assert marta.status_code == 200 and [s["phone"] for s in marta.json()["students"]] == [
        ANA]
    assert client.get(f"/api/guardians/{PEDRO}", headers=teacher).status_code == 404
    assert client.get("/api/guardians", headers=teacher,
                      params={"student": BRUNO}).status_code == 404
    for method, url in (("POST", "/api/guardians"),
                        ("PATCH", f"/api/guardians/{MARTA}/students/{ANA}"),
                        ("DELETE", f"/api/guardians/{MARTA}/students/{ANA}"),
                        ("GET", "/api/codes/pending"),
                        ("POST", "/api/codes/pending/1/approve")):
        refused = client.request(method, url, headers=teacher, json={"name": "x"})
        assert refused.status_code == 403, (method, url)
        assert refused.json()["error"]["code"] == "FORBIDDEN"
    viewer = who["viewer"]
    for url in ("/api/guardians", f"/api/guardians/{MARTA}"):
        assert client.get(url, headers=viewer).status_code == 403
    assert client.get("/api/guardians").status_code == 401
    # the teacher's refusals changed nothing
    assert len(client.get(f"/api/guardians/{MARTA}", headers=admin).json()["students"]) == 2
