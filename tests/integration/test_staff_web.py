"""Signing in as oneself over real HTTP on SQLite and PostgreSQL: the break-glass token,
lockout, session rotation and sessions ended by account changes, one-time setup links,
personal tokens, TOTP, the audit log page — and no password or token in logs or tables."""

from __future__ import annotations

import csv
import functools
import io
import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pyotp
import pytest
import sqlalchemy as sa

from eki_adapters.sql.engine import create_engine
from eki_adapters.sql.tables import metadata
from eki_adapters.system import FixedClock
from eki_domain.model.audit import AuditFilter
from eki_domain.model.pagination import PageRequest
from eki_domain.services.staff import Caller
from eki_entrypoints.bootstrap import Eki
from tests.integration.admin_seed import ANA, BRUNO, seed_school
from tests.integration.staff_web_support import (
    CLI,
    PASSWORD,
    TOKEN,
    add_accounts,
    client_for,
    csrf_of,
    make_eki,
    post_login,
    sign_in,
)

ADMIN = "rectora@colegio.edu.co"


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await make_eki(database_url)
    yield app
    await app.aclose()


async def audit_actions(eki: Eki) -> list[tuple[str, str, str | None]]:
    entries = await eki.audit.list(CLI, AuditFilter(), PageRequest(limit=500))
    return [(e.actor, e.action, e.target_id) for e in entries.items]


def test_the_shared_token_opens_the_admin_only_until_an_admin_exists(eki: Eki) -> None:
    with client_for(eki) as client:
        page = client.get("/admin/login")
        assert 'name="token"' in page.text and 'name="email"' in page.text
        done = post_login(client, token=TOKEN)
        assert done.status_code == 303  # type: ignore[attr-defined]
        assert client.get("/admin", follow_redirects=False).status_code == 200
        client.portal.call(functools.partial(  # type: ignore[union-attr]
            eki.staff.add, CLI, ADMIN, "Rosa Rectora", "admin", password=PASSWORD))
        # the break-glass session ends at the next request, and the form no longer offers it
        assert client.get("/admin", follow_redirects=False).status_code == 303
        page = client.get("/admin/login")
        assert 'name="token"' not in page.text
        refused = post_login(client, token=TOKEN)
        assert refused.status_code == 403  # type: ignore[attr-defined]
        assert "correo y su contraseña" in refused.text  # type: ignore[attr-defined]
        # /api keeps the shared token as `system`
        api = client.get(f"/api/students/{ANA}", headers={"Authorization": f"Bearer {TOKEN}"})
        assert api.status_code == 404  # the student does not exist; the token was accepted
        sign_in(client, ADMIN)
        assert client.get("/admin", follow_redirects=False).status_code == 200


def test_lockout_never_says_whether_the_email_exists(eki: Eki) -> None:
    with client_for(eki) as client:
        client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        pages = {}
        for email in (ADMIN, "nadie@colegio.edu.co"):
            codes = [post_login(client, email=email, password="equivocada equivocada")
                     .status_code for _ in range(5)]  # type: ignore[attr-defined]
            assert codes == [403] * 5
            locked = post_login(client, email=email, password=PASSWORD)
            assert locked.status_code == 429  # type: ignore[attr-defined]
            assert "Demasiados intentos fallidos" in locked.text  # type: ignore[attr-defined]
            assert locked.headers["retry-after"]  # type: ignore[attr-defined]
            pages[email] = re.sub(r'value="[^"]*"', "", locked.text)  # type: ignore[attr-defined]
        assert pages[ADMIN] == pages["nadie@colegio.edu.co"]
        assert "nadie@colegio.edu.co" not in pages["nadie@colegio.edu.co"]
        # another account from the same address is not locked (5 < 20 per address)
        sign_in(client, "coordina@colegio.edu.co")
        clock = eki.clock
        assert isinstance(clock, FixedClock)
        clock.advance(timedelta(minutes=16))
        sign_in(client, ADMIN)


def test_a_new_session_at_every_sign_in_and_account_changes_end_them(eki: Eki) -> None:
    with client_for(eki) as first, client_for(eki) as second:
        first.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        sign_in(first, "profe10@colegio.edu.co")
        cookie_a = first.cookies.get("eki_admin")
        sign_in(second, "profe10@colegio.edu.co")
        sign_in(first, "profe10@colegio.edu.co")
        assert first.cookies.get("eki_admin") not in (None, cookie_a)
        assert first.get("/admin", follow_redirects=False).status_code == 200
        # a role change ends both sessions at their next request
        first.portal.call(functools.partial(  # type: ignore[union-attr]
            eki.staff.update, CLI, "profe10@colegio.edu.co", role="coordinator"))
        for client in (first, second):
            assert client.get("/admin", follow_redirects=False).status_code == 303
        sign_in(first, "profe10@colegio.edu.co")
        assert first.get("/admin/imports", follow_redirects=False).status_code == 200
        first.portal.call(eki.staff.set_active, CLI,  # type: ignore[union-attr]
                          "profe10@colegio.edu.co", False)
        assert first.get("/admin", follow_redirects=False).status_code == 303
        refused = post_login(first, email="profe10@colegio.edu.co", password=PASSWORD)
        assert refused.status_code == 403  # type: ignore[attr-defined]


