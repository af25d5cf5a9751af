"""A person's own account (``/admin/cuenta``: password, second factor), the one-time
setup page (``/admin/setup/<token>``) and the audit log (``/admin/auditoria``)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from eki_adapters.spreadsheets.errors_file import inert_csv_cell
from eki_domain.errors import InvalidCredentials, InvalidInput
from eki_domain.model.audit import AuditEntry, AuditFilter
from eki_domain.model.pagination import PageRequest
from eki_domain.model.permissions import Action
from eki_domain.model.staff import StaffMember
from eki_domain.services.staff import Caller
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.settings import Settings
from eki_entrypoints.web.access import PUBLIC, SIGNED_IN, declare
from eki_entrypoints.web.admin.auth import (
    FORM_BYTES,
    AdminContext,
    _signer,
    disabled_page,
    form_error,
    protected,
)
from eki_entrypoints.web.admin.pages import page_number, pager
from eki_entrypoints.web.admin.render import page
from eki_entrypoints.web.admin.session import LOGIN_COOKIE, csrf_ok, set_cookie
from eki_entrypoints.web.errors import ApiError
from eki_entrypoints.web.limits import body_reservation, limited

AUDIT_PER_PAGE = 50
#: The CSV download stops here (use ``eki audit list --json`` for more).
AUDIT_CSV_ROWS = 20_000
SETUP_TOKEN_MAX = 100
#: The TOTP secret being turned on waits in the session's form between the two steps.
_NO_FACTOR = "La verificación en dos pasos no está disponible en este servidor."


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


# -- /admin/setup/<token> --------------------------------------------------------------------


async def _setup_page(request: Request, *, status: int = 200, error: str | None = None,
                      member: StaffMember | None = None) -> Response:
    signer = await _signer(request)
    if signer is None:
        return disabled_page(request)
    eki: Eki = request.app.state.eki
    token, cookie = signer.new_login_token(eki.clock.now())
    response = page(request, "setup.html", {"login_csrf": token, "error": error,
                                            "member": member}, status=status)
    set_cookie(response, request, LOGIN_COOKIE, cookie, 3600)
    return response


@declare(PUBLIC)
async def setup(request: Request) -> Response:
    """Choose a password through a one-time link (24 h, single use)."""
    eki: Eki = request.app.state.eki
    token = str(request.path_params["token"])
    if len(token) > SETUP_TOKEN_MAX:
        return await _setup_page(request, status=404, error=_expired())
    if request.method != "POST":
        try:
            member = await eki.staff.setup_link_member(token)
        except InvalidCredentials as exc:
            return await _setup_page(request, status=404, error=exc.message)
        return await _setup_page(request, member=member)
    signer = await _signer(request)
    if signer is None:
        return disabled_page(request)
    held = body_reservation(request)
    try:
        async with limited(request, FORM_BYTES, reservation=held).form(
                max_files=0, max_fields=5) as form:
            given, password, again = form.get("csrf"), form.get("password"), form.get("again")
    except ApiError as exc:
        if exc.status in (408, 503):
            raise
        return await _setup_page(request, status=400, error="La petición no es válida.")
    finally:
        held.release()
    if not csrf_ok(signer.login_token(request.cookies.get(LOGIN_COOKIE), eki.clock.now()),
                   given):
        return await _setup_page(request, status=403, error="El formulario caducó. Vuelva "
                                 "a abrir el enlace e inténtelo de nuevo.")
    if not isinstance(password, str) or password != again:
        return await _setup_page(request, status=400,
                                 error="Las dos contraseñas no coinciden. Escríbala dos veces.")
    try:
        await eki.staff.complete_setup(token, password, ip=_client(request),
                                       user_agent=request.headers.get("user-agent"))
    except InvalidCredentials as exc:
        return await _setup_page(request, status=404, error=exc.message)
    except InvalidInput as exc:
        return await _setup_page(request, status=400, error=exc.message)
    return RedirectResponse("/admin/login?setup=1", status_code=303)


def _expired() -> str:
    return ("Este enlace ya se usó o venció (dura 24 horas y sirve una sola vez). Pida a un "
            "administrador un enlace nuevo.")


# -- /admin/cuenta ---------------------------------------------------------------------------


async def _account_page(request: Request, ctx: AdminContext, *, status: int = 200,
                        error: str | None = None, notice: str | None = None,
                        secret: str | None = None) -> Response:
    settings: Settings = request.app.state.settings
    uri = None
    if secret is not None and ctx.member is not None:
        uri = ctx.eki.staff.second_factor_uri(ctx.member, secret, settings.school_name)
    required = (ctx.member is not None and not ctx.member.has_second_factor
                and ctx.member.role.value in settings.require_2fa_for)
    return page(request, "account.html", ctx.base(
        nav="account", error=error, notice=notice, secret=secret, uri=uri,
        required=required), status=status)


@protected(SIGNED_IN)
async def account(request: Request, ctx: AdminContext) -> Response:
    """Own account: change the password, turn the second factor on or off."""
    if ctx.member is None:
        return form_error(request, 400, "Entró con el token de administración: no hay una "
                          "cuenta que configurar. Cree la suya con `eki staff add`.", ctx)
    if request.method != "POST":
        return await _account_page(request, ctx)
    assert ctx.form is not None
    what = ctx.form.get("action")
    staff = ctx.eki.staff
    me = Caller(ctx.principal, _client(request), request.headers.get("user-agent"))
    try:
        if what == "password":
            current, new, again = (str(ctx.form.get(k) or "")[:1024]
                                   for k in ("current", "password", "again"))
            if new != again:
                return await _account_page(request, ctx, status=400, error="Las dos "
                                           "contraseñas nuevas no coinciden.")
            await staff.change_password(me, ctx.member, current, new)
            return RedirectResponse("/admin/login?changed=1", status_code=303)
        if what == "totp_start":
            return await _account_page(request, ctx, secret=staff.new_second_factor_secret())
        if what == "totp_on":
            secret = str(ctx.form.get("secret") or "")[:64]
            try:
                await staff.set_second_factor(me, ctx.member, secret,
                                              str(ctx.form.get("code") or "")[:20])
            except InvalidCredentials as exc:
                return await _account_page(request, ctx, status=400, error=exc.message,
                                           secret=secret)
            return RedirectResponse("/admin/login?totp=1", status_code=303)
        if what == "totp_off":
            await staff.set_second_factor(me, ctx.member, None)
            return RedirectResponse("/admin/login?totp=0", status_code=303)
    except (InvalidCredentials, InvalidInput) as exc:
        return await _account_page(request, ctx, status=400, error=exc.message)
    return await _account_page(request, ctx, status=400, error="La petición no es válida.")


# -- /admin/auditoria ------------------------------------------------------------------------


def _day(raw: str, *, end: bool = False) -> datetime | None:
    try:
        parsed = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        return None
    moment = datetime.combine(parsed, time.min, tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


def audit_filter(request: Request) -> AuditFilter:
    params = request.query_params

    def text(name: str) -> str | None:
        value = params.get(name, "").strip()[:254]
        return value or None

    return AuditFilter(actor=text("actor"), action=text("action"),
                       target_type=text("target_type"), target_id=text("target"),
                       since=_day(params.get("since", "")),
                       until=_day(params.get("until", ""), end=True))


@protected(Action.VIEW_AUDIT)
async def audit_log(request: Request, ctx: AdminContext) -> Response:
    """Newest first, filtered by actor, action, target and dates; ``?format=csv``."""
    where = audit_filter(request)
    me = Caller(ctx.principal, _client(request), request.headers.get("user-agent"))
    if request.query_params.get("format") == "csv":
        rows: list[AuditEntry] = []
        while len(rows) < AUDIT_CSV_ROWS:
            chunk = await ctx.eki.audit.list(me, where, PageRequest(limit=500,
                                                                   offset=len(rows)))
            rows.extend(chunk.items)
            if not chunk.has_more:
                break
        return Response(audit_csv(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="auditoria.csv"',
            "Cache-Control": "no-store"})
    number = page_number(request)
    result = await ctx.eki.audit.list(me, where, PageRequest(
        limit=AUDIT_PER_PAGE, offset=(number - 1) * AUDIT_PER_PAGE))
    params = request.query_params
    return page(request, "audit.html", ctx.base(
        nav="audit", entries=result.items, pager=pager(request, result),
        filters={k: params.get(k, "")[:254] for k in
                 ("actor", "action", "target_type", "target", "since", "until")}))


def audit_csv(entries: list[AuditEntry]) -> bytes:
    """Every cell inert: a value a spreadsheet would run as a formula gets a ``'``."""
    out = io.StringIO()
    writer = csv.writer(out)
    keys = ("at", "actor", "action", "target_type", "target_id", "ip", "user_agent",
            "details")
    writer.writerow(keys)
    for entry in entries:
        data = entry.as_dict()
        details = "; ".join(f"{k}={v}" for k, v in entry.details.items())
        writer.writerow([inert_csv_cell(details if k == "details" else data[k])
                         for k in keys])
    return out.getvalue().encode("utf-8-sig")
