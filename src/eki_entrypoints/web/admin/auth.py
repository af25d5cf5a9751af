"""Signing in and out of the admin site, and the gate every admin page goes through."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from urllib.parse import quote

import attrs
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.settings import Settings
from eki_entrypoints.web.admin.render import page
from eki_entrypoints.web.admin.session import (
    LOGIN_COOKIE,
    LOGIN_FORM_SECONDS,
    SESSION_COOKIE,
    AdminSession,
    SessionStore,
    Signer,
    clear_cookie,
    csrf_ok,
    set_cookie,
    signing_key,
)
from eki_entrypoints.web.errors import MAX_SQL_INTEGER, ApiError
from eki_entrypoints.web.limits import body_reservation, limited

log = logging.getLogger("eki.admin")
security_log = logging.getLogger("eki.security")

#: Body limit of every admin form but the import upload.
FORM_BYTES = 64 * 1024


@attrs.frozen
class AdminContext:
    """What an admin page handler gets: the app, the session and (POST) the form."""

    eki: Eki
    session: AdminSession
    now: datetime
    form: FormData | None = None

    def base(self, **values: object) -> dict[str, object]:
        return {"csrf": self.session.csrf, "session": self.session, **values}


Handler = Callable[[Request, AdminContext], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


async def _signer(request: Request) -> Signer | None:
    settings: Settings = request.app.state.settings
    if settings.admin_token is None:
        return None
    if settings.secret_key is not None:
        return Signer(settings)
    if request.app.state.secret_key is None:  # generated once, kept in the database
        request.app.state.secret_key = await signing_key(settings, _sessions(request),
                                                         _now(request))
    return Signer(settings, request.app.state.secret_key)


def _sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.sessions
    return store


def _now(request: Request) -> datetime:
    eki: Eki = request.app.state.eki
    return eki.clock.now()


def disabled_page(request: Request) -> Response:
    return page(request, "disabled.html", status=403)


def form_error(request: Request, status: int, message: str,
               ctx: AdminContext | None = None) -> Response:
    return page(request, "error.html", {**(ctx.base() if ctx else {}), "status": status,
                                        "message": message}, status=status)


def safe_next(value: object) -> str:
    """Where to go after signing in: an admin page of this site, nothing else."""
    if (isinstance(value, str) and value.startswith("/admin") and "\\" not in value
            and not value.startswith("/admin/login") and "//" not in value):
        return value
    return "/admin"


def guard(*, form_bytes: int = FORM_BYTES, max_files: int = 0) -> Callable[[Handler], Endpoint]:
    """Wrap an admin page: no token configured → the "disabled" page; no or bad session →
    the sign-in page; expired → the sign-in page saying so; POST → the form is read
    (size-capped) and its ``csrf`` field must match the session's, else 403."""

    def decorate(inner: Handler) -> Endpoint:
        @functools.wraps(inner)
        async def endpoint(request: Request) -> Response:
            signer = await _signer(request)
            if signer is None:
                return disabled_page(request)
            now = _now(request)
            session, expired = signer.session(request.cookies.get(SESSION_COOKIE), now)
            if session is not None and not await _sessions(request).active(session.id_hash,
                                                                          now):
                session = None  # signed out (or the store forgot it): sign in again
            if session is None:
                target = request.url.path
                if request.method == "GET" and request.url.query:
                    target += "?" + request.url.query
                query = f"next={quote(safe_next(target), safe='')}"
                if expired:
                    query += "&expired=1"
                response = RedirectResponse(f"/admin/login?{query}", status_code=303)
                if expired:
                    clear_cookie(response, request, SESSION_COOKIE)
                return response
            if any(isinstance(v, int) and not 0 <= v <= MAX_SQL_INTEGER
                   for v in request.path_params.values()):  # /admin/students/99999…
                return form_error(request, 404, "No existe.",
                                  AdminContext(eki=request.app.state.eki, session=session,
                                               now=now))
            eki: Eki = request.app.state.eki
            if request.method != "POST":
                return await inner(request, AdminContext(eki=eki, session=session, now=now))
            try:
                async with limited(request, form_bytes).form(
                        max_files=max_files, max_fields=20) as form:
                    ctx = AdminContext(eki=eki, session=session, now=now, form=form)
                    if not csrf_ok(session.csrf, form.get("csrf")):
                        security_log.warning("admin form without a valid CSRF token: %s %s",
                                             request.method, request.url.path)
                        return form_error(
                            request, 403, "El formulario no es válido o caducó (falta el "
                            "código de seguridad). Vuelva a la página, recárguela e "
                            "inténtelo de nuevo.", ctx)
                    return await inner(request, ctx)
            except ApiError as exc:
                if exc.status == 413:
                    return form_error(request, 413, "El archivo es demasiado grande: el "
                                      f"límite es {form_bytes // (1024 * 1024)} MiB. Divídalo "
                                      "en varios archivos.")
                return form_error(request, exc.status, "La petición no es válida.")

        return endpoint

    return decorate


