"""``eki templates …``: WhatsApp message templates (the only messages allowed outside the
24-hour window). ``add`` defines one locally, ``list`` shows them, ``sync`` replaces the
provider's with its current list and approval statuses (Meta's WABA or Twilio's Content
API)."""

from __future__ import annotations

import argparse
from typing import Any

from eki_domain.model.templates import MessageTemplate, TemplateStatus
from eki_entrypoints.cli.common import EXIT_OK, open_eki, print_json
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.settings import Settings


def template_to_dict(template: MessageTemplate) -> dict[str, Any]:
    return {"name": template.name, "language": template.language,
            "category": template.category.value, "status": template.status.value,
            "body": template.body, "parameters": template.parameter_count,
            "source": template.source, "content_sid": template.content_sid,
            "updated_at": template.updated_at.isoformat() if template.updated_at else None}


def _status(raw: str) -> TemplateStatus:
    try:
        return TemplateStatus(raw.strip().lower())
    except ValueError:
        raise argparse.ArgumentTypeError(
            "use approved, pending, rejected, paused or disabled") from None


async def cmd_templates_add(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        template = await eki.templates.add(cli_caller(), args.name, args.lang, args.category,
                                           args.body, status=args.status)
    print(f"Plantilla «{template.name}» ({template.language}, {template.category.value}) "
          f"guardada: {template.parameter_count} parámetro(s), estado {template.status.value}.")
    return EXIT_OK


async def cmd_templates_list(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        templates = await eki.templates.list()
    if args.json:
        print_json([template_to_dict(t) for t in templates])
        return EXIT_OK
    if not templates:
        print("No hay plantillas. Sincronícelas con `eki templates sync` o defina una con "
              "`eki templates add NOMBRE --lang es --category utility --body \"Hola {{1}}\"`.")
    for t in templates:
        mark = "✓" if t.sendable else "✗"
        print(f"{mark} {t.name} ({t.language}) · {t.category.value} · {t.status.value} · "
              f"{t.parameter_count} parámetro(s) · {t.source}")
    return EXIT_OK


async def cmd_templates_sync(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        report = await eki.templates.sync(cli_caller())
    source = {"meta": "WhatsApp (Meta)", "twilio": "Twilio"}.get(report.source, report.source)
    print(f"Plantillas sincronizadas desde {source}: {report.added} nueva(s), "
          f"{report.updated} actualizada(s), {report.gone} retirada(s); "
          f"{report.approved} aprobada(s).")
    return EXIT_OK


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    templates = sub.add_parser(
        "templates", help="WhatsApp message templates (needed outside the 24-hour window)",
        description="Message templates: only approved ones can be sent "
                    "(docs/whatsapp.md).").add_subparsers(
        dest="templates_command", required=True, metavar="ACTION")

    add = templates.add_parser("add", help="define a template locally")
    add.add_argument("name", metavar="NAME", help="lowercase letters, digits and _")
    add.add_argument("--lang", default="es", help="language code (es, es_CO, en_US…)")
    add.add_argument("--category", required=True,
                     help="utility, marketing or authentication")
    add.add_argument("--body", required=True, help='the text, with {{1}}, {{2}}… parameters')
    add.add_argument("--status", type=_status, default=TemplateStatus.APPROVED,
                     help="approved (default: it is already approved at the provider), "
                          "pending, rejected, paused or disabled")
    add.set_defaults(handler=cmd_templates_add)

    listing = templates.add_parser("list", help="every template and its status")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_templates_list)

    sync = templates.add_parser("sync", help="read the templates from Meta or Twilio")
    sync.set_defaults(handler=cmd_templates_sync)


__all__ = ["add_parser", "template_to_dict"]
