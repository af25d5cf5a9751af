"""``eki audit list``: the audit log, newest first (the same rows as /admin/auditoria)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from eki_domain.model.audit import AuditFilter
from eki_domain.model.pagination import MAX_PAGE_SIZE, PageRequest
from eki_entrypoints.cli.common import EXIT_OK, open_eki, page_size, print_json
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.settings import Settings


def _moment(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an ISO date or time (2026-12-01 or 2026-12-01T08:00-05:00)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def cmd_audit_list(settings: Settings, args: argparse.Namespace) -> int:
    actor = args.actor.strip() if args.actor else None
    if actor and "@" in actor:  # e-mails are stored case-folded
        actor = actor.lower()
    where = AuditFilter(actor=actor,
                        action=args.action, since=args.since)
    async with open_eki(settings) as eki:
        page = await eki.audit.list(cli_caller(), where, PageRequest(limit=args.limit))
    if args.json:
        print_json([entry.as_dict() for entry in page.items])
        return EXIT_OK
    if not page.items:
        print("No hay entradas con esos filtros.")
    for e in page.items:
        target = f" {e.target_type}:{e.target_id}" if e.target_id else ""
        where_from = f" desde {e.ip}" if e.ip else ""
        print(f"{e.at:%Y-%m-%d %H:%M:%S} UTC  {e.actor}  {e.action}{target}{where_from}")
    if page.has_more:
        print(f"… {page.total - len(page.items)} más: use --limit o filtre con --since.")
    return EXIT_OK


def add_parser(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the audit log (who did what)").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION")
    listing = audit.add_parser("list", help="entries, newest first")
    listing.add_argument("--since", type=_moment, metavar="ISO",
                         help="only entries at or after this moment (UTC unless it says)")
    listing.add_argument("--actor", metavar="EMAIL", help="a staff e-mail, system, cli:USER or eki")
    listing.add_argument("--action", metavar="NAME", help="e.g. staff.sign_in, student.viewed")
    listing.add_argument("--limit", type=page_size, default=100,
                         help=f"at most this many (1–{MAX_PAGE_SIZE}, default 100)")
    listing.add_argument("--json", action="store_true",
                         help="a JSON array of {at, actor, action, target_type, target_id, "
                              "ip, user_agent, details}")
    listing.set_defaults(handler=cmd_audit_list)
