"""The composition root: build every adapter from settings, each one overridable.

    app = await bootstrap(Settings.from_env())          # SQL, real clock
    app = await bootstrap(settings, uow=store.uow)      # in-memory storage
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, cast
from zoneinfo import ZoneInfo

import attrs
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.cache import TTLReportCache
from eki_adapters.loaders import (
    BatchedDeliveryWriter,
    BatchedRecordBooks,
    BatchedTurnContext,
    BatchedTurnEndWriter,
    BatchedUsageRecorder,
    BatchingUnitOfWorkFactory,
)
from eki_adapters.memory.heartbeats import InMemoryWorkerHeartbeats
from eki_adapters.passwords import Argon2PasswordHasher, TotpSecondFactor
from eki_adapters.prometheus import PrometheusTelemetry
from eki_adapters.spreadsheets import CalamineSpreadsheetReader
from eki_adapters.sql.engine import connections_in_use
from eki_adapters.sql.heartbeats import SqlWorkerHeartbeats
from eki_adapters.sql.migrate import is_at_head
from eki_adapters.sql.uow import load_repositories
from eki_adapters.system import ProcessWakeups, SystemClock
from eki_adapters.system.live import ProcessLiveFeed
from eki_adapters.system.wakeups import RemoteSource
from eki_adapters.understanding import default_classifier
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.events import GradesImported, MessageReceived
from eki_domain.ports import Clock, SpreadsheetReader, UnitOfWorkFactory
from eki_domain.ports.assistant import Assistant, StudentToolbox
from eki_domain.ports.channel import MessageChannel
from eki_domain.ports.heartbeats import WorkerHeartbeats
from eki_domain.ports.limits import WindowCounters
from eki_domain.ports.live import LiveFeed
from eki_domain.ports.llm import LanguageModel
from eki_domain.ports.outbound import TemplateCatalog
from eki_domain.ports.privacy import PrivacyUnitOfWork
from eki_domain.ports.progress import ReportCache
from eki_domain.ports.staff import StaffUnitOfWork
from eki_domain.ports.telemetry import NO_TELEMETRY, Telemetry
from eki_domain.ports.wakeups import InboxWakeups
from eki_domain.services import RegistrationService, StudentImportService
from eki_domain.services.alerts import AlertService, AlertsUnitOfWork
from eki_domain.services.audit import AuditTrail
from eki_domain.services.broadcasts import BroadcastService, BroadcastUnitOfWork
from eki_domain.services.codes import CodeDesk, CodeUnitOfWork
from eki_domain.services.consent import ConsentDesk, ConsentUnitOfWork
from eki_domain.services.conversation import ConversationService
from eki_domain.services.delivery import DeliveryService
from eki_domain.services.flood import FloodGuard
from eki_domain.services.ingest import IngestService
from eki_domain.services.live import LiveBridge, LiveUnitOfWork
from eki_domain.services.messagebus import MessageBus
from eki_domain.services.operations import OperationsService, OperationsSnapshot
from eki_domain.services.privacy import PrivacyDesk
from eki_domain.services.progress import ProgressService
from eki_domain.services.progress_import import ProgressImportService
from eki_domain.services.responder import RuleBasedAssistant
from eki_domain.services.staff import StaffService
from eki_domain.services.staff_inbox import InboxUnitOfWork, StaffInbox
from eki_domain.services.staff_messages import StaffMessages, StaffMessagesUnitOfWork
from eki_domain.services.subject import FamilyDesk, SubjectUnitOfWork
from eki_domain.services.templates import TemplateService, TemplatesUnitOfWork
from eki_domain.services.tools import StudentTools
from eki_domain.services.windows import InProcessCounters
from eki_entrypoints.alerting import AlertTrigger, build_alerts
from eki_entrypoints.secret_key import secret_key_loader
from eki_entrypoints.settings import Settings, SettingsError
from eki_entrypoints.storage import database_engine, unit_of_work, upgrade_schema

if TYPE_CHECKING:
    from eki_adapters.redis import RedisLink

log = logging.getLogger("eki.bootstrap")


class MetricsExposition(Protocol):
    """A telemetry that can also render what it counted (``GET /metrics``)."""

    def render(self, snapshot: OperationsSnapshot | None) -> bytes: ...


@attrs.define
class Eki:
    """Everything wired together. Close it (``await eki.aclose()``) when done."""

    settings: Settings
    uow: UnitOfWorkFactory
    clock: Clock
    registration: RegistrationService
    student_import: StudentImportService
    progress: ProgressService
    progress_import: ProgressImportService
    reader: SpreadsheetReader
    channel: MessageChannel
    assistant: Assistant
    conversation: ConversationService
    delivery: DeliveryService
    ingest: IngestService
    telemetry: Telemetry
    operations: OperationsService
    bus: MessageBus
    wakeups: InboxWakeups
    staff: StaffService
    audit: AuditTrail
    templates: TemplateService
    staff_messages: StaffMessages
    #: Consent before data (docs/privacy.md): ``lacking_consent(phones)`` for outreach.
    consent: ConsentDesk
    #: Data requests and retention (issue 18); export, erasure and the purge need SQL.
    privacy: PrivacyDesk
    inbox: StaffInbox
    #: Live events (issue #15): the bridge from domain events, and its feed (``live.feed``).
    live: LiveBridge
    broadcasts: BroadcastService
    #: Academic alerts (issue 16) and what makes the worker evaluate them at once.
    alerts: AlertService
    alert_trigger: AlertTrigger
    engine: AsyncEngine | None = None
    model: LanguageModel | None = None
    #: What ``GET /metrics`` renders (None: the telemetry exposes nothing).
    metrics: MetricsExposition | None = None
    #: The fixed-window counters of the rate limits (in Redis when EKI_REDIS_URL is set).
    counters: WindowCounters = attrs.Factory(InProcessCounters)
    #: What :meth:`aclose` closes, last opened first: the channel, the model, the engine
    #: bootstrap created.
    _resources: contextlib.AsyncExitStack = attrs.Factory(contextlib.AsyncExitStack)

    async def aclose(self) -> None:
        await self._resources.aclose()

    def tools_for(self, student_id: int) -> StudentToolbox:
        """The tools of one student (the only data the assistant may read)."""
        return _student_tools(student_id, uow=self.uow, progress=self.progress)


    async def migrations_at_head(self) -> bool:
        return True if self.engine is None else await is_at_head(self.engine)


async def bootstrap(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    uow: BatchingUnitOfWorkFactory | None = None,
    clock: Clock | None = None,
    reader: SpreadsheetReader | None = None,
    channel: MessageChannel | None = None,
    assistant: Assistant | None = None,
    language_model: LanguageModel | None = None,
    telemetry: Telemetry | None = None,
    heartbeats: WorkerHeartbeats | None = None,
    auto_upgrade: bool = False,
    warm_model: bool = True,
) -> Eki:
    """Build the application. ``auto_upgrade`` migrates the database first.
    ``warm_model``: load (or, when the shipped file is stale, train) the intent classifier
    at once in a background thread (what a process that answers messages wants); False:
    at the first message that needs it, so a process that answers none (an import,
    ``eki serve --no-worker``) spends nothing on it.

    The assistant: the one given; else the LLM (``language_model``, or OpenAI when
    ``OPENAI_API_KEY`` is set) with the rule-based responder as its fallback; else the
    rule-based responder alone. ``telemetry``: Prometheus metrics unless given (a
    ``PrometheusTelemetry`` given is also what ``GET /metrics`` renders)."""
    owns_engine = False
    if uow is None:
        if engine is None:
            engine = database_engine(settings)
            owns_engine = True
        uow = unit_of_work(settings, engine, owns_engine=owns_engine)
        load_repositories()  # a server pays for them at start, not in its first requests
    if engine is not None and auto_upgrade:
        await upgrade_schema(engine, owns_engine=owns_engine)
    clock = clock or SystemClock()
    channel = channel or build_channel(settings)
    metrics: MetricsExposition | None = None
    if telemetry is None or isinstance(telemetry, PrometheusTelemetry):
        telemetry = metrics = telemetry or PrometheusTelemetry(
            multiprocess_dir=settings.prometheus_multiproc_dir)
    if heartbeats is None:
        heartbeats = (SqlWorkerHeartbeats(engine) if engine is not None
                      else InMemoryWorkerHeartbeats())
    model: LanguageModel | None = None
    # One loader of the secret key (its process fallback is random): the assistant's
    # safety key and the privacy desk's pseudonyms read the same key.
    secret_key = secret_key_loader(settings, engine)
    business_hours = settings.business_schedule()
    if assistant is None:
        assistant, model = build_assistant(settings, uow, clock, language_model, telemetry,
                                           safety_key=secret_key,
                                           warm_model=warm_model)
    counters, cache, redis = shared_state(settings)
    progress = ProgressService(uow, clock, scale=settings.grading_scale, cache=cache,
                               books=BatchedRecordBooks(uow))
    tools = functools.partial(_student_tools, uow=uow, progress=progress)
    bus = MessageBus()
    wakeups = ProcessWakeups(remote=_remote_wakeups(engine))
    live = LiveBridge(cast(Callable[[], LiveUnitOfWork], uow), clock, build_live_feed(engine))
    register_handlers(bus, progress=progress, wakeups=wakeups, live=live)
    student_import = StudentImportService(uow, clock, default_region=settings.default_country,
                                          telemetry=telemetry, bus=bus)
    progress_import = ProgressImportService(
        uow, clock, default_region=settings.default_country, scale=settings.grading_scale,
        telemetry=telemetry, bus=bus)
    flood = (FloodGuard(settings.flood_limit, counter=counters("flood", 60.0))
             if settings.flood_limit else None)
    consent = ConsentDesk(cast(Callable[[], ConsentUnitOfWork], uow), clock,
                          settings.consent_policy())
    delivery = DeliveryService(uow, clock, channel, telemetry=telemetry, bus=bus,
                               broadcast_rate=settings.broadcast_rate,
                               daily_limit=settings.whatsapp_daily_limit,
                               quiet=settings.quiet_schedule())
    # Both the SQL and the in-memory units of work carry the staff repositories.
    staff_uow = cast(Callable[[], StaffUnitOfWork], uow)
    alert_trigger = AlertTrigger()
    alerts = build_alerts(settings, cast(Callable[[], AlertsUnitOfWork], uow), clock,
                          channel=channel.name, bus=bus, trigger=alert_trigger,
                          consent=consent, on_queued=delivery.wake_bulk)
    return Eki(
        settings=settings,
        uow=uow,
        clock=clock,
        registration=RegistrationService(uow, clock, default_region=settings.default_country),
        student_import=student_import,
        progress=progress,
        progress_import=progress_import,
        reader=reader or CalamineSpreadsheetReader(),
        channel=channel,
        assistant=assistant,
        conversation=ConversationService(
            uow, clock, assistant, tools, telemetry=telemetry, flood=flood, bus=bus,
            max_reply_chars=channel.max_body_chars,
            families=FamilyDesk(cast(Callable[[], SubjectUnitOfWork], uow), clock,
                                choice_hours=settings.child_choice_hours),
            codes=CodeDesk(cast(Callable[[], CodeUnitOfWork], uow), clock,
                           days=settings.code_days, approval=settings.code_approval),
            business_hours=business_hours, consent=consent,
            turn_ends=BatchedTurnEndWriter(uow)),
        delivery=delivery,
        ingest=IngestService(uow, clock, bus=bus, deliveries=BatchedDeliveryWriter(uow)),
        telemetry=telemetry,
        operations=OperationsService(uow, clock, heartbeats),
        bus=bus,
        wakeups=wakeups,
        staff=StaffService(staff_uow, Argon2PasswordHasher(), clock, TotpSecondFactor()),
        audit=AuditTrail(staff_uow, clock),
        # Both units of work also carry the audit log these two append to.
        templates=TemplateService(cast(Callable[[], TemplatesUnitOfWork], uow), clock,
                                  build_template_catalog(settings)),
        staff_messages=StaffMessages(
            cast(Callable[[], StaffMessagesUnitOfWork], uow), clock, channel=channel.name, bus=bus,
            idle=timedelta(hours=settings.handoff_idle_hours)),
        consent=consent,
        privacy=PrivacyDesk(cast(Callable[[], PrivacyUnitOfWork], uow), clock,
                            secret_key,
                            zone=ZoneInfo(settings.timezone), retention=settings.retention()),
        inbox=StaffInbox(cast(Callable[[], InboxUnitOfWork], uow), clock,
                         business_hours=business_hours, bus=bus,
                         sla=timedelta(minutes=settings.handoff_sla_minutes)),
        live=live,
        broadcasts=BroadcastService(
            cast(Callable[[], BroadcastUnitOfWork], uow), clock, channel=channel.name,
            daily_limit=settings.whatsapp_daily_limit, on_queued=delivery.wake_bulk,
            consent=consent),
        alerts=alerts,
        alert_trigger=alert_trigger,
        engine=engine,
        model=model,
        metrics=metrics,
        counters=counters,
        resources=_closing(engine if owns_engine else None, model, channel, redis, live),
    )


def _closing(engine: AsyncEngine | None, model: LanguageModel | None,
               channel: MessageChannel, redis: RedisLink | None = None,
               live: LiveBridge | None = None) -> contextlib.AsyncExitStack:
    """Closed by ``Eki.aclose`` in reverse order: the channel, the model, Redis, the live
    feed (its pending events published first), the engine."""
    stack = contextlib.AsyncExitStack()
    if engine is not None:
        stack.push_async_callback(_dispose, engine)
    if live is not None:
        stack.push_async_callback(live.feed.aclose)
        stack.push_async_callback(live.flush)
    if redis is not None:
        stack.push_async_callback(redis.aclose)
    if model is not None:
        stack.push_async_callback(model.aclose)
    stack.push_async_callback(channel.aclose)
    return stack


async def _dispose(engine: AsyncEngine) -> None:
    """Close the engine's pooled connections. One still in use belongs to a task that
    outlived the application's close (it is not closed here: it is returned, or dropped by
    the garbage collector, when that task ends), so say so."""
    if in_use := connections_in_use(engine):
        log.warning("closing EKI with %d database connection(s) still in use: a task of "
                    "this process is still running", in_use)
    await engine.dispose()


def shared_state(settings: Settings
                 ) -> tuple[WindowCounters, ReportCache | None, RedisLink | None]:
    """The rate-limit counters and the report cache (None: EKI_REPORT_CACHE_TTL=0): in
    Redis, shared by every process, when EKI_REDIS_URL is set; else this process's own."""
    ttl = settings.report_cache_ttl
    if settings.redis_url is None:
        return InProcessCounters(), (TTLReportCache(ttl=ttl) if ttl > 0 else None), None
    from eki_adapters.redis import RedisCounters, RedisLink, RedisReportCache, connect

    link = RedisLink(connect(settings.redis_url.get()), prefix=settings.redis_prefix)
    return (RedisCounters(link), (RedisReportCache(link, ttl=ttl) if ttl > 0 else None),
            link)


