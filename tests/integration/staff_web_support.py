"""Shared set-up of the staff web tests: an app on a real database with a seeded school,
one account per role, and helpers to sign in through the real form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
from starlette.testclient import TestClient

from eki_adapters.system import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.permissions import Principal
from eki_domain.services.staff import Caller
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app

TOKEN = "staff-web-shared-admin-token-0123456789"
PASSWORD = "caballo correcto bateria grapa"
CLI = Caller(Principal.cli("rectoria"), ip="127.0.0.1", user_agent="eki-cli")
ACCOUNTS = {
    "admin": ("rectora@colegio.edu.co", "Rosa Rectora", "admin", ()),
    "coordinator": ("coordina@colegio.edu.co", "Carlos Coordina", "coordinator", ()),
    "teacher": ("profe10@colegio.edu.co", "Paula Profe", "teacher", ("grado 10",)),
    "viewer": ("mira@colegio.edu.co", "Victor Mira", "viewer", ()),
    "disabled": ("antes@colegio.edu.co", "Dora Antes", "teacher", ("grado 10",)),
}


def settings_for(database_url: str, **overrides: object) -> Settings:
    return attrs.evolve(Settings(database_url=database_url, admin_token=Secret(TOKEN)),
                        rate_limit_login=0, rate_limit_api=0, rate_limit_auth_failures=10_000,
                        **overrides)


async def make_eki(database_url: str, **overrides: object) -> Eki:
    return await bootstrap(settings_for(database_url, **overrides), clock=FixedClock(),
                           channel=ConsoleChannel(name="meta"))


@contextmanager
def client_for(eki: Eki) -> Iterator[TestClient]:
    with TestClient(create_app(eki.settings, eki=eki)) as client:
        yield client


async def add_accounts(eki: Eki) -> dict[str, str]:
    """One account per role (with a password) and a disabled one; returns role → e-mail."""
    for email, name, role, tags in ACCOUNTS.values():
        await eki.staff.add(CLI, email, name, role, tags=tags, password=PASSWORD)
    await eki.staff.set_active(CLI, ACCOUNTS["disabled"][0], False)
    return {key: value[0] for key, value in ACCOUNTS.items()}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def post_login(client: TestClient, **fields: str) -> object:
    """Post the sign-in form as a browser without a session would (any earlier session
    cookie is dropped: the page would otherwise send it on to /admin)."""
    for cookie in [c for c in client.cookies.jar if c.name == "eki_admin"]:
        client.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    form = client.get("/admin/login")
    assert form.status_code == 200, form.text
    return client.post("/admin/login", data={"csrf": csrf_of(form.text), "next": "/admin",
                                             **fields}, follow_redirects=False)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, code: str = "") -> str:
    """Sign in with the form; return the session's CSRF token (from /admin/cuenta)."""
    done = post_login(client, email=email, password=password, code=code)
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    account = client.get("/admin/cuenta")
    assert account.status_code == 200, account.text
    return csrf_of(account.text)
