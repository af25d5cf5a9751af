"""``/admin/alertas``: the academic alert rules (switch each on or off, its template), what
an evaluation now would send and hold back, and the latest alerts that went out. Admins and
coordinators (``Action.MANAGE_ALERTS``); switching is audited (docs/alerts.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from eki_domain.errors import InvalidInput
from eki_domain.model.alerts import AlertRule
from eki_domain.model.permissions import Action
from eki_domain.model.phone import mask_phone
from eki_entrypoints.web.access import caller
from eki_entrypoints.web.admin.auth import AdminContext, protected
from eki_entrypoints.web.admin.render import page

#: Alerts listed as sent on the page.
RECENT = 50
#: Rows of each preview list (would send, held back) shown on the page; the counts are whole.
PREVIEW_ROWS = 200
_KIND = {"guardian": "acudiente", "student": "estudiante"}


async def _render(request: Request, ctx: AdminContext, *, error: str | None = None,
                  status: int = 200) -> Response:
    alerts = ctx.eki.alerts
    rules = await alerts.rules()
    preview = await alerts.run(dry_run=True)
    recent = await alerts.sent(limit=RECENT)
    policy = alerts.policy
    return page(request, "alerts.html", ctx.base(
        nav="alerts", rules=rules, preview=preview, recent=recent, error=error,
        switched=request.query_params.get("switched"), mask=mask_phone, kinds=_KIND,
        shown=PREVIEW_ROWS,
        per_day=policy.per_day, due_hours=policy.due_hours,
        quiet=(f"{policy.quiet.start:%H:%M}–{policy.quiet.end:%H:%M}"
               if policy.quiet.start and policy.quiet.end else None)), status=status)


@protected(Action.MANAGE_ALERTS)
async def alerts_page(request: Request, ctx: AdminContext) -> Response:
    return await _render(request, ctx)


@protected(Action.MANAGE_ALERTS)
async def switch_rule(request: Request, ctx: AdminContext) -> Response:
    try:
        rule = AlertRule.parse(str(request.path_params["rule"])[:30])
    except ValueError:
        return await _render(request, ctx, error="No existe esa regla de alertas.",
                             status=404)
    form = ctx.form
    wanted = str(form.get("enabled", "")) if form is not None else ""
    template = str(form.get("template", "")).strip() if form is not None else ""
    if wanted not in ("1", "0") or len(template) > 540:
        return await _render(request, ctx, error="El formulario no es válido.", status=422)
    try:
        await ctx.eki.alerts.switch(caller(request), rule, enabled=wanted == "1",
                                    template=template or None)
    except InvalidInput as exc:
        return await _render(request, ctx, error=exc.message, status=422)
    return RedirectResponse(f"/admin/alertas?switched={rule.value}", status_code=303)