def register_handlers(bus: MessageBus, *, progress: ProgressService,
                      wakeups: InboxWakeups, live: LiveBridge | None = None) -> None:
    """Who reacts to which domain event (:mod:`eki_domain.model.events`), in one place.

    Handlers run after the publishing transaction committed, in order; a failing handler
    is logged and never fails the request that published. To react to an event, subscribe
    here: ``bus.subscribe(HandoffOpened, notify_staff)``."""
    # New grades, attendance or enrolments: those students' cached reports are stale.
    bus.subscribe(GradesImported, lambda event: progress.invalidate(event.student_ids))
    # New inbox messages: this process's worker looks at the inbox now, not at its next poll.
    bus.subscribe(MessageReceived, lambda event: wakeups.notify(event.new_messages))
    # Messages, delivery states and hand-offs: pushed to the staff screens and integrators
    # watching (GET /admin/events, /api/events), across processes on PostgreSQL.
    if live is not None:
        live.register(bus)


def build_live_feed(engine: AsyncEngine | None) -> LiveFeed:
    """PostgreSQL: every process's events reach every process's watchers (NOTIFY
    eki_events); SQLite and memory: this process's own."""
    if engine is None or engine.dialect.name != "postgresql":
        return ProcessLiveFeed()
    from eki_adapters.sql.live import PostgresLiveFeed

    return PostgresLiveFeed(engine)


