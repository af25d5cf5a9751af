"""Hostile requests over real HTTP (Starlette's TestClient), SQLite and PostgreSQL: token
guessing, forged forwarding headers, out-of-range numbers, caching of personal data
(issue 21)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs
import pytest
from starlette.testclient import TestClient

from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app

TOKEN = "hostile-http-admin-token-0123456789abc"
METRICS = "hostile-http-metrics-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROXY = ("10.0.0.2", 40000)


@pytest.fixture
def app(database_url: str) -> Callable[..., object]:
    @contextmanager
    def make(*, client: tuple[str, int] | None = None, base_url: str = "http://testserver",
             **overrides: object) -> Iterator[TestClient]:
        settings = attrs.evolve(Settings(database_url=database_url, admin_token=Secret(TOKEN),
                                         metrics_token=Secret(METRICS)), **overrides)
        kwargs = {"client": client} if client is not None else {}
        with TestClient(create_app(settings), base_url=base_url, **kwargs) as test_client:
            yield test_client

    return make


@pytest.mark.parametrize("path", ["/api/imports", "/metrics"])
def test_200_wrong_tokens_in_a_row_end_in_429(app, path: str) -> None:  # type: ignore[no-untyped-def]
    with app(rate_limit_api=0) as client:  # the per-IP /api limit off: this limit alone
        codes = [client.get(path, headers={"Authorization": f"Bearer guess-{n}"}).status_code
                 for n in range(200)]
        assert codes[:20] == [401] * 20
        assert set(codes[20:]) == {429}
        right = TOKEN if path.startswith("/api") else METRICS
        blocked = client.get(path, headers={"Authorization": f"Bearer {right}"})
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    with app(rate_limit_api=0) as client:  # a new process (new window): the token works
        right = TOKEN if path.startswith("/api") else METRICS
        assert client.get(path, headers={"Authorization": f"Bearer {right}"}
                          ).status_code == 200


def test_forged_forwarded_for_does_not_escape_the_sign_in_limit(app) -> None:  # type: ignore[no-untyped-def]
    """With EKI_TRUSTED_PROXIES=*, the client address is what the proxy appended (the
    rightmost hop), never the hops the client wrote itself."""
    with app(trusted_proxies=("*",), client=PROXY) as client:
        codes = [client.post("/admin/login", data={"token": "x"},
                             headers={"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.7"}
                             ).status_code for n in range(25)]
    assert 429 not in codes[:10] and set(codes[10:]) == {429}
    with app(trusted_proxies=("10.0.0.0/8",), client=PROXY) as client:
        codes = [client.post("/admin/login", data={"token": "x"},
                             headers={"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.7, "
                                                         "10.0.0.9"}).status_code
                 for n in range(25)]
    assert 429 not in codes[:10] and set(codes[10:]) == {429}


def test_a_cookie_replayed_after_signing_out_goes_to_the_sign_in_page(app) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.test_admin import sign_in

    with app() as client:
        csrf = sign_in(client, TOKEN)
        cookie = client.cookies.get("eki_admin")
        assert cookie
        out = client.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False)
        assert out.status_code == 303
        client.cookies.set("eki_admin", cookie, path="/admin")  # the copy an attacker kept
        replayed = client.get("/admin", follow_redirects=False)
        assert replayed.status_code == 303
        assert replayed.headers["location"].startswith("/admin/login")
        assert client.get("/admin/login", follow_redirects=False).status_code == 200
        sign_in(client, TOKEN)  # a new session works


def test_the_signing_key_is_generated_once_and_not_derived_from_the_token(app) -> None:  # type: ignore[no-untyped-def]
    """Without EKI_SECRET_KEY the cookie key is random and kept in the database: a second
    app on the same database accepts the cookie, and the key has nothing of the token."""
    from tests.integration.test_admin import sign_in

    with app() as first:
        sign_in(first, TOKEN)
        cookie = first.cookies.get("eki_admin")
        key = first.app.state.secret_key  # type: ignore[attr-defined]
    assert key and TOKEN.encode() not in key and len(key) >= 32
    with app() as second:
        second.cookies.set("eki_admin", cookie or "", path="/admin")
        assert second.get("/admin", follow_redirects=False).status_code == 200
        assert second.app.state.secret_key == key  # type: ignore[attr-defined]


def test_cookies_are_secure_when_https_is_forced(app) -> None:  # type: ignore[no-untyped-def]
    with app(force_https=True, allowed_hosts=("testserver",), trusted_proxies=("*",),
             client=PROXY) as client:
        form = client.get("/admin/login", headers={"X-Forwarded-Proto": "http"},
                          follow_redirects=False)
        assert form.status_code == 308
        assert form.headers["location"].startswith("https://testserver/")
        page = client.get("/admin/login", headers={"X-Forwarded-Proto": "https"})
        assert "secure" in page.headers["set-cookie"].lower()


def test_personal_data_under_api_is_never_cached(app) -> None:  # type: ignore[no-untyped-def]
    with app() as client:
        for path in ("/api/imports", "/api/students/3001234567", "/api/handoffs"):
            assert client.get(path, headers=AUTH).headers["cache-control"] == "no-store"
        assert "cache-control" not in client.get("/healthz").headers


def test_phones_with_separators_are_masked_in_the_access_log() -> None:
    from eki_entrypoints.web.access_log import mask_path

    assert mask_path("/api/students/300 123 4567") == "/api/students/***4567"
    assert mask_path("/api/students/+57 300-123-4567/progress") == \
        "/api/students/***4567/progress"
    assert mask_path("/api/students/300%20123%204567") == "/api/students/***4567"
    assert mask_path("/api/students/300.123.4567") == "/api/students/***4567"
    assert mask_path("/api/imports/12/errors") == "/api/imports/12/errors"


def test_force_https_needs_allowed_hosts() -> None:
    from eki_entrypoints.settings import SettingsError

    with pytest.raises(SettingsError, match="EKI_ALLOWED_HOSTS"):
        Settings.from_env({"EKI_FORCE_HTTPS": "true"})
    with pytest.raises(SettingsError, match="EKI_ADMIN_TOKEN must be at least 32"):
        Settings.from_env({"EKI_ADMIN_TOKEN": "short"})
    with pytest.raises(SettingsError, match="EKI_METRICS_TOKEN must be at least 32"):
        Settings.from_env({"EKI_METRICS_TOKEN": "m" * 31})
    assert Settings.from_env({"EKI_FORCE_HTTPS": "true",
                              "EKI_ALLOWED_HOSTS": "eki.colegio.edu.co"}).force_https


def test_the_https_redirect_goes_to_an_allowed_host_only(app) -> None:  # type: ignore[no-untyped-def]
    with app(force_https=True, allowed_hosts=("eki.colegio.edu.co",)) as client:
        evil = client.get("/admin", headers={"Host": "evil.example"}, follow_redirects=False)
        assert evil.status_code == 400 and "location" not in evil.headers
        good = client.get("/admin", headers={"Host": "eki.colegio.edu.co"},
                          follow_redirects=False)
        assert good.status_code == 308
        assert good.headers["location"] == "https://eki.colegio.edu.co/admin"


def test_out_of_range_integers_are_400_or_404_never_500(app) -> None:  # type: ignore[no-untyped-def]
    from tests.integration.test_admin import sign_in

    huge, huger = "9223372036854775808", "99999999999999999999"
    with app() as client:
        assert client.get(f"/api/imports/{huger}/errors", headers=AUTH).status_code == 404
        assert client.get(f"/api/imports/{huge}/errors", headers=AUTH).status_code == 404
        assert client.get(f"/api/students/3001234567/messages?offset={huge}",
                          headers=AUTH).status_code in (400, 404)
        assert client.get(f"/api/imports?offset={huge}", headers=AUTH).status_code < 500
        csrf = sign_in(client, TOKEN)
        for path in (f"/admin/students/{huger}", f"/admin/webhooks/{huge}",
                     f"/admin/imports/{huger}/errors", f"/admin/students?page={huger}"):
            assert client.get(path).status_code in (200, 404), path
        released = client.post(f"/admin/handoffs/{huger}/release", data={"csrf": csrf})
        assert released.status_code == 404


def test_deeply_nested_json_and_huge_csv_cells_are_refused(app) -> None:  # type: ignore[no-untyped-def]
    nested = b"[" * 200_000
    with app() as client:
        for path in ("/api/students/import", "/api/estudiantes/importar/"):
            answer = client.post(path, content=nested,
                                 headers={**AUTH, "Content-Type": "application/json"})
            assert answer.status_code in (400, 422), answer.text
        as_file = client.post("/api/students/import", headers=AUTH,
                              files={"file": ("lista.json", nested, "application/json")})
        assert as_file.status_code == 422, as_file.text
        big_cell = b"nombre;telefono\n" + b"A" * 200_000 + b";3001234567\n"
        csv_answer = client.post("/api/students/import", headers=AUTH,
                                 files={"file": ("lista.csv", big_cell, "text/csv")})
        assert csv_answer.status_code == 422, csv_answer.text
        assert "KB" in csv_answer.json()["error"]["message"]


def test_signed_hostile_deliveries(app) -> None:  # type: ignore[no-untyped-def]
    """Deeply nested JSON → 400; 20,000 messages in one delivery → 200 quickly, the first
    100 stored and an event noting the rest."""
    import time

    from eki_testing import meta

    secret = "hostile-app-secret"
    with app(whatsapp_app_secret=Secret(secret)) as client:
        nested = b"[" * 200_000
        answer = client.post("/webhooks/whatsapp", content=nested,
                             headers=meta.signed_headers(nested, secret))
        assert answer.status_code == 400
        one = meta.change(meta.text_message("573001234567", "hola", wamid="wamid.FLOOD"))
        template = one["value"]["messages"][0]
        one["value"]["messages"] = [{**template, "id": f"wamid.F{n}", "text": {"body": "h"}}
                                    for n in range(20_000)]
        many = meta.encode({"object": "whatsapp_business_account",
                            "entry": [{"id": meta.WABA_ID, "changes": [one]}]})
        assert len(many) < 3 * 1024 * 1024
        started = time.monotonic()
        stored = client.post("/webhooks/whatsapp", content=many,
                             headers=meta.signed_headers(many, secret))
        assert stored.status_code == 200, stored.text
        assert time.monotonic() - started < 10
        eki = client.app.state.eki  # type: ignore[attr-defined]

        async def notes() -> list[str]:
            async with eki.uow() as uow:
                events = await uow.operations.webhook_events()
            return [e.note or "" for e in events.items]

        found = client.portal.call(notes)  # type: ignore[union-attr]
        assert any("19900 mensajes" in note for note in found), found
