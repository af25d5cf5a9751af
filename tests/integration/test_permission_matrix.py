"""The permission matrix: every ``/admin`` and ``/api`` route of the real app, for every
kind of caller, against the role table of issue 14 (written out here, independently of the
domain's). A route without a declared rule fails the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from eki_domain.model.guardian import Guardian, GuardianLink
from eki_domain.model.permissions import Action
from eki_domain.model.phone import PhoneNumber
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.web import create_app
from eki_entrypoints.web.access import PUBLIC, SIGNED_IN, rule_of, undeclared
from tests.integration.admin_seed import ANA, BRUNO, seed_school
from tests.integration.staff_web_support import (
    CLI,
    TOKEN,
    add_accounts,
    client_for,
    make_eki,
    sign_in,
)

#: The table of docs/admin.md, as sets of actions.
EVERYTHING = frozenset(Action)
ROLE_TABLE: dict[str, frozenset[Action]] = {
    "admin": EVERYTHING,
    "coordinator": EVERYTHING - {Action.MANAGE_STAFF, Action.VIEW_AUDIT,
                                 Action.MANAGE_SETTINGS},
    "teacher": frozenset({Action.VIEW_DASHBOARD, Action.LIST_STUDENTS, Action.VIEW_STUDENT,
                          Action.VIEW_CONVERSATION, Action.MANAGE_HANDOFF,
                          Action.VIEW_HANDOFFS, Action.WATCH_EVENTS}),
    "viewer": frozenset({Action.VIEW_DASHBOARD}),
}
SCOPED = frozenset({Action.VIEW_STUDENT, Action.VIEW_CONVERSATION, Action.MANAGE_HANDOFF})


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await make_eki(database_url)
    yield app
    await app.aclose()


def routes_under(app: Any) -> list[tuple[str, str, Any]]:
    """(method, path, route) of every /admin and /api route, logout last."""
    found = []
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith(("/admin", "/api")):
            continue
        if isinstance(route, Mount):
            found.append(("GET", path + "/admin.css", route))
            continue
        assert isinstance(route, Route)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            found.append((method, path, route))
    return sorted(found, key=lambda item: item[1] == "/admin/logout")


#: A guardian of Ana (inside the teacher's tags) and one of Bruno (outside).
GUARDIAN_OF = {ANA: "+573105550001", BRUNO: "+573105550002"}


async def seed_guardians(eki: Eki, ids: dict[str, int]) -> None:
    """Each guardian linked to its student (again, after a DELETE of the matrix)."""
    async with eki.uow() as uow:
        for phone, student_id in ((ANA, ids["ana"]), (BRUNO, ids["bruno"])):
            number = PhoneNumber.parse(GUARDIAN_OF[phone])
            guardian = await uow.guardians.find_by_phones(number.match_candidates()) \
                or await uow.guardians.add(Guardian.register(
                    "Acudiente " + phone[-4:], number, created_at=eki.clock.now()))
            assert guardian.id is not None
            await uow.guardians.link(GuardianLink(guardian.id, student_id))
        await uow.commit()


def fill(path: str, student_id: int, phone: str) -> str:
    return (path.replace("{student_id:int}", str(student_id)).replace("{phone}", phone)
            .replace("{guardian}", GUARDIAN_OF[phone].replace("+", "%2B"))
            .replace("{job_id:int}", "1").replace("{job_id}", "1")
            .replace("{code_id:int}", "1")
            .replace("{event_id:int}", "1").replace("{token}", "no-such-link")
            .replace("{request_id:int}", "1")
            .replace("{broadcast_id:int}", "1").replace("{action}", "pause")
            .replace("{rule}", "falla"))


def test_every_route_declares_a_rule(eki: Eki) -> None:
    app = create_app(eki.settings, eki=eki)
    assert undeclared(app.routes) == []
    # and the check itself catches a new route without one
    async def new_page(_request: Request) -> Response:
        return Response("x")
    assert undeclared([*app.routes, Route("/admin/nueva", new_page)]) == ["/admin/nueva"]
    assert undeclared([Mount("/api/otra", app=new_page)]) == ["/api/otra"]


def get(client: TestClient, url: str, **kwargs: Any) -> Any:
    """GET ``url``; an event stream (``/api/events``, ``/admin/events``) is closed once its
    status and headers came (it never ends by itself)."""
    with client.stream("GET", url, **kwargs) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
    return response


def admin_outcome(response: Any) -> str:
    location = response.headers.get("location", "")
    if response.status_code == 303 and location.startswith("/admin/login?next="):
        return "sign-in"
    if response.status_code == 403:
        return "forbidden"
    if response.status_code == 404:
        return "hidden"
    return "allowed"


def api_outcome(response: Any) -> str:
    return {401: "sign-in", 403: "forbidden", 404: "hidden"}.get(response.status_code,
                                                                 "allowed")


def expected(who: str, rule: Any, inside: bool) -> set[str]:
    """The outcomes the role table allows for ``who`` on a route with ``rule``."""
    if rule == PUBLIC:
        # never gated by a session: the sign-in page, a (missing) setup link, CSS; their
        # forms refuse a POST without their own CSRF token (403)
        return {"allowed", "hidden", "forbidden"}
    if who in ("nobody", "disabled", "shared-token-on-admin"):
        return {"sign-in"}
    if rule == SIGNED_IN:
        return {"allowed"}
    role = "admin" if who == "shared-token" else who
    if rule not in ROLE_TABLE[role]:
        return {"forbidden"}
    if role == "teacher" and rule in SCOPED and not inside:
        return {"hidden"}
    # an allowed route may still answer 404 for data that does not exist (job 1, event 1)
    return {"allowed", "hidden"} if rule not in SCOPED else {"allowed"}


def test_the_matrix(eki: Eki) -> None:
    with client_for(eki) as probe:
        ids = probe.portal.call(seed_school, eki)  # type: ignore[union-attr]
        probe.portal.call(seed_guardians, eki, ids)  # type: ignore[union-attr]
        emails = probe.portal.call(add_accounts, eki)  # type: ignore[union-attr]
        tokens = {role: probe.portal.call(  # type: ignore[union-attr]
            eki.staff.create_token, CLI, emails[role], "matriz").secret
            for role in ("admin", "coordinator", "teacher", "viewer")}
        disabled_token = probe.portal.call(  # type: ignore[union-attr]
            eki.staff.create_token, CLI, emails["disabled"], "vieja").secret
    app = create_app(eki.settings, eki=eki)
    routes = routes_under(app)
    assert any(p.startswith("/api") for _m, p, _r in routes) and len(routes) > 20
    failures: list[str] = []
    # teacher has grado 10: Ana (grado 10) inside, Bruno (grado 11) outside
    cases = [(True, ids["ana"], ANA), (False, ids["bruno"], BRUNO)]
    for who in ("nobody", "admin", "coordinator", "teacher", "viewer", "disabled",
                "shared-token-on-admin"):
        for inside, student_id, phone in cases:
            with TestClient(app) as client:
                csrf = ""
                if who in ROLE_TABLE:
                    csrf = sign_in(client, emails[who])
                elif who == "disabled":
                    refused = client.post("/admin/login", data={
                        "email": emails["disabled"], "password": "caballo correcto bateria "
                        "grapa"}, follow_redirects=False)
                    assert refused.status_code == 403
                for method, path, route in routes:
                    if not path.startswith("/admin"):
                        continue
                    url = fill(path, student_id, phone)
                    response = (get(client, url, follow_redirects=False) if method == "GET"
                                else client.post(url, data={"csrf": csrf},
                                                 follow_redirects=False))
                    got = admin_outcome(response)
                    want = expected(who, rule_of(route), inside)
                    if got not in want:
                        failures.append(f"{who} {method} {url}: {response.status_code} "
                                        f"({got}, expected {sorted(want)})")
    api_callers: dict[str, str | None] = {
        "nobody": None, "shared-token": TOKEN, "disabled": disabled_token,
        **{role: tokens[role] for role in tokens}}
    with TestClient(app) as client:
        for who, bearer in api_callers.items():
            headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
            for inside, _student_id, phone in cases:
                for method, path, route in routes:
                    if not path.startswith("/api"):
                        continue
                    url = fill(path, 0, phone)
                    response = (get(client, url, headers=headers) if method == "GET"
                                else client.request(method, url, headers=headers, json=[]))
                    if method == "DELETE" and response.status_code == 200:
                        # an unlink that worked: put the link back for the next caller
                        client.portal.call(seed_guardians, eki, ids)  # type: ignore[union-attr]
                    got = api_outcome(response)
                    want = expected("nobody" if who == "disabled" else who,
                                    rule_of(route), inside)
                    if got not in want:
                        failures.append(f"{who} {method} {url}: {response.status_code} "
                                        f"({got}, expected {sorted(want)})")
    assert failures == [], "\n".join(failures)
