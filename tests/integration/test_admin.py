"""The admin site over real SQLite and PostgreSQL through Starlette's TestClient: every
sign-in path, CSRF on every form, each page with real data, and the import flow."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from starlette.testclient import TestClient

from eki_adapters.system import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app
from eki_entrypoints.web.admin.staging import UploadStaging
from tests.integration.admin_seed import seed_school
from tests.integration.workbooks import xlsx

TOKEN = "admin-token-for-tests"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GET_PAGES = ["/admin", "/admin/students", "/admin/students/1", "/admin/webhooks",
             "/admin/webhooks/1", "/admin/handoffs", "/admin/imports",
             "/admin/imports/1/errors"]


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await bootstrap(Settings(database_url=database_url, admin_token=Secret(TOKEN)),
                          clock=FixedClock(), channel=ConsoleChannel(name="meta"))
    yield app
    await app.aclose()


@pytest.fixture
def client(eki: Eki, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(eki.settings, eki=eki)
    app.state.admin_uploads = UploadStaging(tmp_path / "uploads")
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def seeded(client: TestClient, eki: Eki) -> dict[str, int]:
    return client.portal.call(seed_school, eki)  # type: ignore[union-attr]


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def sign_in(client: TestClient, token: str = TOKEN) -> str:
    """Sign in; return the session's CSRF token (taken from the dashboard's forms)."""
    form = client.get("/admin/login")
    assert form.status_code == 200
    done = client.post("/admin/login", data={"csrf": csrf_of(form.text), "token": token,
                                             "next": "/admin"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/admin"
    dashboard = client.get("/admin")
    assert dashboard.status_code == 200
    return csrf_of(dashboard.text)


def assert_csp_clean(html: str) -> None:
    """The pages must work under ``script-src 'self'; style-src 'self'``."""
    assert "<script" not in html
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers
    assert "http://" not in html and "https://" not in html  # no CDN


# -- sign-in -------------------------------------------------------------------------------


def test_without_admin_token_the_whole_admin_refuses(database_url: str) -> None:
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        for path in ["/admin", "/admin/login", "/admin/students"]:
            page = client.get(path)
            assert page.status_code == 403
            assert "EKI_ADMIN_TOKEN" in page.text and "desactivada" in page.text
        assert client.post("/admin/login", data={"token": "x"}).status_code == 403
        assert client.get("/admin/static/admin.css").status_code == 200


def test_pages_without_a_session_go_to_sign_in(client: TestClient) -> None:
    for path in GET_PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/admin/login?next=%2Fadmin")
    for path in ["/admin/logout", "/admin/handoffs/1/release", "/admin/imports/preview",
                 "/admin/imports/confirm"]:
        response = client.post(path, data={"csrf": "x"}, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/admin/login")
    # a forged cookie is no session either
    client.cookies.set("eki_admin", "eyJrIjoic2Vzc2lvbiJ9.bm9wZQ", path="/admin")
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_sign_in_keeps_where_the_user_was_going(client: TestClient) -> None:
    response = client.get("/admin/students?q=ana", follow_redirects=False)
    target = response.headers["location"]
    form = client.get(target)
    assert 'value="/admin/students?q=ana"' in form.text
    done = client.post("/admin/login", data={"csrf": csrf_of(form.text), "token": TOKEN,
                                             "next": "/admin/students?q=ana"},
                       follow_redirects=False)
    assert done.headers["location"] == "/admin/students?q=ana"


def test_sign_in_page_when_already_signed_in(client: TestClient) -> None:
    sign_in(client)
    again = client.get("/admin/login?next=%2Fadmin%2Fhandoffs", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/admin/handoffs"


def test_sign_in_never_redirects_off_site(client: TestClient) -> None:
    form = client.get("/admin/login")
    for evil in ["https://evil.example/", "//evil.example/admin", "/admin//evil.example"]:
        form = client.get("/admin/login")
        done = client.post("/admin/login", data={"csrf": csrf_of(form.text), "token": TOKEN,
                                                 "next": evil}, follow_redirects=False)
        assert done.headers["location"] == "/admin"
        client.cookies.clear()


def test_wrong_token_is_refused(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    form = client.get("/admin/login")
    refused = client.post("/admin/login", data={"csrf": csrf_of(form.text),
                                                "token": "not-the-token"},
                          follow_redirects=False)
    assert refused.status_code == 403
    assert "no es correcto" in refused.text
    assert "eki_admin=" not in refused.headers.get("set-cookie", "").replace(
        "eki_admin_login=", "")
    assert client.get("/admin", follow_redirects=False).status_code == 303
    assert any("wrong token" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text and "not-the-token" not in caplog.text


def test_sign_in_needs_its_csrf_token(client: TestClient) -> None:
    form = client.get("/admin/login")
    token = csrf_of(form.text)
    missing = client.post("/admin/login", data={"token": TOKEN}, follow_redirects=False)
    assert missing.status_code == 403 and "caducó" in missing.text
    form = client.get("/admin/login")
    wrong = client.post("/admin/login", data={"csrf": token + "x", "token": TOKEN},
                        follow_redirects=False)
    assert wrong.status_code == 403
    # the right value without its signed cookie (another browser) is refused too
    form = client.get("/admin/login")
    token = csrf_of(form.text)
    client.cookies.clear()
    no_cookie = client.post("/admin/login", data={"csrf": token, "token": TOKEN},
                            follow_redirects=False)
    assert no_cookie.status_code == 403
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_session_cookie_flags(eki: Eki) -> None:
    app = create_app(eki.settings, eki=eki)
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        with TestClient(app, base_url=base) as client:
            form = client.get("/admin/login")
            done = client.post("/admin/login", data={"csrf": csrf_of(form.text),
                                                     "token": TOKEN}, follow_redirects=False)
            cookies = [c for c in done.headers.get_list("set-cookie")
                       if c.startswith("eki_admin=")]
            assert len(cookies) == 1
            cookie = cookies[0].lower()
            assert "httponly" in cookie and "samesite=strict" in cookie
            assert "path=/admin" in cookie and f"max-age={12 * 3600}" in cookie
            assert ("secure" in cookie) is secure


def test_expired_session_goes_back_to_sign_in(client: TestClient, eki: Eki) -> None:
    sign_in(client)
    assert isinstance(eki.clock, FixedClock)
    eki.clock.advance(timedelta(hours=11, minutes=59))
    assert client.get("/admin", follow_redirects=False).status_code == 200
    eki.clock.advance(timedelta(minutes=2))
    expired = client.get("/admin/students", follow_redirects=False)
    assert expired.status_code == 303
    assert "expired=1" in expired.headers["location"]
    login = client.get(expired.headers["location"])
    assert "Su sesión expiró" in login.text


def test_changing_the_admin_token_signs_everyone_out(client: TestClient, eki: Eki,
                                                     database_url: str) -> None:
    sign_in(client)
    cookie = client.cookies.get("eki_admin")
    assert cookie
    other = Settings(database_url=database_url, admin_token=Secret("a-new-token"))
    with TestClient(create_app(other, eki=eki)) as rotated:
        rotated.cookies.set("eki_admin", cookie, path="/admin")
        # the app reads settings from eki, so rebuild eki's settings view of the token
        rotated.app.state.settings = other  # type: ignore[attr-defined]
        assert rotated.get("/admin", follow_redirects=False).status_code == 303


def test_secret_key_signs_sessions_when_set(eki: Eki, database_url: str) -> None:
    settings = Settings(database_url=database_url, admin_token=Secret(TOKEN),
                        secret_key=Secret("k" * 40))
    with TestClient(create_app(settings, eki=eki)) as client:
        client.app.state.settings = settings  # type: ignore[attr-defined]
        sign_in(client)
        cookie = client.cookies.get("eki_admin")
    with TestClient(create_app(settings, eki=eki)) as other:
        other.app.state.settings = Settings(  # type: ignore[attr-defined]
            database_url=database_url, admin_token=Secret(TOKEN), secret_key=Secret("j" * 40))
        other.cookies.set("eki_admin", cookie or "", path="/admin")
        assert other.get("/admin", follow_redirects=False).status_code == 303


def test_sign_out(client: TestClient) -> None:
    csrf = sign_in(client)
    missing = client.post("/admin/logout", data={}, follow_redirects=False)
    assert missing.status_code == 403
    assert client.get("/admin", follow_redirects=False).status_code == 200
    out = client.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/admin/login?out=1"
    assert "eki_admin=" in out.headers["set-cookie"] and "max-age=0" in \
        out.headers["set-cookie"].lower()
    assert client.get("/admin", follow_redirects=False).status_code == 303
    assert "Cerró la sesión" in client.get("/admin/login?out=1").text


def import_history(client: TestClient, eki: Eki) -> list[object]:
    async def recent() -> list[object]:
        async with eki.uow() as uow:
            return list(await uow.imports.recent(limit=100))

    return list(client.portal.call(recent))  # type: ignore[union-attr]


def test_every_form_needs_the_session_csrf_token(client: TestClient, eki: Eki,
                                                 seeded: dict[str, int]) -> None:
    csrf = sign_in(client)
    carla = seeded["carla"]
    history_before = len(import_history(client, eki))
    posts = {
        "/admin/logout": ({}, None),
        f"/admin/handoffs/{carla}/release": ({}, None),
        "/admin/imports/confirm": ({"upload": "0" * 64, "target": "students"}, None),
        "/admin/imports/preview": ({"target": "students", "kind": ""},
                                   {"file": ("a.csv", b"nombre,telefono\nAna,3001234567\n",
                                             "text/csv")}),
    }
    for path, (fields, files) in posts.items():
        for bad in ({}, {"csrf": "forged"}, {"csrf": csrf[:-1]}):
            response = client.post(path, data={**fields, **bad}, files=files,
                                   follow_redirects=False)
            assert response.status_code == 403, (path, bad)
            assert "código de seguridad" in response.text
    # nothing happened: still signed in, Carla still waiting, no import (not even a dry run)
    handoffs = client.get("/admin/handoffs")
    assert handoffs.status_code == 200 and "Carla Gómez" in handoffs.text
    assert len(import_history(client, eki)) == history_before


# -- pages -----------------------------------------------------------------------------------


def test_dashboard_shows_the_figures_and_charts(client: TestClient,
                                                seeded: dict[str, int]) -> None:
    sign_in(client)
    page = client.get("/admin")
    html = page.text
    assert page.headers["cache-control"] == "no-store"
    for label in ["Tiempo de respuesta promedio", "Mensajes por hora", "Tasa de respuesta",
                  "Estudiantes activos / inactivos", "Errores de teléfono", "Tokens hoy",
                  "Tasa de error del modelo", "Uso de herramientas", "Costo por estudiante"]:
        assert label in html, label
    assert html.count('<svg class="chart"') == 2
    assert 'class="bar inbound"' in html and 'class="dot avg"' in html
    assert "2 / 1" in html  # active / inactive
    assert "50,0 %" in html  # one model call of two failed
    assert "tiempo agotado: 1" in html
    assert "1 de 2 llamadas" in html
    assert "1.000" in html  # tokens today
    assert_csp_clean(html)


def test_students_search_filters_and_pages(client: TestClient, seeded: dict[str, int]) -> None:
    sign_in(client)
    everyone = client.get("/admin/students").text
    assert all(n in everyone for n in ("Ana María Pérez", "Bruno Díaz", "Carla Gómez"))
    assert "3 estudiante(s)" in everyone
    by_name = client.get("/admin/students", params={"q": "ana"}).text
    assert "Ana María Pérez" in by_name and "Bruno Díaz" not in by_name
    by_phone = client.get("/admin/students", params={"q": "987 6543"}).text
    assert "Bruno Díaz" in by_phone and "Ana María Pérez" not in by_phone
    by_tag = client.get("/admin/students", params={"tag": "Grado 10"}).text
    assert "Ana María Pérez" in by_tag and "Carla Gómez" in by_tag and "Bruno" not in by_tag
    inactive = client.get("/admin/students", params={"active": "0"}).text
    assert "Bruno Díaz" in inactive and "Carla" not in inactive
    active_tagged = client.get("/admin/students", params={"active": "1", "tag": "grado 11"})
    assert "No hay estudiantes" in active_tagged.text
    bad_tag = client.get("/admin/students", params={"tag": "a,b"})
    assert bad_tag.status_code == 200 and "separan etiquetas" in bad_tag.text
    assert_csp_clean(everyone)


def test_student_page_shows_profile_progress_and_conversation(
        client: TestClient, seeded: dict[str, int]) -> None:
    sign_in(client)
    page = client.get(f"/admin/students/{seeded['ana']}")
    html = page.text
    assert page.status_code == 200
    assert "Ana María Pérez" in html and "+573001234567" in html and "grado 10" in html
    assert "Matemáticas" in html and "4,2" in html  # the average of 4.5 and 3.8
    assert "hola, ¿cómo voy en matemáticas?" in html
    assert 'class="badge delivered" title="estado">entregado<' in html  # delivery state
    assert 'class="message out"' in html and 'class="message in"' in html
    assert "1.000" in html  # tokens today
    assert_csp_clean(html)
    assert client.get("/admin/students/999999").status_code == 404


def test_webhook_log_with_signature_failures(client: TestClient,
                                             seeded: dict[str, int]) -> None:
    sign_in(client)
    everything = client.get("/admin/webhooks").text
    assert "rechazada" in everything and "válida" in everything
    failed = client.get("/admin/webhooks", params={"signature": "failed"}).text
    assert "firma inválida; 120 bytes" in failed
    assert failed.count('class="badge ok"') == 0
    valid = client.get("/admin/webhooks", params={"signature": "ok"}).text
    assert valid.count('<span class="badge failed">rechazada') == 0
    assert "evento(s)" in valid
    first = re.search(r'href="/admin/webhooks/(\d+)"', valid)
    assert first
    detail = client.get(f"/admin/webhooks/{first.group(1)}").text
    assert "whatsapp_business_account" in detail
    rejected = re.search(r'href="/admin/webhooks/(\d+)"', failed)
    assert rejected
    assert "El contenido no se guardó" in client.get(
        f"/admin/webhooks/{rejected.group(1)}").text
    assert client.get("/admin/webhooks/999999").status_code == 404
    assert_csp_clean(everything)


def test_handoff_queue_releases_the_bot(client: TestClient, seeded: dict[str, int],
                                        eki: Eki) -> None:
    csrf = sign_in(client)
    queue = client.get("/admin/handoffs").text
    assert "Carla Gómez" in queue and "Devolver al bot" in queue
    assert_csp_clean(queue)
    student = client.get(f"/admin/students/{seeded['carla']}").text
    assert "El bot está en pausa" in student
    done = client.post(f"/admin/handoffs/{seeded['carla']}/release", data={"csrf": csrf},
                       follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/admin/handoffs?released=1"
    after = client.get(done.headers["location"]).text
    assert "Nadie está esperando" in after and "el bot vuelve a responder" in after

    async def paused() -> bool:
        async with eki.uow() as uow:
            return await uow.handoffs.has_open_handoff(seeded["carla"])

    assert client.portal.call(paused) is False  # type: ignore[union-attr]
    again = client.post(f"/admin/handoffs/{seeded['carla']}/release",
                        data={"csrf": csrf, "back": "student"}, follow_redirects=False)
    assert again.headers["location"] == f"/admin/students/{seeded['carla']}?released=0"


# -- imports ---------------------------------------------------------------------------------


def student_workbook() -> bytes:
    return xlsx([["Nombre", "Teléfono", "Etiquetas"],
                 ["Diana Ruiz", "300 111 2233", "grado 9"],
                 ["Esteban Mora", 3002223344, "grado 9"],
                 ["Sin Teléfono", "", "grado 9"],
                 ["1234", "3003334455", ""],
                 ["Fabio Núñez", "12", ""]])


def count_students(client: TestClient, eki: Eki) -> int:
    async def count() -> int:
        async with eki.uow() as uow:
            return await uow.students.count()

    return int(client.portal.call(count))  # type: ignore[union-attr]


def test_student_import_preview_confirm_and_errors_file(client: TestClient, eki: Eki,
                                                        tmp_path: Path) -> None:
    csrf = sign_in(client)
    page = client.get("/admin/imports").text
    assert "Todavía no hay importaciones" in page
    assert_csp_clean(page)
    preview = client.post("/admin/imports/preview", data={
        "csrf": csrf, "target": "students", "kind": ""},
        files={"file": ("alumnos.xlsx", student_workbook(), XLSX)})
    assert preview.status_code == 200, preview.text
    html = preview.text
    assert "Simulación" in html and "Todavía no se guardó nada" in html
    assert "Se crearían" in html and "Confirmar e importar" in html
    assert html.count('<tr class="error">') >= 3  # the three bad rows
    assert "Descargar errores" in html
    assert_csp_clean(html)
    assert count_students(client, eki) == 0  # a dry run writes nothing

    staged = list((tmp_path / "uploads").glob("*.upload"))
    assert len(staged) == 1
    upload = re.search(r'name="upload" value="([0-9a-f]{64})"', html)
    assert upload and staged[0].name == f"{upload.group(1)}.upload"

    wrong_target = client.post("/admin/imports/confirm", data={
        "csrf": csrf, "upload": upload.group(1), "target": "progress"})
    assert wrong_target.status_code == 409
    unknown = client.post("/admin/imports/confirm", data={
        "csrf": csrf, "upload": "a" * 64, "target": "students"})
    assert unknown.status_code == 410 and "caducó" in unknown.text
    assert count_students(client, eki) == 0

    result = client.post("/admin/imports/confirm", data={
        "csrf": csrf, "upload": upload.group(1), "target": "students"})
    assert result.status_code == 200, result.text
    assert "Importación terminada" in result.text and "Creadas" in result.text
    assert count_students(client, eki) == 2
    assert not list((tmp_path / "uploads").glob("*.upload"))  # deleted once imported
    replay = client.post("/admin/imports/confirm", data={
        "csrf": csrf, "upload": upload.group(1), "target": "students"})
    assert replay.status_code == 410
    assert count_students(client, eki) == 2

    job = re.search(r'href="/admin/imports/(\d+)/errors"', result.text)
    assert job
    errors = client.get(f"/admin/imports/{job.group(1)}/errors")
    assert errors.status_code == 200 and errors.headers["content-type"] == XLSX
    sheet = openpyxl.load_workbook(io.BytesIO(errors.content)).active
    assert sheet is not None and sheet.max_row == 4  # header + the three rejected rows
    as_csv = client.get(f"/admin/imports/{job.group(1)}/errors", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert client.get("/admin/imports/999999/errors").status_code == 404

    history = client.get("/admin/imports").text
    assert "alumnos.xlsx" in history and "simulación" in history and "importada" in history
    found = client.get("/admin/students", params={"q": "diana"}).text
    assert "Diana Ruiz" in found


def test_gradebook_import_through_the_admin(client: TestClient, eki: Eki,
                                            seeded: dict[str, int]) -> None:
    csrf = sign_in(client)
    grades = (b"telefono,curso,actividad,nota\n"
              b"3001234567,Ciencias,Laboratorio 1,4.0\n"
              b"3109999999,Ciencias,Laboratorio 1,3.0\n")
    preview = client.post("/admin/imports/preview", data={
        "csrf": csrf, "target": "progress", "kind": "grades"},
        files={"file": ("notas.csv", grades, "text/csv")})
    assert preview.status_code == 200, preview.text
    assert "Notas" in preview.text and '<tr class="error">' in preview.text
    upload = re.search(r'name="upload" value="([0-9a-f]{64})"', preview.text)
    assert upload
    result = client.post("/admin/imports/confirm", data={
        "csrf": csrf, "upload": upload.group(1), "target": "progress"})
    assert result.status_code == 200 and "Importación terminada" in result.text
    student = client.get(f"/admin/students/{seeded['ana']}").text
    assert "Ciencias" in student
    history = client.get("/admin/imports", params={"kind": "progress"}).text
    assert "notas.csv" in history


def test_import_refusals_are_spanish_pages(client: TestClient) -> None:
    csrf = sign_in(client)
    unreadable = client.post("/admin/imports/preview", data={
        "csrf": csrf, "target": "students", "kind": ""},
        files={"file": ("roto.xlsx", b"PK\x03\x04 not really a workbook", XLSX)})
    assert unreadable.status_code == 422
    assert 'class="notice error"' in unreadable.text
    empty = client.post("/admin/imports/preview", data={
        "csrf": csrf, "target": "students", "kind": ""},
        files={"file": ("vacio.csv", b"", "text/csv")})
    assert empty.status_code == 400 and "vacío" in empty.text
    no_target = client.post("/admin/imports/preview", data={
        "csrf": csrf, "target": "teachers", "kind": ""},
        files={"file": ("a.csv", b"x", "text/csv")})
    assert no_target.status_code == 400
    nothing_new = client.post("/admin/imports/preview", data={
        "csrf": csrf, "target": "students", "kind": ""},
        files={"file": ("malo.csv", b"nombre,telefono\nAna,12\n", "text/csv")})
    assert nothing_new.status_code == 200
    assert "No hay nada nuevo que importar" in nothing_new.text
    assert "Confirmar e importar" not in nothing_new.text
    strict = client.post("/admin/imports/preview", data={
        "csrf": csrf, "target": "students", "kind": "", "strict": "1"},
        files={"file": ("alumnos.xlsx", student_workbook(), XLSX)})
    assert strict.status_code == 200 and "modo estricto" in strict.text
    assert "En modo estricto no se importa nada" in strict.text
    assert "Confirmar e importar" not in strict.text
