"""The composition root: build every adapter from settings, each one overridable.

    app = await bootstrap(Settings.from_env())          # SQL, real clock
    app = await bootstrap(settings, uow=store.uow)      # in-memory storage
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import cast

import attrs
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.cache import TTLReportCache
from eki_adapters.memory.heartbeats import InMemoryWorkerHeartbeats
from eki_adapters.passwords import Argon2PasswordHasher, TotpSecondFactor
from eki_adapters.prometheus import PrometheusTelemetry
from eki_adapters.spreadsheets import CalamineSpreadsheetReader
from eki_adapters.sql import SqlUnitOfWorkFactory, create_engine, is_at_head, upgrade
from eki_adapters.sql.heartbeats import SqlWorkerHeartbeats
from eki_adapters.system import SystemClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.messages import MAX_MESSAGE_CHARS
from eki_domain.ports import Clock, SpreadsheetReader, UnitOfWorkFactory
from eki_domain.ports.assistant import Assistant, StudentToolbox
from eki_domain.ports.channel import MessageChannel
from eki_domain.ports.heartbeats import WorkerHeartbeats
from eki_domain.ports.llm import LanguageModel
from eki_domain.ports.staff import StaffUnitOfWork
from eki_domain.ports.telemetry import NO_TELEMETRY, Telemetry
from eki_domain.services import RegistrationService, StudentImportService
from eki_domain.services.audit import AuditTrail
from eki_domain.services.conversation import ConversationService
from eki_domain.services.delivery import DeliveryService
from eki_domain.services.flood import FloodGuard
from eki_domain.services.ingest import IngestService
from eki_domain.services.operations import OperationsService
from eki_domain.services.progress import ProgressService
from eki_domain.services.progress_import import ProgressImportService
from eki_domain.services.responder import RuleBasedAssistant
from eki_domain.services.staff import StaffService
from eki_domain.services.tools import StudentTools
from eki_entrypoints.settings import Settings, SettingsError


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
    staff: StaffService
    audit: AuditTrail
    engine: AsyncEngine | None = None
    model: LanguageModel | None = None
    _owns_engine: bool = False

    async def aclose(self) -> None:
        for resource in (self.channel, self.model):
            closer = getattr(resource, "aclose", None)
            if closer is not None:
                await closer()
        if self.engine is not None and self._owns_engine:
            await self.engine.dispose()

    def tools_for(self, student_id: int) -> StudentToolbox:
        """The tools of one student (the only data the assistant may read)."""
        return _student_tools(student_id, uow=self.uow, progress=self.progress)


    async def migrations_at_head(self) -> bool:
        return True if self.engine is None else await is_at_head(self.engine)


async def bootstrap(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    uow: UnitOfWorkFactory | None = None,
    clock: Clock | None = None,
    reader: SpreadsheetReader | None = None,
    channel: MessageChannel | None = None,
    assistant: Assistant | None = None,
    language_model: LanguageModel | None = None,
    telemetry: Telemetry | None = None,
    heartbeats: WorkerHeartbeats | None = None,
    auto_upgrade: bool = False,
) -> Eki:
    """Build the application. ``auto_upgrade`` migrates the database first.

    The assistant: the one given; else the LLM (``language_model``, or OpenAI when
    ``OPENAI_API_KEY`` is set) with the rule-based responder as its fallback; else the
    rule-based responder alone. ``telemetry``: Prometheus metrics unless given."""
    owns_engine = False
    if uow is None:
        if engine is None:
            engine = create_engine(
                settings.database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_max_overflow,
                pool_timeout=settings.db_pool_timeout,
                pool_recycle=settings.db_pool_recycle,
            )
            owns_engine = True
        # Our own PostgreSQL pool: waiters for a connection are served in arrival order.
        fair = owns_engine and engine.dialect.name == "postgresql"
        uow = SqlUnitOfWorkFactory(
            engine, pool_timeout=settings.db_pool_timeout,
            max_connections=settings.db_pool_size + settings.db_max_overflow if fair else None)
    if engine is not None and auto_upgrade:
        try:
            await upgrade(engine)
        except BaseException:  # failed or interrupted: nobody else will close this engine
            if owns_engine:
                await engine.dispose()
            raise
    clock = clock or SystemClock()
    channel = channel or build_channel(settings)
    if telemetry is None:
        telemetry = PrometheusTelemetry(multiprocess_dir=settings.prometheus_multiproc_dir)
    if heartbeats is None:
        heartbeats = (SqlWorkerHeartbeats(engine) if engine is not None
                      else InMemoryWorkerHeartbeats())
    model: LanguageModel | None = None
    if assistant is None:
        assistant, model = build_assistant(settings, uow, clock, language_model, telemetry)
    cache = (TTLReportCache(ttl=settings.report_cache_ttl)
             if settings.report_cache_ttl > 0 else None)
    progress = ProgressService(uow, clock, scale=settings.grading_scale, cache=cache)
    tools = functools.partial(_student_tools, uow=uow, progress=progress)
    student_import = StudentImportService(uow, clock, default_region=settings.default_country)
    progress_import = ProgressImportService(
        uow, clock, default_region=settings.default_country, scale=settings.grading_scale,
        on_change=progress.invalidate)
    student_import.telemetry = progress_import.telemetry = telemetry
    flood = FloodGuard(settings.flood_limit) if settings.flood_limit else None
    # Both the SQL and the in-memory units of work carry the staff repositories.
    staff_uow = cast(Callable[[], StaffUnitOfWork], uow)
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
            uow, clock, assistant, tools, telemetry=telemetry, flood=flood,
            max_reply_chars=getattr(channel, "max_body_chars", MAX_MESSAGE_CHARS)),
        delivery=DeliveryService(uow, clock, channel, telemetry=telemetry),
        ingest=IngestService(uow, clock),
        telemetry=telemetry,
        operations=OperationsService(uow, clock, heartbeats),
        staff=StaffService(staff_uow, Argon2PasswordHasher(), clock, TotpSecondFactor()),
        audit=AuditTrail(staff_uow, clock),
        engine=engine,
        model=model,
        owns_engine=owns_engine,
    )


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
    settings: Settings, uow: UnitOfWorkFactory, clock: Clock,
    language_model: LanguageModel | None = None, telemetry: Telemetry | None = None,
) -> tuple[Assistant, LanguageModel | None]:
    """The assistant ladder: the model with tools, falling back to the rules."""
    rules = RuleBasedAssistant(clock=clock)
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
    ), model


def _student_tools(student_id: int, *, uow: UnitOfWorkFactory,
                   progress: ProgressService) -> StudentToolbox:
    """The one way a student's toolbox is built (conversation turns, the API, the demo)."""
    return StudentTools(student_id, uow, progress)