def _remote_wakeups(engine: AsyncEngine | None) -> RemoteSource | None:
    """Other processes' webhooks wake this one at once (PostgreSQL NOTIFY eki_inbox); on
    SQLite and in memory the worker's poll is the only other source."""
    if engine is None or engine.dialect.name != "postgresql":
        return None
    from eki_adapters.sql.wakeups import listen_for_inbox

    return functools.partial(listen_for_inbox,
                             engine.url.render_as_string(hide_password=False))


def build_channel(settings: Settings) -> MessageChannel:
    """The channel ``EKI_CHANNEL`` names.

    Twilio needs its credentials and ``EKI_PUBLIC_URL`` (its status callbacks point
    there). Meta's Cloud API is used when its credentials are set; otherwise, unless
    ``EKI_CHANNEL`` was set explicitly (production mode), the console channel logs what it
    would send so `eki serve` runs with no keys."""
    if settings.channel == "twilio":
        return _twilio_channel(settings)
    if settings.production:
        settings.require_channel_settings()
    token = settings.whatsapp_access_token
    if token is not None and settings.whatsapp_phone_number_id:
        from eki_adapters.whatsapp.meta_channel import MetaCloudChannel

        return MetaCloudChannel(settings.whatsapp_api_url, settings.whatsapp_phone_number_id,
                                token.get())
    return ConsoleChannel(name="meta")


