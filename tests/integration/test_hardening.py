"""Production hardening over real HTTP (Starlette's TestClient): security headers, the
HTTPS redirect with and without a trusted proxy, trusted hosts and per-IP rate limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs
import pytest
from starlette.testclient import TestClient

from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app
from eki_entrypoints.web.ratelimit import RateLimiter, RateLimitRule
from eki_entrypoints.web.security import CONTENT_SECURITY_POLICY

TOKEN = "admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROXY = ("10.0.0.2", 40000)



@pytest.fixture
def app(sqlite_url: str) -> Callable[..., object]:
    @contextmanager
    def make(*, base_url: str = "http://testserver", client: tuple[str, int] | None = None,
             **overrides: object) -> Iterator[TestClient]:
        settings = attrs.evolve(Settings(database_url=sqlite_url, admin_token=Secret(TOKEN),
                                         metrics_token=Secret("m")), **overrides)
        kwargs = {"client": client} if client is not None else {}
        with TestClient(create_app(settings), base_url=base_url, **kwargs) as test_client:
            yield test_client

    return make


def assert_security_headers(headers: object) -> None:
    get = headers.get  # type: ignore[attr-defined]
    csp = get("content-security-policy")
    assert csp == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert get("x-content-type-options") == "nosniff"
    assert get("x-frame-options") == "DENY"
    assert get("referrer-policy") == "no-referrer"


def test_every_response_carries_the_security_headers(app) -> None:  # type: ignore[no-untyped-def]
    with app() as client:
        responses = [
            client.get("/healthz"),
            client.get("/readyz"),
            client.get("/api/students/3001234567"),  # 401
            client.get("/api/students/3001234567", headers=AUTH),  # 404
            client.get("/nothing-here"),  # 404 from the router
            client.post("/webhooks/whatsapp", content=b"{}"),  # 503: no app secret
            client.get("/metrics", headers={"Authorization": "Bearer m"}),
        ]
    assert [r.status_code for r in responses] == [200, 503, 401, 404, 404, 503, 200]
    for response in responses:
        assert_security_headers(response.headers)
        assert "strict-transport-security" not in response.headers  # plain HTTP, not forced


def test_force_https_redirects_plain_http_but_not_the_probes(app) -> None:  # type: ignore[no-untyped-def]
    with app(force_https=True) as client:
        response = client.get("/api/imports?kind=students", headers=AUTH,
                              follow_redirects=False)
        assert response.status_code == 308
        assert response.headers["location"] == "https://testserver/api/imports?kind=students"
        assert_security_headers(response.headers)
        assert client.get("/healthz", follow_redirects=False).status_code == 200
        assert client.get("/readyz", follow_redirects=False).status_code in (200, 503)


def test_https_requests_get_hsts(app) -> None:  # type: ignore[no-untyped-def]
    with app(force_https=True, base_url="https://testserver") as client:
        response = client.get("/api/imports", headers=AUTH, follow_redirects=False)
    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    with app(force_https=True, hsts_max_age=0, base_url="https://testserver") as client:
        assert "strict-transport-security" not in client.get("/healthz").headers


def test_forwarded_proto_is_ignored_from_an_untrusted_client(app) -> None:  # type: ignore[no-untyped-def]
    forwarded = {"X-Forwarded-Proto": "https", **AUTH}
    with app(force_https=True, client=PROXY) as client:  # no EKI_TRUSTED_PROXIES
        response = client.get("/api/imports", headers=forwarded, follow_redirects=False)
    assert response.status_code == 308
    with app(force_https=True, client=("192.168.1.9", 4000),
             trusted_proxies=("10.0.0.0/8",)) as client:  # a client outside the network
        response = client.get("/api/imports", headers=forwarded, follow_redirects=False)
    assert response.status_code == 308


def test_forwarded_proto_is_honoured_from_a_trusted_proxy(app) -> None:  # type: ignore[no-untyped-def]
    with app(force_https=True, client=PROXY, trusted_proxies=("10.0.0.0/8",)) as client:
        secure = client.get("/api/imports", follow_redirects=False,
                            headers={"X-Forwarded-Proto": "https", **AUTH})
        plain = client.get("/api/imports", follow_redirects=False,
                           headers={"X-Forwarded-Proto": "http", **AUTH})
    assert secure.status_code == 200
    assert secure.headers["strict-transport-security"].startswith("max-age=31536000")
    assert plain.status_code == 308


@pytest.mark.parametrize(("host", "status"), [
    ("eki.colegio.edu.co", 200), ("sede2.colegio.edu.co", 200), ("evil.example", 400),
    ("colegio.edu.co.evil.example", 400),
])
def test_allowed_hosts(app, host: str, status: int) -> None:  # type: ignore[no-untyped-def]
    with app(allowed_hosts=("eki.colegio.edu.co", "*.colegio.edu.co")) as client:
        response = client.get("/healthz", headers={"Host": host})
    assert response.status_code == status
    assert_security_headers(response.headers)


def test_api_rate_limit_per_client_ip(app) -> None:  # type: ignore[no-untyped-def]
    with app(rate_limit_api=3, client=PROXY, trusted_proxies=("10.0.0.0/8",)) as client:
        first = {"X-Forwarded-For": "203.0.113.7"}
        codes = [client.get("/api/imports", headers={**AUTH, **first}).status_code
                 for _ in range(3)]
        limited = client.get("/api/imports", headers={**AUTH, **first})
        unauthenticated = client.get("/api/imports", headers=first)  # counted before auth
        other = client.get("/api/imports", headers={**AUTH, "X-Forwarded-For": "203.0.113.8"})
        # The leftmost X-Forwarded-For hop is written by the client: it cannot escape.
        spoofed = client.get("/api/imports", headers={
            **AUTH, "X-Forwarded-For": "1.2.3.4, 203.0.113.7"})
        not_api = [client.get("/healthz", headers=first).status_code for _ in range(5)]
        metrics = client.get("/metrics", headers={"Authorization": "Bearer m"}).text
    assert codes == [200, 200, 200]
    assert limited.status_code == 429 and unauthenticated.status_code == 429
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 60
    error = limited.json()["error"]
    assert error["code"] == "RATE_LIMITED"
    assert error["message"].startswith("Demasiadas solicitudes")
    assert f"{retry_after} segundos" in error["message"]
    assert_security_headers(limited.headers)
    assert other.status_code == 200 and spoofed.status_code == 429
    assert not_api == [200] * 5
    assert 'eki_http_rate_limited_requests_total{rule="api"} 3.0' in metrics


def test_sign_in_rate_limit(app) -> None:  # type: ignore[no-untyped-def]
    with app(rate_limit_login=2) as client:
        posts = [client.post("/admin/login", data={"token": "x"}).status_code
                 for _ in range(3)]
        gets = [client.get("/admin/login").status_code for _ in range(3)]
    assert posts[2] == 429 and 429 not in posts[:2]
    assert 429 not in gets  # only sign-in attempts count


def test_zero_turns_a_limit_off(app) -> None:  # type: ignore[no-untyped-def]
    with app(rate_limit_api=0) as client:
        assert {client.get("/api/imports", headers=AUTH).status_code
                for _ in range(30)} == {200}


def test_rate_limiter_windows() -> None:
    now = [100.0]
    limiter = RateLimiter(2, window=60, clock=lambda: now[0])
    assert limiter.hit("a") is None and limiter.hit("a") is None
    assert limiter.hit("a") == pytest.approx(60)
    assert limiter.hit("b") is None
    now[0] += 45
    assert limiter.hit("a") == pytest.approx(15)
    now[0] += 15
    assert limiter.hit("a") is None  # a new window
    rule = RateLimitRule("api", limiter, prefix="/api")
    assert rule.matches("GET", "/api") and rule.matches("POST", "/api/students/import")
    assert not rule.matches("GET", "/apix") and not rule.matches("GET", "/admin")
    login = RateLimitRule("login", limiter, path="/admin/login", methods=frozenset({"POST"}))
    assert login.matches("POST", "/admin/login/") and not login.matches("GET", "/admin/login")