#: The gate of an admin page whose forms carry no file.
protected = guard()


# -- sign-in and sign-out ---------------------------------------------------------------------


def _login_page(request: Request, signer: Signer, *, status: int = 200,
                error: str | None = None, next_url: str = "/admin") -> Response:
    token, cookie = signer.new_login_token(_now(request))
    expired = request.query_params.get("expired") == "1"
    signed_out = request.query_params.get("out") == "1"
    response = page(request, "login.html", {
        "login_csrf": token, "error": error, "next": next_url, "expired": expired,
        "signed_out": signed_out}, status=status)
    set_cookie(response, request, LOGIN_COOKIE, cookie, LOGIN_FORM_SECONDS)
    return response


async def login(request: Request) -> Response:
    signer = await _signer(request)
    if signer is None:
        return disabled_page(request)
    now = _now(request)
    if request.method != "POST":
        session, _expired = signer.session(request.cookies.get(SESSION_COOKIE), now)
        next_url = safe_next(request.query_params.get("next"))
        if session is not None and await _sessions(request).active(session.id_hash, now):
            return RedirectResponse(next_url, status_code=303)
        return _login_page(request, signer, next_url=next_url)
    held = body_reservation(request)  # not signed in yet: the body counts on the budget
    try:
        async with limited(request, FORM_BYTES, reservation=held).form(
                max_files=0, max_fields=10) as form:
            given_csrf, token, wanted = form.get("csrf"), form.get("token"), form.get("next")
    except ApiError as exc:
        if exc.status in (408, 503):
            raise
        return _login_page(request, signer, status=400, error="La petición no es válida.")
    finally:
        held.release()
    next_url = safe_next(wanted)
    expected_csrf = signer.login_token(request.cookies.get(LOGIN_COOKIE), now)
    if not csrf_ok(expected_csrf, given_csrf):
        security_log.warning("admin sign-in without a valid CSRF token from %s",
                             _client(request))
        return _login_page(request, signer, status=403, next_url=next_url,
                           error="El formulario caducó o no es válido. Vuelva a intentarlo.")
    if not isinstance(token, str) or not signer.token_matches(token):
        security_log.warning("admin sign-in with a wrong token from %s", _client(request))
        return _login_page(request, signer, status=403, next_url=next_url,
                           error="El token de administración no es correcto.")
    settings: Settings = request.app.state.settings
    session, cookie = signer.new_session(now, settings.admin_session_hours)
    await _sessions(request).add(session.id_hash, now,
                                 now + timedelta(hours=settings.admin_session_hours))
    response = RedirectResponse(next_url, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, cookie, settings.admin_session_hours * 3600)
    clear_cookie(response, request, LOGIN_COOKIE)
    log.info("admin signed in from %s", _client(request))
    return response


@protected
async def logout(request: Request, ctx: AdminContext) -> Response:
    await _sessions(request).revoke(ctx.session.id_hash)  # the cookie is now worthless
    response = RedirectResponse("/admin/login?out=1", status_code=303)
    clear_cookie(response, request, SESSION_COOKIE)
    log.info("admin signed out from %s", _client(request))
    return response


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
