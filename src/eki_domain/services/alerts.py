"""Academic alerts (issue 16): rules over the school's own data, evaluated after each
progress import and every 15 minutes by the worker, sent as utility templates.

- **Falla**: an imported unexcused absence (``ausente``) of today or the day before →
  "Hoy {estudiante} no asistió a {curso}".
- **Entrega próxima**: an assignment without a grade whose due day starts within
  ``due_hours`` (and has not ended).
- **Nota baja**: a grade imported below the scale's passing mark.

Recipients: the student's guardians whose link may receive alerts (by priority), or the
student when no guardian is linked. Each (student, rule, item, recipient) is recorded in
the ``alerts`` table, unique, in the same transaction that queues the outbox row, so an
alert goes out at most once even across crashes and concurrent evaluations. Nothing goes
out during quiet hours (it waits for the morning), at most ``per_day`` alerts per recipient
and local day, and never to someone who opted out (BAJA), asked to stop that rule, lacks
consent (pluggable), or is inactive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import attrs

from eki_domain.errors import InvalidInput
from eki_domain.model.alerts import (
    RULE_ORDER,
    AlertItem,
    AlertRule,
    HoldReason,
    PlannedAlert,
    RecipientKind,
    RuleConfig,
    RuleOverride,
    SentAlert,
    StudentAudience,
    parse_template_ref,
)
from eki_domain.model.events import AlertsQueued
from eki_domain.model.messages import OutboundMessage, Purpose
from eki_domain.model.permissions import Action, require
from eki_domain.model.phone import mask_phone
from eki_domain.model.progress import DEFAULT_SCALE, GradingScale
from eki_domain.model.schedule import QuietHours
from eki_domain.model.templates import MessageTemplate, TemplateCategory
from eki_domain.ports.alerts import AlertFacts, AlertLog, AlertOptOuts, AlertRules
from eki_domain.ports.clock import Clock
from eki_domain.ports.consent import ConsentCheck
from eki_domain.ports.conversations import OptOuts
from eki_domain.ports.imports import ImportRepository
from eki_domain.ports.messaging import Outbox
from eki_domain.ports.outbound import Templates
from eki_domain.ports.repositories import Transaction
from eki_domain.ports.staff import AuditLog
from eki_domain.services.formatting import format_decimal, spanish_date
from eki_domain.services.messagebus import MessageBus
from eki_domain.services.staff import Caller

log = logging.getLogger("eki.alerts")

#: The outbox ``intent`` and ``author`` of an alert.
ALERT_INTENT = "alert"
ALERT_AUTHOR = "eki:alertas"
RULE_SWITCHED = "alerts.rule_switched"
#: Alerts recorded and queued per transaction.
WRITE_BATCH = 100
#: Seconds between two evaluations by the worker (besides the one after each import).
EVALUATE_EVERY = 15 * 60


class AlertsUnitOfWork(Transaction, Protocol):
    @property
    def alert_facts(self) -> AlertFacts: ...

    @property
    def alerts(self) -> AlertLog: ...

    @property
    def alert_rules(self) -> AlertRules: ...

    @property
    def alert_opt_outs(self) -> AlertOptOuts: ...

    @property
    def opt_outs(self) -> OptOuts: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def templates(self) -> Templates: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def imports(self) -> ImportRepository: ...


def default_rules(enabled: Sequence[AlertRule] = (),
                  templates: Mapping[AlertRule, tuple[str, str]] | None = None
                  ) -> dict[AlertRule, RuleConfig]:
    """The settings' view of the rules (``EKI_ALERT_RULES``, ``EKI_ALERT_TEMPLATE_*``)."""
    chosen = templates or {}
    return {rule: RuleConfig(rule, rule in enabled,
                             *chosen.get(rule, (rule.default_template, "es")))
            for rule in AlertRule}


@attrs.frozen
class AlertPolicy:
    defaults: Mapping[AlertRule, RuleConfig] = attrs.field(factory=default_rules)
    quiet: QuietHours = attrs.field(
        factory=lambda: QuietHours.parse("20:00-07:00", ZoneInfo("America/Bogota")))
    per_day: int = 3
    due_hours: int = 24
    scale: GradingScale = DEFAULT_SCALE
    #: An absence older than this many days (before today) is not news any more.
    absence_days: int = 1
    #: The channel alerts go out on (the outbox row's ``channel``).
    channel: str = "meta"

    @property
    def zone(self) -> ZoneInfo:
        zone = self.quiet.zone
        return zone if isinstance(zone, ZoneInfo) else ZoneInfo("UTC")


@attrs.frozen
class AlertRun:
    """What one evaluation found: alerts that go out (or would, in a dry run) and those
    held back with their reason."""

    at: datetime
    dry_run: bool
    quiet: bool
    rules: tuple[RuleConfig, ...]
    send: tuple[PlannedAlert, ...]
    held: tuple[PlannedAlert, ...]
    outbound_ids: tuple[int, ...] = ()


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