def test_sign_out_ends_the_session_server_side_and_is_audited(eki: Eki) -> None:
    with client_for(eki) as client:
        client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        csrf = sign_in(client, ADMIN)
        cookie = client.cookies.get("eki_admin")
        out = client.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False)
        assert out.status_code == 303
        client.cookies.set("eki_admin", cookie or "", path="/admin")
        assert client.get("/admin", follow_redirects=False).status_code == 303
        actions = client.portal.call(audit_actions, eki)  # type: ignore[union-attr]
        assert (ADMIN, "staff.sign_out", ADMIN) in actions
        assert (ADMIN, "staff.sign_in", ADMIN) in actions


def test_a_setup_link_works_once(eki: Eki) -> None:
    with client_for(eki) as client:
        _member, token = client.portal.call(  # type: ignore[union-attr]
            eki.staff.add, CLI, ADMIN, "Rosa Rectora", "admin")
        url = f"/admin/setup/{token}"
        page = client.get(url)
        assert page.status_code == 200 and ADMIN in page.text
        weak = client.post(url, data={"csrf": csrf_of(page.text), "password": "colegio123456",
                                      "again": "colegio123456"}, follow_redirects=False)
        assert weak.status_code == 400 and "demasiado común" in weak.text
        page = client.get(url)
        mismatch = client.post(url, data={"csrf": csrf_of(page.text), "password": PASSWORD,
                                          "again": PASSWORD + "x"})
        assert mismatch.status_code == 400 and "no coinciden" in mismatch.text
        page = client.get(url)
        done = client.post(url, data={"csrf": csrf_of(page.text), "password": PASSWORD,
                                      "again": PASSWORD}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/admin/login?setup=1"
        assert "Contraseña guardada" in client.get("/admin/login?setup=1").text
        again = client.get(url)
        assert again.status_code == 404 and "ya se usó" in again.text
        form = client.get("/admin/login")
        replay = client.post(url, data={"csrf": csrf_of(form.text), "password": PASSWORD,
                                        "again": PASSWORD})
        assert replay.status_code == 404
        sign_in(client, ADMIN)


def test_personal_tokens_carry_their_owner_and_stop_when_revoked(eki: Eki) -> None:
    with client_for(eki) as client:
        ids = client.portal.call(seed_school, eki)  # type: ignore[union-attr]
        client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        new = client.portal.call(eki.staff.create_token, CLI,  # type: ignore[union-attr]
                                 "profe10@colegio.edu.co", "notas")
        bearer = {"Authorization": f"Bearer {new.secret}"}
        assert client.get(f"/api/students/{ANA}", headers=bearer).status_code == 200
        assert client.get(f"/api/students/{BRUNO}", headers=bearer).status_code == 404
        assert client.get("/api/imports", headers=bearer).status_code == 403
        actions = client.portal.call(audit_actions, eki)  # type: ignore[union-attr]
        assert ("profe10@colegio.edu.co", "student.viewed", str(ids["ana"])) in actions
        assert new.token.id is not None
        client.portal.call(eki.staff.revoke_token, CLI, new.token.id)  # type: ignore[union-attr]
        assert client.get(f"/api/students/{ANA}", headers=bearer).status_code == 401
        wrong = {"Authorization": "Bearer eki_pat_" + "x" * 43}
        assert client.get(f"/api/students/{ANA}", headers=wrong).status_code == 401


def test_totp_on_then_needed_to_sign_in(eki: Eki) -> None:
    with client_for(eki) as client:
        client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        csrf = sign_in(client, ADMIN)
        start = client.post("/admin/cuenta", data={"csrf": csrf, "action": "totp_start"})
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', start.text)
        assert secret and "otpauth://totp/" in start.text
        code = pyotp.TOTP(secret.group(1)).at(eki.clock.now())
        wrong = client.post("/admin/cuenta", data={"csrf": csrf, "action": "totp_on",
                                                   "secret": secret.group(1), "code": "000000"})
        assert wrong.status_code == 400 and "no coincide" in wrong.text
        done = client.post("/admin/cuenta", data={"csrf": csrf, "action": "totp_on",
                                                  "secret": secret.group(1), "code": code},
                           follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/admin/login?totp=1"
        assert client.get("/admin", follow_redirects=False).status_code == 303  # ended
        assert post_login(client, email=ADMIN, password=PASSWORD
                          ).status_code == 403  # type: ignore[attr-defined]
        sign_in(client, ADMIN, code=code)


async def test_required_second_factor_sends_to_the_account_page(database_url: str) -> None:
    eki = await make_eki(database_url, require_2fa_for=("admin",))
    try:
        with client_for(eki) as client:
            client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
            done = post_login(client, email=ADMIN, password=PASSWORD)
            assert done.headers["location"] == "/admin/cuenta?required=1"  # type: ignore[attr-defined]
            moved = client.get("/admin/students", follow_redirects=False)
            assert moved.headers["location"] == "/admin/cuenta?required=1"
            assert "exige la verificación" in client.get("/admin/cuenta?required=1").text
            sign_in(client, "coordina@colegio.edu.co")  # not required for a coordinator
            assert client.get("/admin/students", follow_redirects=False).status_code == 200
    finally:
        await eki.aclose()


def test_teachers_see_their_students_and_viewers_only_figures(eki: Eki) -> None:
    with client_for(eki) as client:
        ids = client.portal.call(seed_school, eki)  # type: ignore[union-attr]
        client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        sign_in(client, "profe10@colegio.edu.co")
        listing = client.get("/admin/students").text
        assert "Ana María Pérez" in listing and "Carla Gómez" in listing
        assert "Bruno Díaz" not in listing
        assert client.get(f"/admin/students/{ids['bruno']}").status_code == 404
        assert client.get(f"/admin/students/{ids['ana']}").status_code == 200
        handoffs = client.get("/admin/handoffs")
        assert handoffs.status_code == 200 and "Carla Gómez" in handoffs.text
        assert client.get("/admin/imports", follow_redirects=False).status_code == 403
        sign_in(client, "mira@colegio.edu.co")
        board = client.get("/admin")
        assert board.status_code == 200
        for name in ("Ana", "Bruno", "Carla", "matemáticas"):
            assert name not in board.text
        assert 'href="/admin/students"' not in board.text
        assert client.get("/admin/students", follow_redirects=False).status_code == 403
        actions = client.portal.call(audit_actions, eki)  # type: ignore[union-attr]
        assert ("profe10@colegio.edu.co", "student.viewed", str(ids["ana"])) in actions


def test_the_audit_page_filters_and_downloads_inert_csv(eki: Eki) -> None:
    with client_for(eki) as client:
        client.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        hostile = Caller(CLI.principal, "127.0.0.1", "=HYPERLINK(\"http://x\")")
        client.portal.call(functools.partial(  # type: ignore[union-attr]
            eki.audit.record, hostile, "export.downloaded", target_type="import",
            target_id="=1+1"))
        sign_in(client, "coordina@colegio.edu.co")
        assert client.get("/admin/auditoria").status_code == 403
        sign_in(client, ADMIN)
        page = client.get("/admin/auditoria?action=staff.created")
        assert page.status_code == 200 and "staff.created" in page.text
        assert "export.downloaded" not in page.text.split("<tbody>")[1]
        download = client.get("/admin/auditoria?format=csv&actor=cli:rectoria")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["at", "actor", "action"]
        for row in rows[1:]:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), cell
        assert any(cell == "'=1+1" for row in rows for cell in row)
        assert all(row[1] == "cli:rectoria" for row in rows[1:])


async def table_text(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            parts = []
            for table in metadata.sorted_tables:
                for row in await conn.execute(sa.select(table)):
                    parts.append(repr(tuple(row)))
            return "\n".join(parts)
    finally:
        await engine.dispose()


def test_no_password_or_full_token_in_the_logs_or_the_database(
        eki: Eki, database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with client_for(eki) as client:
        _member, setup = client.portal.call(  # type: ignore[union-attr]
            eki.staff.add, CLI, ADMIN, "Rosa Rectora", "admin")
        page = client.get(f"/admin/setup/{setup}")
        client.post(f"/admin/setup/{setup}", data={"csrf": csrf_of(page.text),
                                                   "password": PASSWORD, "again": PASSWORD})
        post_login(client, email=ADMIN, password="una clave equivocada larga")
        csrf = sign_in(client, ADMIN)
        new = client.portal.call(eki.staff.create_token, CLI, ADMIN,  # type: ignore[union-attr]
                                 "scripts")
        client.get("/api/handoffs", headers={"Authorization": f"Bearer {new.secret}"})
        client.get("/api/handoffs", headers={"Authorization": f"Bearer {TOKEN}"})
        client.post("/admin/logout", data={"csrf": csrf})
        stored = client.portal.call(table_text, database_url)  # type: ignore[union-attr]
    # everything EKI's process logged (the test client's own httpx log of the URLs it
    # requested is the browser's side, not the server's)
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records
                       if not r.name.startswith(("httpx", "httpcore")))
    assert "/admin/setup/***" in logged
    for secret in (PASSWORD, "una clave equivocada larga", new.secret, TOKEN, setup):
        assert secret not in logged
        assert secret not in stored
