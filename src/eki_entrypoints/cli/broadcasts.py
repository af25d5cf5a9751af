"""``eki broadcast …``: template broadcasts to groups (issue #16, docs/broadcasts.md).

``create`` prints the audience preview and, without ``--dry-run``, queues it (or schedules
it with ``--at``); ``list``, ``show``, ``pause``, ``resume`` and ``cancel`` follow it."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from eki_domain.model.broadcasts import Audience, Exclusion, Preview
from eki_domain.services.broadcasts import BroadcastSpec, BroadcastView
from eki_entrypoints.cli.common import EXIT_OK, CliError, open_eki, print_json
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.settings import Settings


def parse_when(raw: str, timezone: str) -> datetime:
    """An ISO date and time; without an offset it is read in ``EKI_TIMEZONE``."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise CliError(f"--at {raw[:40]!r}: use a date and time like 2026-12-07T07:30 "
                       "(hora del colegio) or with an offset.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment


def preview_json(broadcast_id: int | None, preview: Preview) -> dict[str, Any]:
    return {"id": broadcast_id, "recipients": preview.recipients,
            "excluded": preview.excluded_json(), "daily_limit": preview.daily_limit,
            "fit_today": preview.fit_today, "waiting": preview.waiting}


def print_preview(preview: Preview) -> None:
    print(f"Destinatarios: {preview.recipients}")
    for reason in Exclusion:
        n = preview.excluded.get(reason, 0)
        if n:
            print(f"  excluidos, {reason.label}: {n}")
    if preview.waiting:
        print(f"Límite diario de WhatsApp ({preview.daily_limit} personas en 24 h): hoy caben "
              f"{preview.fit_today}; {preview.waiting} esperarán a que se libere el cupo.")


def show_json(view: BroadcastView) -> dict[str, Any]:
    data = view.as_json()
    return {"id": data["id"], "state": data["state"], "recipients": data["recipients"],
            "counts": data["counts"], **{k: v for k, v in data.items()
                                         if k not in ("id", "state", "recipients", "counts")}}


async def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    when = parse_when(args.at, settings.timezone) if args.at else None
    spec = BroadcastSpec(
        name=args.name, template=args.template, language=args.lang,
        params=tuple(args.param or ()),
        audience=Audience.of(args.tag or (), all_tags=args.all_tags, to=args.to),
        scheduled_at=when)
    async with open_eki(settings) as eki:
        broadcast, preview = await eki.broadcasts.create(cli_caller(), spec,
                                                         dry_run=args.dry_run)
    if args.json:
        print_json(preview_json(broadcast.id, preview))
        return EXIT_OK
    print_preview(preview)
    if args.dry_run:
        print("Vista previa: no se envió nada (quite --dry-run para enviar).")
    elif broadcast.scheduled_at is not None and broadcast.started_at is None:
        print(f"Difusión {broadcast.id} programada para {broadcast.scheduled_at.isoformat()}.")
    else:
        print(f"Difusión {broadcast.id} en cola: `eki broadcast show {broadcast.id}` para "
              "seguirla.")
    return EXIT_OK


async def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        views = await eki.broadcasts.recent(cli_caller(), limit=args.limit)
    if args.json:
        print_json([show_json(v) for v in views])
        return EXIT_OK
    if not views:
        print("No hay difusiones. Cree una con `eki broadcast create`.")
    for v in views:
        b, c = v.broadcast, v.counts
        print(f"{b.id} · {b.name} · {b.state.label} · {b.recipients} destinatario(s) · "
              f"enviados {c['sent'] + c['delivered'] + c['read']}, fallidos {c['failed']}")
    return EXIT_OK


async def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        view = await eki.broadcasts.get(cli_caller(), args.id)
    if args.json:
        print_json(show_json(view))
        return EXIT_OK
    b, c = view.broadcast, view.counts
    print(f"Difusión {b.id}: {b.name} ({b.state.label})")
    print(f"Plantilla {b.template} ({b.language}); {b.recipients} destinatario(s)")
    print("En cola {queued} · enviados {sent} · entregados {delivered} · leídos {read} · "
          "fallidos {failed}".format(**c))
    return EXIT_OK


async def _transition(settings: Settings, args: argparse.Namespace, action: str) -> int:
    async with open_eki(settings) as eki:
        method = getattr(eki.broadcasts, action)
        broadcast = await method(cli_caller(), args.id)
    print(f"Difusión {broadcast.id}: {broadcast.state.label}.")
    return EXIT_OK


async def cmd_pause(settings: Settings, args: argparse.Namespace) -> int:
    return await _transition(settings, args, "pause")


async def cmd_resume(settings: Settings, args: argparse.Namespace) -> int:
    return await _transition(settings, args, "resume")


async def cmd_cancel(settings: Settings, args: argparse.Namespace) -> int:
    return await _transition(settings, args, "cancel")


def _id(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("a broadcast id (a whole number)") from None
    if not 1 <= value < 2**63:
        raise argparse.ArgumentTypeError("a broadcast id (a whole number)")
    return value


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    group = sub.add_parser(
        "broadcast", help="template broadcasts to groups of students or guardians",
        description="Template broadcasts (docs/broadcasts.md).").add_subparsers(
        dest="broadcast_command", required=True, metavar="ACTION")

    create = group.add_parser("create", help="preview and queue (or schedule) a broadcast")
    create.add_argument("--name", required=True)
    create.add_argument("--template", required=True, help="an approved template's name")
    create.add_argument("--lang", default="es")
    create.add_argument("--tag", action="append", help="students with this tag (repeat)")
    create.add_argument("--all-tags", action="store_true",
                        help="students with every --tag (default: any of them)")
    create.add_argument("--to", default="students", choices=("students", "guardians", "both"))
    create.add_argument("--param", action="append",
                        help="a template parameter, in order; may use {nombre}, "
                             "{estudiante}, {curso}")
    create.add_argument("--at", help="send at this time (ISO; EKI_TIMEZONE without offset)")
    create.add_argument("--dry-run", action="store_true", help="only the preview")
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=cmd_create)

    listing = group.add_parser("list", help="recent broadcasts")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_list)

    show = group.add_parser("show", help="one broadcast and its counts")
    show.add_argument("id", type=_id)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_show)

    for name, handler, text in (("pause", cmd_pause, "hold the rows not sent yet"),
                                ("resume", cmd_resume, "send the held rows"),
                                ("cancel", cmd_cancel, "never send the rows not sent yet")):
        action = group.add_parser(name, help=text)
        action.add_argument("id", type=_id)
        action.set_defaults(handler=handler)


__all__ = ["add_parser", "parse_when", "preview_json"]
