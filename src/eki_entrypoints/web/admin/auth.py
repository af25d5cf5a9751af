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

from eki_domain.errors import InvalidCredentials, SignInLocked
from eki_domain.model.audit import AuditAction
from eki_domain.model.permissions import Action, Decision, Principal, can, decide
from eki_domain.model.staff import StaffMember
from eki_domain.model.student import Student
from eki_domain.services.staff import Caller
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.settings import Settings
from eki_entrypoints.web.access import PUBLIC, SIGNED_IN, Rule, declare
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
    """What an admin page handler gets: the app, the session, who is signed in and (POST)
    the form."""

    eki: Eki
    session: AdminSession
    now: datetime
    form: FormData | None = None
    principal: Principal = attrs.field(factory=Principal.system)
    #: The signed-in member (None: a break-glass sign-in with the shared token).
    member: StaffMember | None = None

    def base(self, **values: object) -> dict[str, object]:
        principal = self.principal
        return {"csrf": self.session.csrf, "session": self.session, "principal": principal,
                "member": self.member,
                "may": lambda action: can(principal, Action(action)), **values}

    def may(self, action: Action, student: Student | None = None) -> bool:
        return can(self.principal, action, None if student is None else student.tags)


Handler = Callable[[Request, AdminContext], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


async def _signer(request: Request) -> Signer | None:
    """None while the admin site is off: no ``EKI_ADMIN_TOKEN`` and no admin account."""
    settings: Settings = request.app.state.settings
    if settings.admin_token is None:
        eki: Eki = request.app.state.eki
        if await eki.staff.active_admins() == 0:
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


def required_second_factor(settings: Settings, member: StaffMember | None) -> bool:
    """The member's role must use TOTP (``EKI_REQUIRE_2FA_FOR``) and it is not on yet."""
    return (member is not None and member.role.value in settings.require_2fa_for
            and not member.has_second_factor)


#: Pages a member who must turn TOTP on may still open.
SECOND_FACTOR_PAGES = frozenset({"/admin/cuenta", "/admin/logout"})


async def signed_in(request: Request, signer: Signer, now: datetime
                    ) -> tuple[AdminSession | None, bool, Principal | None,
                               StaffMember | None]:
    """(session, expired, principal, member) of the request's cookie. Every request
    re-checks the member: a disabled account, a new role or password, or (for a
    break-glass session) an admin account now existing ends the session here."""
    session, expired = signer.session(request.cookies.get(SESSION_COOKIE), now)
    if session is None:
        return None, expired, None, None
    store = _sessions(request)
    record = await store.get(session.id_hash, now)
    if record is None:
        return None, False, None, None
    eki: Eki = request.app.state.eki
    if record.staff_id is None:
        if await eki.staff.active_admins() > 0 or not signer.has_token:
            await store.revoke(session.id_hash)
            return None, False, None, None
        return session, False, Principal.system(), None
    member = await eki.staff.principal_for_session(record.staff_id, record.epoch)
    if member is None:
        await store.revoke(session.id_hash)
        return None, False, None, None
    return session, False, Principal.staff(member), member


def guard(action: Rule, *, form_bytes: int = FORM_BYTES,
          max_files: int = 0) -> Callable[[Handler], Endpoint]:
    """Wrap an admin page that needs ``action``: site off → the "disabled" page; no or
    bad session → the sign-in page (saying so when it expired); a role that may not →
    403 page; POST → the form is read (size-capped) and its ``csrf`` field must match the
    session's, else 403."""

    def decorate(inner: Handler) -> Endpoint:
        @functools.wraps(inner)
        async def endpoint(request: Request) -> Response:
            signer = await _signer(request)
            if signer is None:
                return disabled_page(request)
            now = _now(request)
            session, expired, principal, member = await signed_in(request, signer, now)
            if session is None or principal is None:
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
            request.state.principal = principal
            eki: Eki = request.app.state.eki
            ctx = AdminContext(eki=eki, session=session, now=now, principal=principal,
                               member=member)
            if (required_second_factor(request.app.state.settings, member)
                    and request.url.path not in SECOND_FACTOR_PAGES):
                return RedirectResponse("/admin/cuenta?required=1", status_code=303)
            if isinstance(action, Action) and decide(principal, action) is not Decision.ALLOW:
                return form_error(request, 403, "Su rol no permite abrir esta página. Pida "
                                  "a un administrador del colegio el permiso si lo necesita.",
                                  ctx)
            if any(isinstance(v, int) and not 0 <= v <= MAX_SQL_INTEGER
                   for v in request.path_params.values()):  # /admin/students/99999…
                return form_error(request, 404, "No existe.", ctx)
            if request.method != "POST":
                return await inner(request, ctx)
            try:
                async with limited(request, form_bytes).form(
                        max_files=max_files, max_fields=20) as form:
                    ctx = attrs.evolve(ctx, form=form)
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

        declare(action)(endpoint)
        return endpoint

    return decorate


def protected(action: Rule) -> Callable[[Handler], Endpoint]:
    """The gate of an admin page whose forms carry no file."""
    return guard(action)


# -- sign-in and sign-out ---------------------------------------------------------------------


async def token_sign_in_allowed(request: Request, signer: Signer) -> bool:
    """The break-glass rule: ``EKI_ADMIN_TOKEN`` signs in to /admin only while no active
    admin account exists."""
    eki: Eki = request.app.state.eki
    return signer.has_token and await eki.staff.active_admins() == 0


#: Why the sign-in page is shown again (after a change that ended the session).
LOGIN_NOTICES = (
    ("setup", "1", "Contraseña guardada. Inicie sesión con su correo y su contraseña."),
    ("changed", "1", "Contraseña cambiada: sus otras sesiones se cerraron. Inicie sesión "
     "con la contraseña nueva."),
    ("totp", "1", "Verificación en dos pasos activada. Inicie sesión con el código de la "
     "aplicación."),
    ("totp", "0", "Verificación en dos pasos desactivada. Inicie sesión de nuevo."),
)


async def _login_page(request: Request, signer: Signer, *, status: int = 200,
                      error: str | None = None, next_url: str = "/admin",
                      email: str = "") -> Response:
    token, cookie = signer.new_login_token(_now(request))
    expired = request.query_params.get("expired") == "1"
    signed_out = request.query_params.get("out") == "1"
    notice = next((text for key, value, text in LOGIN_NOTICES
                   if request.query_params.get(key) == value), None)
    response = page(request, "login.html", {
        "login_csrf": token, "error": error, "next": next_url, "expired": expired,
        "signed_out": signed_out, "email": email, "notice": notice,
        "allow_token": await token_sign_in_allowed(request, signer)}, status=status)
    set_cookie(response, request, LOGIN_COOKIE, cookie, LOGIN_FORM_SECONDS)
    return response


def _text(value: object, limit: int = 1024) -> str:
    return value[:limit] if isinstance(value, str) else ""


@declare(PUBLIC)
async def login(request: Request) -> Response:
    signer = await _signer(request)
    if signer is None:
        return disabled_page(request)
    now = _now(request)
    if request.method != "POST":
        next_url = safe_next(request.query_params.get("next"))
        session, _expired, principal, _member = await signed_in(request, signer, now)
        if session is not None and principal is not None:
            return RedirectResponse(next_url, status_code=303)
        return await _login_page(request, signer, next_url=next_url)
    held = body_reservation(request)  # not signed in yet: the body counts on the budget
    try:
        async with limited(request, FORM_BYTES, reservation=held).form(
                max_files=0, max_fields=10) as form:
            given_csrf, wanted = form.get("csrf"), form.get("next")
            token, email = _text(form.get("token")), _text(form.get("email"), 300)
            password, code = _text(form.get("password")), _text(form.get("code"), 20)
    except ApiError as exc:
        if exc.status in (408, 503):
            raise
        return await _login_page(request, signer, status=400,
                                 error="La petición no es válida.")
    finally:
        held.release()
    next_url = safe_next(wanted)
    expected_csrf = signer.login_token(request.cookies.get(LOGIN_COOKIE), now)
    if not csrf_ok(expected_csrf, given_csrf):
        security_log.warning("admin sign-in without a valid CSRF token from %s",
                             _client(request))
        return await _login_page(request, signer, status=403, next_url=next_url,
                                 error="El formulario caducó o no es válido. Vuelva a "
                                 "intentarlo.")
    eki: Eki = request.app.state.eki
    member: StaffMember | None = None
    if not email.strip():
        if not await token_sign_in_allowed(request, signer):
            return await _login_page(
                request, signer, status=403, next_url=next_url,
                error="Escriba su correo y su contraseña. (El token de administración ya no "
                "abre el panel: existe una cuenta de administrador.)")
        if not signer.token_matches(token):
            security_log.warning("admin sign-in with a wrong token from %s", _client(request))
            return await _login_page(request, signer, status=403, next_url=next_url,
                                     error="El token de administración no es correcto.")
    else:
        try:
            member = await eki.staff.sign_in(email, password, ip=_client(request),
                                             user_agent=request.headers.get("user-agent"),
                                             code=code or None)
        except SignInLocked as exc:
            security_log.warning("admin sign-in locked out from %s", _client(request))
            return page(request, "error.html", {"status": 429, "message": exc.message},
                        status=429, headers={"Retry-After": str(exc.retry_after_seconds)})
        except InvalidCredentials as exc:
            security_log.warning("admin sign-in failed from %s", _client(request))
            return await _login_page(request, signer, status=403, next_url=next_url,
                                     error=exc.message, email=email.strip()[:254])
    settings: Settings = request.app.state.settings
    session, cookie = signer.new_session(now, settings.admin_session_hours)  # a new id
    await _sessions(request).add(
        session.id_hash, now, now + timedelta(hours=settings.admin_session_hours),
        staff_id=None if member is None else member.id,
        epoch=0 if member is None else member.session_epoch)
    if required_second_factor(settings, member):
        next_url = "/admin/cuenta?required=1"
    response = RedirectResponse(next_url, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, cookie, settings.admin_session_hours * 3600)
    clear_cookie(response, request, LOGIN_COOKIE)
    if member is None:
        log.info("admin signed in with the shared token from %s", _client(request))
    else:
        log.info("staff member %s signed in from %s", member.id, _client(request))
    return response


@protected(SIGNED_IN)
async def logout(request: Request, ctx: AdminContext) -> Response:
    await _sessions(request).revoke(ctx.session.id_hash)  # the cookie is now worthless
    ip, agent = _client(request), request.headers.get("user-agent")
    if ctx.member is not None:
        await ctx.eki.staff.signed_out(ctx.member, ip=ip, user_agent=agent)
    else:
        await ctx.eki.audit.record(Caller(ctx.principal, ip, agent), AuditAction.STAFF_SIGN_OUT)
    response = RedirectResponse("/admin/login?out=1", status_code=303)
    clear_cookie(response, request, SESSION_COOKIE)
    log.info("admin signed out from %s", _client(request))
    return response


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