def build_template_catalog(settings: Settings) -> TemplateCatalog | None:
    """Where ``eki templates sync`` reads the templates: Twilio's Content API with
    ``EKI_CHANNEL=twilio``, else Meta's WABA when its id and token are set; None: no
    provider to sync with."""
    if settings.channel == "twilio":
        sid, token = settings.twilio_account_sid, settings.twilio_auth_token
        if not (sid and token):
            return None
        from eki_adapters.twilio.content import TwilioContentCatalog

        return TwilioContentCatalog(sid, token.get(), api_url=settings.twilio_content_api_url)
    waba, token = settings.whatsapp_business_account_id, settings.whatsapp_access_token
    if not (waba and token):
        return None
    from eki_adapters.whatsapp.meta_templates import MetaTemplateCatalog

    return MetaTemplateCatalog(settings.whatsapp_api_url, waba, token.get())


def _twilio_channel(settings: Settings) -> MessageChannel:
    settings.require_channel_settings()
    sid, token = settings.twilio_account_sid, settings.twilio_auth_token
    sender, public_url = settings.twilio_from, settings.public_url
    if not (sid and token and sender and public_url):  # pragma: no cover - checked above
        raise SettingsError("EKI_CHANNEL=twilio is missing its settings")
    from eki_adapters.twilio.channel import TwilioChannel

    return TwilioChannel(sid, token.get(), sender, api_url=settings.twilio_api_url,
                         status_callback=f"{public_url}/webhooks/twilio/status")