class AlertService:
    def __init__(self, uow: Callable[[], AlertsUnitOfWork], clock: Clock,
                 policy: AlertPolicy | None = None, *, consent: ConsentCheck | None = None,
                 bus: MessageBus | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self.policy = policy or AlertPolicy()
        #: The ``no_consent`` exclusion (None: everyone counts as consenting).
        self.consent = consent
        self._bus = bus or MessageBus()

    # -- the rules --------------------------------------------------------------------------
    async def rules(self) -> list[RuleConfig]:
        async with self._uow() as uow:
            stored = await uow.alert_rules.stored()
        return [self.policy.defaults[rule].with_override(stored.get(rule))
                for rule in AlertRule]

    async def switch(self, caller: Caller, rule: AlertRule, *, enabled: bool,
                     template: str | None = None) -> RuleConfig:
        """Switch a rule on or off (``template``: ``name`` or ``name:language``); the stored
        state wins over the settings from now on. Audited."""
        require(caller.principal, Action.MANAGE_ALERTS)
        now = self._clock.now()
        async with self._uow() as uow:
            stored = await uow.alert_rules.stored()
            current = self.policy.defaults[rule].with_override(stored.get(rule))
            name, language = (parse_template_ref(template) if template and template.strip()
                              else (current.template, current.language))
            if enabled:
                found = await uow.templates.get(name, language)
                _check_template(found, name, language)
            since = current.enabled_since if current.enabled and enabled else (
                now if enabled else None)
            override = RuleOverride(rule, enabled=enabled, template=name, language=language,
                                    enabled_since=since, updated_at=now,
                                    updated_by=caller.principal.actor)
            await uow.alert_rules.save(override)
            await uow.audit.append(caller.entry(
                now, RULE_SWITCHED, target_type="alert_rule", target_id=rule.value,
                enabled=enabled, template=name, language=language))
            await uow.commit()
        log.info("alert rule %s switched %s by %s", rule.value, "on" if enabled else "off",
                 caller.principal.kind.value)
        return self.policy.defaults[rule].with_override(override)

    # -- what went out ----------------------------------------------------------------------
    async def sent(self, *, since: datetime | None = None, limit: int = 200
                   ) -> list[SentAlert]:
        async with self._uow() as uow:
            return await uow.alerts.list(since=since, limit=max(1, min(limit, 5000)))

    # -- evaluation -------------------------------------------------------------------------
    async def run(self, *, dry_run: bool = False) -> AlertRun:
        """Evaluate every rule that is on; queue what may go out now (unless ``dry_run``)."""
        now = self._clock.now()
        policy = self.policy
        quiet = policy.quiet.is_quiet(now)
        async with self._uow() as uow:
            stored = await uow.alert_rules.stored()
            configs = [policy.defaults[rule].with_override(stored.get(rule))
                       for rule in AlertRule]
            fresh = [c for c in configs if c.enabled and c.enabled_since is None]
            if fresh and not dry_run:
                # A rule on by settings alone: what was imported before now is not news.
                for config in fresh:
                    await uow.alert_rules.save(attrs.evolve(
                        stored.get(config.rule) or RuleOverride(config.rule),
                        enabled_since=now))
                await uow.commit()
            items: list[AlertItem] = []
            for config in configs:
                if config.enabled:
                    items += await self._items(uow, config, now)
            plans = await self._candidates(uow, items)
        # Outside the unit of work: a consent register may open one of its own.
        phones = sorted({p.recipient for p in plans})
        lacking = (await self.consent.lacking_consent(phones)
                   if self.consent is not None and phones else set())
        async with self._uow() as uow:
            plans = await self._decide(uow, configs, plans, now, quiet, lacking)
        send = tuple(p for p in plans if p.held is None)
        held = tuple(p for p in plans if p.held is not None)
        run = AlertRun(at=now, dry_run=dry_run, quiet=quiet, rules=tuple(configs),
                       send=send, held=held)
        if dry_run or not send:
            return run
        by_rule = {c.rule: c for c in configs}
        outbound_ids = await self._queue(send, by_rule, now)
        if outbound_ids:
            log.info("%d alert(s) queued; %d held back", len(outbound_ids), len(held))
            await self._bus.publish(AlertsQueued(outbound_ids=tuple(outbound_ids)))
        return attrs.evolve(run, outbound_ids=tuple(outbound_ids))

    async def _items(self, uow: AlertsUnitOfWork, config: RuleConfig, now: datetime
                     ) -> list[AlertItem]:
        policy = self.policy
        zone = policy.zone
        today = now.astimezone(zone).date()
        since = config.enabled_since or now
        facts = uow.alert_facts
        if config.rule is AlertRule.FALLA:
            absences = await facts.absences(
                since=since, first_day=today - timedelta(days=policy.absence_days))
            return [AlertItem(a.student_id, AlertRule.FALLA, f"curso:{a.course_id}:{a.day}",
                              {"curso": a.course, "fecha": _when(a.day, today)},
                              f"faltó sin excusa a {a.course} ({spanish_date(a.day)})")
                    for a in absences]
        if config.rule is AlertRule.NOTA_BAJA:
            scale = policy.scale
            grades = await facts.graded_since(since, below=scale.passing,
                                              scale_max=scale.maximum)
            out = []
            for g in grades:
                value = scale.round(scale.clamp(scale.rescale(g.score, g.max_score)))
                if scale.is_passing(value):
                    continue
                note = format_decimal(value, scale.decimals) if scale.decimals else str(
                    int(value))
                out.append(AlertItem(
                    g.student_id, AlertRule.NOTA_BAJA, f"actividad:{g.assessment_id}",
                    {"curso": g.course, "actividad": g.title, "nota": note},
                    f"sacó {note} en «{g.title}» de {g.course} (se aprueba con "
                    f"{format_decimal(scale.passing, scale.decimals)})"))
            return out
        horizon = now + timedelta(hours=policy.due_hours)
        due = await facts.due_between(today, horizon.astimezone(zone).date())
        return [AlertItem(d.student_id, AlertRule.ENTREGA, f"actividad:{d.assessment_id}",
                          {"curso": d.course, "actividad": d.title,
                           "fecha": _when(d.due_date, today)},
                          f"«{d.title}» de {d.course} se entrega {_when(d.due_date, today)} "
                          "y aún no tiene nota")
                for d in due if _day_start(d.due_date, zone) <= horizon]

    async def _candidates(self, uow: AlertsUnitOfWork, items: Sequence[AlertItem]
                          ) -> list[PlannedAlert]:
        """Each item for each recipient, minus what was already recorded."""
        if not items:
            return []
        student_ids = {item.student_id for item in items}
        audiences = await uow.alert_facts.audiences(student_ids)
        done: set[tuple[int, AlertRule, str, str]] = set()
        for rule in {item.rule for item in items}:
            done |= {(sid, rule, key, to) for sid, key, to
                     in await uow.alerts.recorded(student_ids, rule)}
        plans: list[PlannedAlert] = []
        for item in items:
            audience = audiences.get(item.student_id)
            if audience is None:
                continue
            item = attrs.evolve(item, values={**item.values,
                                              "estudiante": audience.first_name})
            for plan in _recipients(item, audience):
                if (item.student_id, item.rule, item.item, plan.recipient) not in done:
                    plans.append(plan)
        return plans

    async def _decide(self, uow: AlertsUnitOfWork, configs: Sequence[RuleConfig],
                      plans: Sequence[PlannedAlert], now: datetime, quiet: bool,
                      lacking: set[str]) -> list[PlannedAlert]:
        """Why each may not go out now (None: it goes)."""
        if not plans:
            return []
        policy = self.policy
        phones = sorted({p.recipient for p in plans})
        opted = await uow.opt_outs.opted_out_among(phones)
        refused = await uow.alert_opt_outs.rules_refused(phones)
        usable = {c.rule: await _usable_template(uow.templates, c) for c in configs
                  if c.enabled}
        day_start = _day_start(now.astimezone(policy.zone).date(), policy.zone)
        counts = dict(await uow.alerts.counts_since(phones, day_start))
        out: list[PlannedAlert] = []
        order = {rule: index for index, rule in enumerate(RULE_ORDER)}
        for plan in sorted(plans, key=lambda p: (order[p.item.rule], p.item.student_id,
                                                 p.item.item, p.recipient)):
            reason = plan.held
            if reason is None:
                if plan.recipient in opted:
                    reason = HoldReason.OPTED_OUT
                elif plan.item.rule in refused.get(plan.recipient, frozenset()):
                    reason = HoldReason.RULE_OPTED_OUT
                elif plan.recipient in lacking:
                    reason = HoldReason.NO_CONSENT
                elif not usable.get(plan.item.rule):
                    reason = HoldReason.TEMPLATE
                elif quiet:
                    reason = HoldReason.QUIET_HOURS
                elif counts.get(plan.recipient, 0) >= policy.per_day:
                    reason = HoldReason.DAILY_CAP
                else:
                    counts[plan.recipient] = counts.get(plan.recipient, 0) + 1
            out.append(attrs.evolve(plan, held=reason))
        return out

    async def _queue(self, send: Sequence[PlannedAlert], configs: Mapping[AlertRule, RuleConfig],
                     now: datetime) -> list[int]:
        """Record each alert and queue its outbox row in one transaction (per batch): a
        crash in between leaves neither; a concurrent evaluation records it only once."""
        outbound_ids: list[int] = []
        for start in range(0, len(send), WRITE_BATCH):
            batch = send[start : start + WRITE_BATCH]
            queued: list[int] = []
            async with self._uow() as uow:
                templates: dict[AlertRule, MessageTemplate | None] = {}
                for plan in batch:
                    rule = plan.item.rule
                    if rule not in templates:
                        templates[rule] = await _usable_template(uow.templates, configs[rule])
                    template = templates[rule]
                    if template is None:
                        continue
                    alert_id = await uow.alerts.claim(SentAlert(
                        student_id=plan.item.student_id, rule=rule, item=plan.item.item,
                        recipient=plan.recipient, kind=plan.kind, created_at=now,
                        template=template.name, guardian_id=plan.guardian_id))
                    if alert_id is None:
                        continue  # another evaluation recorded it meanwhile
                    outbound_id = await uow.outbox.enqueue(
                        alert_message(plan, template, now, self.policy.channel))
                    await uow.alerts.attach(alert_id, outbound_id)
                    queued.append(outbound_id)
                await uow.commit()
            outbound_ids += queued
            for plan in batch:
                log.debug("alert %s/%s for %s", plan.item.rule.value, plan.item.item,
                          mask_phone(plan.recipient))
        return outbound_ids

    async def latest_import(self) -> int | None:
        """The id of the newest progress import (any process): the worker evaluates again
        when it changes."""
        async with self._uow() as uow:
            recent = await uow.imports.recent(kind="progress", limit=1)
        return recent[0].id if recent else None

    # -- the people's own choices -----------------------------------------------------------
    async def preferences(self, phone: str) -> frozenset[AlertRule]:
        """The rules ``phone`` (E.164) asked not to receive."""
        async with self._uow() as uow:
            return (await uow.alert_opt_outs.rules_refused([phone])).get(phone, frozenset())


def alert_message(plan: PlannedAlert, template: MessageTemplate, now: datetime,
                  channel: str) -> OutboundMessage:
    """The outbox row of an alert: the rule's template with the item's parameters."""
    params = plan.item.params(template.parameter_count)
    return OutboundMessage(
        to=plan.recipient.lstrip("+"), body=template.render(params), created_at=now,
        channel=channel, student_id=plan.item.student_id, intent=ALERT_INTENT,
        purpose=Purpose.ALERT,
        author=ALERT_AUTHOR, template=template.name, template_language=template.language,
        template_params=template.check_params(params), content_sid=template.content_sid)


def _recipients(item: AlertItem, audience: StudentAudience) -> list[PlannedAlert]:
    """Guardians allowed to receive alerts (by priority), or the student when none is
    linked; the others come back held with their reason."""
    if not audience.active:
        return [PlannedAlert(item, audience.phone, RecipientKind.STUDENT,
                             held=HoldReason.INACTIVE)]
    if not audience.guardians:
        return [PlannedAlert(item, audience.phone, RecipientKind.STUDENT)]
    out = []
    for g in sorted(audience.guardians, key=lambda g: (g.priority, g.guardian_id)):
        held = (HoldReason.INACTIVE if not g.active
                else HoldReason.NOT_ALLOWED if not g.may_receive_alerts else None)
        out.append(PlannedAlert(item, g.phone, RecipientKind.GUARDIAN, g.guardian_id,
                                held=held))
    return out


async def _usable_template(templates: Templates, config: RuleConfig
                           ) -> MessageTemplate | None:
    """The rule's template when it can be sent: approved, with no more parameters than
    the rule fills."""
    found = await templates.get(config.template, config.language)
    if (found is None or not found.sendable
            or found.parameter_count > len(config.rule.parameter_names)):
        return None
    return found


def _check_template(found: MessageTemplate | None, name: str, language: str) -> None:
    if found is None:
        raise InvalidInput(
            f"No hay ninguna plantilla «{name}» ({language}). Defínala con `eki templates "
            "add` o sincronice con `eki templates sync` antes de activar la alerta.")
    if found.category is not TemplateCategory.UTILITY:
        raise InvalidInput(
            f"La plantilla «{name}» es de categoría {found.category.value}: las alertas "
            "deben usar una plantilla de utilidad (utility).")


def _when(day: date, today: date) -> str:
    if day == today:
        return "hoy"
    if day == today + timedelta(days=1):
        return "mañana"
    if day == today - timedelta(days=1):
        return "ayer"
    return f"el {spanish_date(day)}"


__all__ = ["ALERT_INTENT", "EVALUATE_EVERY", "AlertPolicy", "AlertRun", "AlertService",
           "AlertsUnitOfWork", "alert_message", "default_rules"]
