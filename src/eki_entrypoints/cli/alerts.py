"""``eki alerts …``: academic alerts (docs/alerts.md).

``run [--dry-run]`` evaluates the rules now and lists what goes out (or would) and why, and
what is held back and why; ``list [--since ISO]`` what went out; ``rules`` how each rule is
set; ``on RULE [--template NAME[:LANG]]`` / ``off RULE`` switch a rule (stored: wins over
``EKI_ALERT_RULES``; audited).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from eki_domain.model.alerts import AlertRule, PlannedAlert, RuleConfig, SentAlert
from eki_domain.model.phone import mask_phone
from eki_domain.services.alerts import AlertRun
from eki_entrypoints.cli.common import EXIT_OK, open_eki, print_json
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.settings import Settings

_KIND = {"guardian": "acudiente", "student": "estudiante"}


def _rule(raw: str) -> AlertRule:
    try:
        return AlertRule.parse(raw)
    except ValueError:
        raise argparse.ArgumentTypeError("use falla, entrega or nota_baja") from None


def _since(raw: str) -> datetime:
    """ISO date or date-time; without a zone it is read in EKI_TIMEZONE (later)."""
    try:
        return datetime.fromisoformat(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            "write an ISO date or date-time, e.g. 2026-12-07 or 2026-12-07T08:00") from None


def _limit(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 5000:
        raise argparse.ArgumentTypeError("must be between 1 and 5000")
    return value


def rule_to_dict(config: RuleConfig) -> dict[str, Any]:
    return {"rule": config.rule.value, "label": config.rule.label, "enabled": config.enabled,
            "template": config.template, "language": config.language,
            "stored": config.stored,
            "enabled_since": config.enabled_since.isoformat() if config.enabled_since
            else None,
            "updated_by": config.updated_by}


def plan_to_dict(plan: PlannedAlert) -> dict[str, Any]:
    item = plan.item
    out: dict[str, Any] = {"student_id": item.student_id, "rule": item.rule.value,
                           "item": item.item, "recipient": plan.recipient,
                           "recipient_kind": plan.kind.value, "why": item.why,
                           "values": dict(item.values)}
    if plan.held is not None:
        out.update(reason=plan.held.value, reason_text=plan.held.text,
                   waits=plan.held.waits)
    return out


def run_to_dict(run: AlertRun) -> dict[str, Any]:
    return {"at": run.at.isoformat(), "dry_run": run.dry_run, "quiet_hours": run.quiet,
            "rules": [rule_to_dict(c) for c in run.rules],
            "send": [plan_to_dict(p) for p in run.send],
            "held": [plan_to_dict(p) for p in run.held],
            "queued": list(run.outbound_ids)}


def sent_to_dict(alert: SentAlert) -> dict[str, Any]:
    return {"id": alert.id, "student_id": alert.student_id, "rule": alert.rule.value,
            "item": alert.item, "recipient": alert.recipient,
            "recipient_kind": alert.kind.value, "template": alert.template,
            "outbound_id": alert.outbound_id, "created_at": alert.created_at.isoformat()}


def _line(plan: PlannedAlert) -> str:
    who = f"{mask_phone(plan.recipient)} ({_KIND[plan.kind.value]})"
    text = f"  {plan.item.rule.value} · estudiante {plan.item.student_id} · {who}: "
    return text + (plan.item.why if plan.held is None else plan.held.text)


def _rules_line(rules: tuple[RuleConfig, ...] | list[RuleConfig]) -> str:
    return " · ".join(
        f"{c.rule.value} {'✓' if c.enabled else '✗'}"
        + (f" ({c.template}/{c.language})" if c.enabled else "") for c in rules)


async def cmd_alerts_run(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        run = await eki.alerts.run(dry_run=args.dry_run)
    if args.json:
        print_json(run_to_dict(run))
        return EXIT_OK
    local = run.at.astimezone(ZoneInfo(settings.timezone))
    head = "simulación: no se envía nada" if run.dry_run else "evaluación"
    print(f"Alertas ({head}) — {local:%Y-%m-%d %H:%M} {settings.timezone}")
    print(f"Reglas: {_rules_line(run.rules)}")
    if not any(c.enabled for c in run.rules):
        print("Ninguna regla está activa: actívelas con `eki alerts on falla` o en "
              "/admin/alertas.")
    verb = "Saldrían" if run.dry_run else "En cola"
    print(f"{verb}: {len(run.send)} alerta(s).")
    for plan in run.send:
        print(_line(plan))
    if run.held:
        print(f"Retenidas: {len(run.held)}.")
        for plan in run.held:
            print(_line(plan))
    return EXIT_OK


async def cmd_alerts_list(settings: Settings, args: argparse.Namespace) -> int:
    since: datetime | None = args.since
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=ZoneInfo(settings.timezone))
    async with open_eki(settings) as eki:
        sent = await eki.alerts.sent(since=since, limit=args.limit)
    if args.json:
        print_json([sent_to_dict(a) for a in sent])
        return EXIT_OK
    if not sent:
        print("No ha salido ninguna alerta" + (" en ese periodo." if since else "."))
    zone = ZoneInfo(settings.timezone)
    for a in sent:
        print(f"{a.created_at.astimezone(zone):%Y-%m-%d %H:%M} · {a.rule.value} · estudiante "
              f"{a.student_id} · {mask_phone(a.recipient)} ({_KIND[a.kind.value]}) · "
              f"{a.template or '-'} · mensaje {a.outbound_id or '-'}")
    return EXIT_OK


async def cmd_alerts_rules(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        rules = await eki.alerts.rules()
    if args.json:
        print_json([rule_to_dict(c) for c in rules])
        return EXIT_OK
    for c in rules:
        state = "activa" if c.enabled else "apagada"
        source = "guardado" if c.stored else "EKI_ALERT_RULES"
        print(f"{c.rule.value} ({c.rule.label}): {state} · plantilla {c.template} "
              f"({c.language}) · según {source}")
    return EXIT_OK


async def _switch(settings: Settings, args: argparse.Namespace, enabled: bool) -> int:
    async with open_eki(settings) as eki:
        config = await eki.alerts.switch(cli_caller(), args.rule, enabled=enabled,
                                         template=getattr(args, "template", None))
    if args.json:
        print_json(rule_to_dict(config))
        return EXIT_OK
    state = "activada" if config.enabled else "apagada"
    print(f"Alerta «{config.rule.label}» {state} (plantilla {config.template}, "
          f"{config.language}).")
    return EXIT_OK


async def cmd_alerts_on(settings: Settings, args: argparse.Namespace) -> int:
    return await _switch(settings, args, True)


async def cmd_alerts_off(settings: Settings, args: argparse.Namespace) -> int:
    return await _switch(settings, args, False)


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    alerts = sub.add_parser(
        "alerts", help="academic alerts to families (falla, entrega, nota_baja)",
        description="Academic alerts: rules over attendance, assignments and grades, sent "
                    "as utility templates (docs/alerts.md).").add_subparsers(
        dest="alerts_command", required=True, metavar="ACTION")

    run = alerts.add_parser("run", help="evaluate the rules now; list what goes out and why")
    run.add_argument("--dry-run", action="store_true",
                     help="only list what would go out and what is held back")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=cmd_alerts_run)

    listing = alerts.add_parser("list", help="the alerts that went out, newest first")
    listing.add_argument("--since", type=_since, metavar="ISO",
                         help="only from this date or date-time on (EKI_TIMEZONE)")
    listing.add_argument("--limit", type=_limit, default=200)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_alerts_list)

    rules = alerts.add_parser("rules", help="how each rule is set")
    rules.add_argument("--json", action="store_true")
    rules.set_defaults(handler=cmd_alerts_rules)

    on = alerts.add_parser("on", help="switch a rule on (its template must exist)")
    on.add_argument("rule", type=_rule, metavar="RULE", help="falla, entrega or nota_baja")
    on.add_argument("--template", metavar="NAME[:LANG]",
                    help="the utility template (default: the rule's current one)")
    on.add_argument("--json", action="store_true")
    on.set_defaults(handler=cmd_alerts_on)

    off = alerts.add_parser("off", help="switch a rule off")
    off.add_argument("rule", type=_rule, metavar="RULE")
    off.add_argument("--json", action="store_true")
    off.set_defaults(handler=cmd_alerts_off)


__all__ = ["add_parser", "plan_to_dict", "rule_to_dict", "run_to_dict", "sent_to_dict"]