def build_assistant(
    settings: Settings, uow: BatchingUnitOfWorkFactory, clock: Clock,
    language_model: LanguageModel | None = None, telemetry: Telemetry | None = None,
    safety_key: Callable[[], Awaitable[bytes]] | None = None, *, warm_model: bool = True,
) -> tuple[Assistant, LanguageModel | None]:
    """The assistant ladder: the model with tools, falling back to the rules."""
    rules = RuleBasedAssistant(clock=clock, classifier=default_classifier(warm=warm_model))
    model = language_model
    if model is None and settings.openai_api_key is not None:
        from eki_adapters.openai import OpenAIChatModel  # imported only when configured

        model = OpenAIChatModel(api_key=settings.openai_api_key.get(),
                                model=settings.openai_model, base_url=settings.openai_base_url,
                                timeout=settings.openai_timeout)
    if model is None:
        return rules, None
    from eki_domain.services.llm_assistant import LLMAssistant

    return LLMAssistant(
        model, uow, clock, fallback=rules, prices=settings.llm_prices,
        history_turns=settings.llm_history_turns,
        student_daily_tokens=settings.llm_student_daily_tokens or None,
        daily_spend_usd=settings.llm_daily_spend_usd,
        telemetry=telemetry or NO_TELEMETRY,
        # Turns that start together (one claim) read their budgets and histories together;
        # turns that end together (a class asking at once) share the ledger's transaction.
        context=BatchedTurnContext(uow), usage=BatchedUsageRecorder(uow),
        safety_key=safety_key,
    ), model


def _student_tools(student_id: int, *, uow: UnitOfWorkFactory,
                   progress: ProgressService) -> StudentToolbox:
    """The one way a student's toolbox is built (conversation turns, the API, the demo)."""
    return StudentTools(student_id, uow, progress)
