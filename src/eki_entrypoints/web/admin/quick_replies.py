"""``/admin/respuestas``: the saved answers of the inbox (``/atajo`` expands one)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from eki_domain.errors import EkiError
from eki_domain.model.messages import MAX_MESSAGE_CHARS
from eki_domain.model.permissions import Action
from eki_entrypoints.web.access import caller
from eki_entrypoints.web.admin.auth import AdminContext, protected
from eki_entrypoints.web.admin.render import page


def _field(ctx: AdminContext, name: str, limit: int) -> str:
    value = ctx.form.get(name) if ctx.form is not None else None
    return value[:limit] if isinstance(value, str) else ""


async def _page(request: Request, ctx: AdminContext, *, status: int = 200,
                error: str | None = None, shortcut: str = "", body: str = "") -> Response:
    replies = await ctx.eki.inbox.quick_replies()
    edit = request.query_params.get("editar", "")[:40]
    if edit and not shortcut:
        found = next((r for r in replies if r.shortcut == edit), None)
        if found is not None:
            shortcut, body = found.shortcut, found.body
    return page(request, "quick_replies.html", ctx.base(
        nav="inbox", replies=replies, error=error, shortcut=shortcut, body=body,
        max_chars=MAX_MESSAGE_CHARS, ok=request.query_params.get("ok")), status=status)


@protected(Action.MANAGE_QUICK_REPLIES)
async def quick_replies(request: Request, ctx: AdminContext) -> Response:
    if request.method != "POST":
        return await _page(request, ctx)
    shortcut = _field(ctx, "shortcut", 40)
    body = _field(ctx, "body", MAX_MESSAGE_CHARS + 100)
    try:
        new = await ctx.eki.inbox.save_quick_reply(caller(request), shortcut, body)
    except EkiError as exc:
        return await _page(request, ctx, status=400, error=exc.message, shortcut=shortcut,
                           body=body)
    return RedirectResponse(f"/admin/respuestas?ok={'created' if new else 'saved'}",
                            status_code=303)


@protected(Action.MANAGE_QUICK_REPLIES)
async def delete_quick_reply(request: Request, ctx: AdminContext) -> Response:
    try:
        deleted = await ctx.eki.inbox.delete_quick_reply(
            caller(request), str(request.path_params["shortcut"])[:40])
    except EkiError as exc:
        return await _page(request, ctx, status=400, error=exc.message)
    return RedirectResponse(f"/admin/respuestas?ok={'deleted' if deleted else 'missing'}",
                            status_code=303)
