"""Settings: the one place that reads the environment.

Every setting is declared ONCE, as a field of :class:`Settings` made by :func:`setting`:
its environment variable, type (the annotation), default, parser (validation), documentation,
and whether it is a secret. ``Settings.from_env()`` reads them all and fails with one clear
line (:class:`SettingsError`) naming the bad variable; secrets never appear in ``repr``.
``.env.example`` and the README's configuration table are generated from the same
declarations (:mod:`eki_entrypoints.settings_docs`, ``python3 scripts/gen_settings_docs``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from eki_adapters.sql.engine import to_async_url
from eki_domain.errors import InvalidInput
from eki_domain.model.alerts import AlertRule, parse_template_ref
from eki_domain.model.consent import ConsentPolicy, check_policy_version
from eki_domain.model.pricing import DEFAULT_PRICES, PriceTable
from eki_domain.model.privacy import RetentionPolicy
from eki_domain.model.progress import DEFAULT_SCALE, GradingScale
from eki_domain.model.schedule import BusinessHours, QuietHours
from eki_entrypoints.envvars import (
    CHANNELS,
    ENV_KEY,
    LOG_FORMATS,
    LOG_LEVELS,
    SECTIONS,
    EnvVar,
    Secret,
    SettingsError,
    megabytes,
    parse_account_sid,
    parse_allowed_hosts,
    parse_channel,
    parse_country,
    parse_database_url,
    parse_dollars,
    parse_event_loop,
    parse_flag,
    parse_grading_scale,
    parse_http_url,
    parse_log_format,
    parse_log_level,
    parse_multiproc_dir,
    parse_openai_base_url,
    parse_prices,
    parse_public_url,
    parse_redis_prefix,
    parse_redis_url,
    parse_strong_secret,
    parse_trusted_proxies,
    parse_whatsapp_sender,
    seconds,
    setting,
    whole,
)


def _parse_roles(name: str, raw: str) -> tuple[str, ...]:
    """A comma-separated list of staff roles (``admin,coordinator``)."""
    known = ("admin", "coordinator", "teacher", "viewer")
    roles = tuple(dict.fromkeys(p.strip().lower() for p in raw.split(",") if p.strip()))
    for role in roles:
        if role not in known:
            raise SettingsError(f"{name}: {role!r} is not a role: write some of "
                                f"{', '.join(known)}, comma separated")
    return roles


def _parse_school_name(name: str, raw: str) -> str:
    text = " ".join(raw.split())
    if not text or len(text) > 100 or ":" in text:
        raise SettingsError(f"{name}: write the school's name (1–100 characters, no ':')")
    return text


__all__ = ["CHANNELS", "LOG_FORMATS", "LOG_LEVELS", "SECTIONS", "EnvVar", "Secret", "Settings",
           "SettingsError", "env_vars"]


def _parse_policy_version(name: str, raw: str) -> str:
    try:
        return check_policy_version(raw)
    except InvalidInput:
        raise SettingsError(f"{name}={raw[:40]!r}: write a version of 1–40 letters, digits, "
                            "'.', '-' or '_' (e.g. 1 or 2026-01)") from None


def parse_timezone(name: str, raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{name}={raw!r} is not an IANA time zone (e.g. America/Bogota, "
                            "America/Mexico_City)") from None
    return raw.strip()


def parse_business_hours(name: str, raw: str) -> str:
    try:
        BusinessHours.parse(raw, UTC)
    except InvalidInput as exc:
        raise SettingsError(f"{name}={raw!r}: {exc.message}") from None
    return raw.strip()

def parse_alert_rules(name: str, raw: str) -> tuple[AlertRule, ...]:
    """``falla,entrega,nota_baja`` (any of them)."""
    out: list[AlertRule] = []
    for part in (p for p in raw.split(",") if p.strip()):
        try:
            out.append(AlertRule.parse(part))
        except ValueError:
            raise SettingsError(f"{name}: {part.strip()[:30]!r} is not an alert rule: write "
                                "some of falla, entrega, nota_baja, comma separated") from None
    return tuple(dict.fromkeys(out))


def parse_template_setting(name: str, raw: str) -> str:
    try:
        found, language = parse_template_ref(raw)
    except InvalidInput:
        raise SettingsError(f"{name}={raw[:60]!r}: write a template name, optionally with its "
                            "language (alerta_falla or alerta_falla:es_CO)") from None
    return f"{found}:{language}"


def parse_quiet_hours(name: str, raw: str) -> str:
    text = "" if raw.strip().lower() in ("", "off", "no", "none") else raw.strip()
    try:
        QuietHours.parse(text, UTC)
    except InvalidInput as exc:
        raise SettingsError(f"{name}={raw!r}: {exc.message}") from None
    return text


@attrs.frozen
class Settings:
    """Every setting of EKI. Add one with a single :func:`setting` field below (the
    generated ``.env.example`` and README table follow; docs/development.md)."""

    database_url: str = setting(
        "EKI_DATABASE_URL", "sqlite:///./eki.db", section="database", parse=parse_database_url,
        doc="Default: an embedded SQLite file in the working directory, migrated on first "
            "run. PostgreSQL: postgresql://user:password@host:5432/eki (run `eki db upgrade` "
            "after each release).")
    default_country: str = setting(
        "EKI_DEFAULT_COUNTRY", "CO", section="phones", parse=parse_country,
        doc="Region used to read phone numbers written without a country code (ISO 3166: "
            "CO, MX, AR, BR…).")
    admin_token: Secret | None = setting(
        "EKI_ADMIN_TOKEN", None, section="admin", secret=True, parse=parse_strong_secret,
        readme_default="unset: only personal tokens and staff accounts",
        doc="The shared break-glass token (32+ characters; shorter ones stop EKI at "
            "start-up): full access to /api as the principal system, and sign-in to /admin "
            "only while no active admin account exists (to set up a new install). Unset = "
            "/api takes personal tokens only and /admin staff accounts only. Generate one "
            "with: python3 -c \"import secrets; print(secrets.token_urlsafe(32))\"")
    secret_key: Secret | None = setting(
        "EKI_SECRET_KEY", None, section="admin", secret=True, parse=parse_strong_secret,
        readme_default="unset: a random key kept in the database",
        doc="Key that signs the admin sign-in and CSRF cookies and keys the model's "
            "safety_identifier (32+ characters). Unset = a random key generated once and "
            "kept in the database (table eki_secrets); it is never derived from a token.")
    admin_session_hours: int = setting(
        "EKI_ADMIN_SESSION_HOURS", 12, section="admin", parse=whole(1, 720),
        doc="Hours an admin sign-in lasts (1–720).")
    require_2fa_for: tuple[str, ...] = setting(
        "EKI_REQUIRE_2FA_FOR", (), section="admin", parse=_parse_roles, shown="",
        readme_default="none", example="admin",
        doc="Roles that must use a second factor (TOTP), comma separated (admin, coordinator, "
            "teacher, viewer). Such a member without it is sent to /admin/cuenta to turn it "
            "on before anything else.")
    school_name: str = setting(
        "EKI_SCHOOL_NAME", "EKI", section="admin", parse=_parse_school_name,
        doc="The school's name: the issuer shown by authenticator apps (TOTP) and the data "
            "controller named in the consent notice (docs/privacy.md; while it is EKI the "
            "notice says \"El colegio\").")
    timezone: str = setting(
        "EKI_TIMEZONE", "America/Bogota", section="admin", parse=parse_timezone,
        doc="The school's time zone (IANA name): business hours are read in it and every "
            "time in the admin site is shown in it.")
    business_hours: str = setting(
        "EKI_BUSINESS_HOURS", "lun-vie 07:00-17:00", section="admin",
        parse=parse_business_hours,
        doc="When someone at the school answers, e.g. `lun-vie 07:00-17:00, sab "
            "08:00-12:00` (Colombian holidays are closed). A hand-off asked for outside "
            "them is told when someone will answer.")
    handoff_idle_hours: int = setting(
        "EKI_HANDOFF_IDLE_HOURS", 24, section="admin", parse=whole(1, 720),
        doc="Hours without staff activity after which a hand-off goes back to the bot "
            "(1–720).")
    handoff_sla_minutes: int = setting(
        "EKI_HANDOFF_SLA_MINUTES", 120, section="admin", parse=whole(1, 10_080),
        doc="Business minutes a hand-off may wait for its first answer; the dashboard and "
            "the inbox count those waiting longer (1–10080).")
    events_max_streams: int = setting(
        "EKI_EVENTS_MAX_STREAMS", 200, section="admin", parse=whole(1, 100_000),
        doc="Most live-event streams (GET /api/events and /admin/events, Server-Sent "
            "Events) one web process serves at once; one more gets 503 TOO_MANY_STREAMS.")
    events_keepalive_seconds: int = setting(
        "EKI_EVENTS_KEEPALIVE_SECONDS", 15, section="admin", parse=whole(1, 300),
        doc="Seconds between keep-alive comments on a quiet live-event stream (proxies "
            "close idle connections).")
    events_stream_minutes: int = setting(
        "EKI_EVENTS_STREAM_MINUTES", 30, section="admin", parse=whole(1, 1440),
        doc="Minutes after which the server ends a live-event stream; the client "
            "reconnects at once and is authenticated again (a revoked token or ended "
            "session stops receiving).")
    events_queue: int = setting(
        "EKI_EVENTS_QUEUE", 256, section="admin", parse=whole(8, 100_000),
        doc="Live events that may wait for one slow stream; past that the stream is ended "
            "(the client reconnects and reads the current state) instead of memory "
            "growing.")
    whatsapp_app_secret: Secret | None = setting(
        "EKI_WHATSAPP_APP_SECRET", None, section="meta", secret=True,
        doc="App secret: verifies X-Hub-Signature-256 on every webhook POST (unset = the "
            "webhook refuses posts).")
    whatsapp_verify_token: Secret | None = setting(
        "EKI_WHATSAPP_VERIFY_TOKEN", None, section="meta", secret=True,
        doc="The token you type in Meta's webhook settings; GET /webhooks/whatsapp echoes "
            "the challenge.")
    whatsapp_access_token: Secret | None = setting(
        "EKI_WHATSAPP_ACCESS_TOKEN", None, section="meta", secret=True,
        doc="System-user access token. Unset = replies are only logged.")
    whatsapp_phone_number_id: str | None = setting(
        "EKI_WHATSAPP_PHONE_NUMBER_ID", None, section="meta",
        doc="The id of the sending phone number. Unset = replies are only logged.")
    whatsapp_api_url: str = setting(
        "EKI_WHATSAPP_API_URL", "https://graph.facebook.com/v25.0", section="meta",
        parse=parse_http_url, doc="The Graph API base URL (a fake one in tests).")
    whatsapp_business_account_id: str | None = setting(
        "EKI_WHATSAPP_BUSINESS_ACCOUNT_ID", None, section="meta",
        doc="The WhatsApp Business Account (WABA) id: `eki templates sync` reads its "
            "message templates. Unset = templates are only defined locally.")
    #: The WhatsApp provider: "meta" (Cloud API) or "twilio".
    channel: str = setting(
        "EKI_CHANNEL", "meta", section="channel", parse=parse_channel, shown="",
        readme_default="`meta` (or `twilio`)",
        doc="The WhatsApp provider: meta (Cloud API) or twilio. Leave unset for a local run: "
            "Meta is used, and without Meta's keys replies are only logged. Setting it is "
            "production mode: EKI refuses to start (one line naming what is missing) unless "
            "that provider's settings are complete.")
    broadcast_rate: int = setting(
        "EKI_BROADCAST_RATE", 20, section="channel", parse=whole(1, 1000),
        doc="Broadcast and alert messages sent per second, all workers together (1–1000; "
            "Meta's default throughput is 80/s per number). Conversation replies are "
            "always sent first and are never paced.")
    whatsapp_daily_limit: int = setting(
        "EKI_WHATSAPP_DAILY_LIMIT", 2000, section="channel", parse=whole(1, 10_000_000),
        doc="Meta's messaging limit: unique people who may receive broadcasts and alerts "
            "in any rolling 24 hours (2000 after business verification). What does not "
            "fit waits for the window to free up.")
    #: Production mode: EKI_CHANNEL was set explicitly, so the chosen channel must have all
    #: its credentials (no console stand-in). Unset EKI_CHANNEL = Meta, or the console
    #: channel when Meta's keys are missing (a local run).
    production: bool = False
    twilio_account_sid: str | None = setting(
        "EKI_TWILIO_ACCOUNT_SID", None, section="twilio", parse=parse_account_sid,
        doc="Account SID from the Twilio console (Account Info): AC and 32 hex characters.")
    twilio_auth_token: Secret | None = setting(
        "EKI_TWILIO_AUTH_TOKEN", None, section="twilio", secret=True,
        doc="Auth Token from the Twilio console; it also signs the webhooks.")
    twilio_from: str | None = setting(
        "EKI_TWILIO_FROM", None, section="twilio", parse=parse_whatsapp_sender,
        doc="The WhatsApp sender: whatsapp:+14155238886 is Twilio's sandbox.")
    twilio_api_url: str = setting(
        "EKI_TWILIO_API_URL", "https://api.twilio.com/2010-04-01", section="twilio",
        parse=parse_http_url, doc="The Twilio REST API base URL (a fake one in tests).")
    twilio_content_api_url: str = setting(
        "EKI_TWILIO_CONTENT_API_URL", "https://content.twilio.com/v1", section="twilio",
        parse=parse_http_url,
        doc="Twilio's Content API base URL: `eki templates sync` lists the templates and "
            "their WhatsApp approval there (a fake one in tests).")
    #: The public base URL of this server (as Twilio/Meta reach it, e.g. behind a proxy).
    public_url: str | None = setting(
        "EKI_PUBLIC_URL", None, section="channel", parse=parse_public_url,
        doc="The public base URL of this server as the provider reaches it (scheme + host, "
            "no trailing slash), e.g. https://eki.colegio.edu.co — needed behind a "
            "proxy/tunnel to check Twilio's signatures, and for Twilio's status callbacks "
            "(POST $EKI_PUBLIC_URL/webhooks/twilio and /webhooks/twilio/status). Required "
            "with EKI_CHANNEL=twilio.")
    openai_api_key: Secret | None = setting(
        "OPENAI_API_KEY", None, section="openai", secret=True,
        readme_default="unset: the rule-based Spanish responder answers",
        doc="The API key. Unset = the rule-based Spanish responder answers.")
    openai_base_url: str | None = setting(
        "OPENAI_BASE_URL", None, section="openai", parse=parse_openai_base_url,
        readme_default="OpenAI's", doc="An OpenAI-compatible server's base URL.")
    openai_model: str = setting(
        "EKI_OPENAI_MODEL", "gpt-4o-mini", section="openai", doc="The chat model.")
    openai_timeout: float = setting(
        "EKI_OPENAI_TIMEOUT", 15.0, section="assistant", parse=seconds(1, 120),
        doc="Seconds to wait for the model before falling back to the rule-based answers.")
    llm_student_daily_tokens: int = setting(
        "EKI_LLM_STUDENT_DAILY_TOKENS", 40_000, section="assistant",
        parse=whole(0, 10_000_000),
        doc="Tokens one student may use per day (UTC) before answers fall back to the menu.")
    llm_daily_spend_usd: float | None = setting(
        "EKI_LLM_DAILY_SPEND_USD", None, section="assistant", parse=parse_dollars,
        readme_default="unset: no global cap",
        doc="Dollars all students together may spend per day; unset = no global cap.")
    llm_history_turns: int = setting(
        "EKI_LLM_HISTORY_TURNS", 6, section="assistant", parse=whole(0, 50),
        doc="Earlier exchanges (question + answer) sent to the model as context.")
    llm_prices: PriceTable = setting(
        "EKI_LLM_PRICES", DEFAULT_PRICES, section="assistant", parse=parse_prices, shown="",
        readme_default="gpt-4o-mini's list prices", example="my-model=0.15/0.075/0.60",
        doc="Extra prices (dollars per million tokens: input/cached input/output), \";\" "
            "between models; added to the defaults.")
    log_level: str = setting(
        "EKI_LOG_LEVEL", "INFO", section="logs", parse=parse_log_level,
        doc="DEBUG, INFO, WARNING, ERROR or CRITICAL. Phones are masked and message text is "
            "never logged at INFO.")
    db_pool_size: int = setting(
        "EKI_DB_POOL_SIZE", 30, section="database", parse=whole(1, 200),
        doc="Connection pool (PostgreSQL only): connections kept open; at most this many "
            "units of work use the database at once, the others wait in arrival order.")
    db_max_overflow: int = setting(
        "EKI_DB_MAX_OVERFLOW", 10, section="database", parse=whole(0, 200),
        doc="Connection pool (PostgreSQL only): extra connections for what runs outside "
            "units of work (heartbeats, health checks, live events) when the pool is busy.")
    db_pool_timeout: float = setting(
        "EKI_DB_POOL_TIMEOUT", 30.0, section="database", parse=seconds(1, 600),
        doc="Seconds to wait for a free pooled connection before failing.")
    db_pool_recycle: int = setting(
        "EKI_DB_POOL_RECYCLE", 1800, section="database", parse=whole(-1, 86400),
        doc="Age (seconds) after which a pooled connection is replaced (-1 = never; keep it "
            "below your server's/proxy's idle timeout).")
    metrics_token: Secret | None = setting(
        "EKI_METRICS_TOKEN", None, section="operations", secret=True, parse=parse_strong_secret,
        readme_default="unset: `/metrics` refuses",
        doc="Bearer token for GET /metrics (Prometheus; 32+ characters). Only this token "
            "opens /metrics; unset = /metrics refuses (403).")
    prometheus_multiproc_dir: str | None = setting(
        "PROMETHEUS_MULTIPROC_DIR", None, section="operations", parse=parse_multiproc_dir,
        readme_default="unset: each process counts for itself", example="/run/eki-metrics",
        doc="prometheus-client's multiprocess mode: a directory shared by every EKI process "
            "of the host, emptied before they start. Unset = each process counts for itself.")
    allowed_hosts: tuple[str, ...] = setting(
        "EKI_ALLOWED_HOSTS", ("*",), section="operations", parse=parse_allowed_hosts, shown="",
        readme_default="unset: any host",
        doc="Host names EKI answers to (comma separated, *.example.edu allowed). Unset = any "
            "host.")
    force_https: bool = setting(
        "EKI_FORCE_HTTPS", False, section="operations", parse=parse_flag,
        doc="Redirect plain HTTP to HTTPS (308) and send Strict-Transport-Security.")
    hsts_max_age: int = setting(
        "EKI_HSTS_SECONDS", 31_536_000, section="operations", parse=whole(0, 63_072_000),
        doc="Strict-Transport-Security max-age with EKI_FORCE_HTTPS (0 = no HSTS).")
    trusted_proxies: tuple[str, ...] = setting(
        "EKI_TRUSTED_PROXIES", (), section="operations", parse=parse_trusted_proxies,
        readme_default="none",
        doc="Proxies whose X-Forwarded-Proto / X-Forwarded-For are believed: IPs or networks "
            "(127.0.0.1,10.0.0.0/8), or *.")
    rate_limit_api: int = setting(
        "EKI_RATE_LIMIT_API", 120, section="operations", parse=whole(0, 100_000),
        doc="Requests per minute per client IP on the /api routes. 0 = no limit.")
    rate_limit_auth_failures: int = setting(
        "EKI_RATE_LIMIT_AUTH_FAILURES", 20, section="operations", parse=whole(0, 10_000),
        doc="Wrong bearer tokens per minute per client IP on /api and /metrics; past it, "
            "429 until the minute ends (even with the right token). 0 = no limit.")
    unsigned_body_budget: int = setting(
        "EKI_UNSIGNED_BODY_BUDGET_MB", 64 * 1024 * 1024, section="operations",
        parse=megabytes(1, 4096), shown="64", readme_default="64",
        doc="Megabytes buffered at once over every request body not yet authenticated "
            "(webhooks, the sign-in form); past it, 503 with Retry-After.")
    body_read_timeout: float = setting(
        "EKI_BODY_READ_TIMEOUT", 30.0, section="operations", parse=seconds(1, 600),
        doc="Seconds a client may take to send a request body; then 408.")
    rate_limit_login: int = setting(
        "EKI_RATE_LIMIT_LOGIN", 10, section="operations", parse=whole(0, 10_000),
        doc="Sign-in attempts (POST /admin/login) per minute per client IP. 0 = no limit.")
    child_choice_hours: int = setting(
        "EKI_CHILD_CHOICE_HOURS", 12, section="assistant", parse=whole(1, 720),
        doc="Hours a guardian's choice of child (\"¿Sobre quién quieres consultar?\") is "
            "remembered (1–720).")
    code_days: int = setting(
        "EKI_CODE_DAYS", 30, section="assistant", parse=whole(1, 365),
        doc="Days a verification code (eki codes issue) stays valid (1–365).")
    code_approval: bool = setting(
        "EKI_CODE_APPROVAL", False, section="assistant", parse=parse_flag,
        doc="1 = a redeemed verification code links the number only after approval "
            "(eki codes approve PHONE).")
    flood_limit: int = setting(
        "EKI_FLOOD_LIMIT", 20, section="operations", parse=whole(0, 10_000),
        doc="Messages per minute from one WhatsApp sender before EKI stops answering (one "
            "notice, then silence). 0 = off.")
    redis_url: Secret | None = setting(
        "EKI_REDIS_URL", None, section="operations", secret=True, parse=parse_redis_url,
        readme_default="unset: each process keeps its own", example="redis://127.0.0.1:6379/0",
        doc="Redis shared by every EKI process (redis:// or rediss://, database number as the "
            "path): the /api and sign-in rate limits, the per-sender flood limit and the "
            "progress-report cache live there, so N processes enforce one limit. Unset = each "
            "process counts and caches for itself. Redis down: limits count per process, "
            "reports are computed.")
    redis_prefix: str = setting(
        "EKI_REDIS_PREFIX", "eki:", section="operations", parse=parse_redis_prefix,
        doc="Start of every key EKI writes in EKI_REDIS_URL (several deployments, e.g. "
            "staging and production, may share one Redis with different prefixes).")
    readyz_queue_max_age: int = setting(
        "EKI_READYZ_QUEUE_MAX_AGE", 600, section="operations", parse=whole(0, 86400 * 7),
        doc="/readyz fails when an inbox or outbox message has been pending longer than this "
            "(seconds). 0 = not checked.")
    log_format: str = setting(
        "EKI_LOG_FORMAT", "json", section="logs", parse=parse_log_format,
        doc="json (one object per line: ts, level, logger, message, exc) or text (for a "
            "terminal).")
    event_loop: str = setting(
        "EKI_EVENT_LOOP", "auto", section="logs", parse=parse_event_loop,
        doc="Event loop of eki serve / eki worker / the CLI: auto (uvloop when installed), "
            "uvloop, or asyncio (the standard loop, e.g. to rule uvloop out while "
            "debugging).")
    log_file: str | None = setting(
        "EKI_LOG_FILE", None, section="logs", readme_default="unset: standard error only",
        doc="Also write the log to this file, rotated at EKI_LOG_FILE_MAX_MB with "
            "EKI_LOG_FILE_BACKUPS old files kept. Give each process its own file (rotation "
            "is per process).")
    log_file_max_mb: int = setting(
        "EKI_LOG_FILE_MAX_MB", 50, section="logs", parse=whole(1, 10_000),
        doc="Megabytes after which EKI_LOG_FILE is rotated.")
    log_file_backups: int = setting(
        "EKI_LOG_FILE_BACKUPS", 5, section="logs", parse=whole(0, 1000),
        doc="Rotated log files kept.")
    grading_scale: GradingScale = setting(
        "EKI_GRADING_SCALE", DEFAULT_SCALE, section="progress", parse=parse_grading_scale, shown="",
        readme_default="1.0–5.0, passing 3.0",
        example='{"minimum": 0, "maximum": 100, "passing": 60, "decimals": 0, "bands": '
                '[{"name": "Superior", "low": 90, "high": 100}, {"name": "Alto", "low": 75, '
                '"high": 89}, {"name": "Básico", "low": 60, "high": 74}, {"name": "Bajo", '
                '"low": 0, "high": 59}]}',
        doc="The school's grading scale, as JSON (Decreto 1290 lets each school set its "
            "own). Default: 1.0–5.0, passing 3.0, one decimal, bands Superior 4.6–5.0, Alto "
            "4.0–4.5, Básico 3.0–3.9, Bajo 1.0–2.9.")
    report_cache_ttl: int = setting(
        "EKI_REPORT_CACHE_TTL", 300, section="progress", parse=whole(0, 86400),
        doc="Seconds a computed progress report is reused (0 = no cache). Imports "
            "invalidate it.")

    consent_required: bool = setting(
        "EKI_CONSENT_REQUIRED", True, section="privacy", parse=parse_flag,
        doc="Ask known students and guardians for their authorisation (Ley 1581 de 2012) "
            "before answering with their data: they answer ACEPTO once per policy version "
            "(docs/privacy.md). 0 = off (the school collects it elsewhere).")
    privacy_policy_url: str | None = setting(
        "EKI_PRIVACY_POLICY_URL", None, section="privacy", parse=parse_http_url,
        readme_default="unset: the notice points to the school office",
        example="https://colegio.edu.co/politica-de-datos",
        doc="The school's data-processing policy (política de tratamiento de datos), "
            "linked from the consent notice.")
    privacy_policy_version: str = setting(
        "EKI_PRIVACY_POLICY_VERSION", "1", section="privacy", parse=_parse_policy_version,
        doc="Version of that policy. Changing it asks everyone for consent again.")

    def consent_policy(self) -> ConsentPolicy:
        """The consent settings for the domain (the data controller: EKI_SCHOOL_NAME)."""
        controller = self.school_name if self.school_name != "EKI" else "El colegio"
        return ConsentPolicy(required=self.consent_required,
                             version=self.privacy_policy_version, controller=controller,
                             url=self.privacy_policy_url)
    retention_webhook_days: int = setting(
        "EKI_RETENTION_WEBHOOK_DAYS", 30, section="privacy", parse=whole(0, 3650),
        doc="Days the raw webhook bodies and delivery statuses (the largest store of "
            "personal data) are kept; 0 = none survives the next purge. The worker purges "
            "daily; eki privacy purge does it on demand.")
    retention_message_days: int = setting(
        "EKI_RETENTION_MESSAGE_DAYS", 730, section="privacy", parse=whole(31, 36500),
        doc="Days conversations (messages in and out) and model usage records are kept "
            "(31–36500: the dashboard reads the last 30 days; older days survive as daily "
            "counts).")
    retention_audit_days: int = setting(
        "EKI_RETENTION_AUDIT_DAYS", 1825, section="privacy", parse=whole(30, 36500),
        doc="Days audit log entries (who saw or changed what) are kept.")

    def retention(self) -> RetentionPolicy:
        """The ``EKI_RETENTION_*_DAYS`` settings."""
        return RetentionPolicy(webhook_days=self.retention_webhook_days,
                               message_days=self.retention_message_days,
                               audit_days=self.retention_audit_days)
    alert_rules: tuple[AlertRule, ...] = setting(
        "EKI_ALERT_RULES", (), section="alerts", parse=parse_alert_rules, shown="",
        readme_default="none", example="falla,entrega,nota_baja",
        doc="Academic alert rules on by default, comma separated: falla (an imported "
            "unexcused absence), entrega (an assignment due soon), nota_baja (a grade below "
            "the passing mark). What a coordinator switches at /admin/alertas or with `eki "
            "alerts rules` is stored and wins over this.")
    alert_template_falla: str = setting(
        "EKI_ALERT_TEMPLATE_FALLA", "alerta_falla:es", section="alerts",
        parse=parse_template_setting,
        doc="The utility template of the falla alert, name[:language]; its {{1}}, {{2}}, "
            "{{3}} receive the student's first name, the course and the day (hoy, ayer…).")
    alert_template_entrega: str = setting(
        "EKI_ALERT_TEMPLATE_ENTREGA", "alerta_entrega:es", section="alerts",
        parse=parse_template_setting,
        doc="The utility template of the entrega alert, name[:language]; parameters: the "
            "student's first name, the assignment, the course, the due day.")
    alert_template_nota_baja: str = setting(
        "EKI_ALERT_TEMPLATE_NOTA_BAJA", "alerta_nota_baja:es", section="alerts",
        parse=parse_template_setting,
        doc="The utility template of the nota_baja alert, name[:language]; parameters: the "
            "student's first name, the course, the assignment, the grade.")
    alert_due_hours: int = setting(
        "EKI_ALERT_DUE_HOURS", 24, section="alerts", parse=whole(1, 336),
        doc="Entrega alert: a pending assignment whose due day starts within this many "
            "hours (1–336).")
    alerts_per_day: int = setting(
        "EKI_ALERTS_PER_DAY", 3, section="alerts", parse=whole(1, 50),
        doc="At most this many alerts per recipient and day (in EKI_TIMEZONE); the rest "
            "wait for the next day.")
    quiet_hours: str = setting(
        "EKI_QUIET_HOURS", "20:00-07:00", section="alerts", parse=parse_quiet_hours,
        blank=True,
        doc="No alert goes out between these hours (in EKI_TIMEZONE; across midnight is "
            "fine): they wait for the end. Empty (EKI_QUIET_HOURS=) or off: no quiet hours.")

    def alert_templates(self) -> dict[AlertRule, tuple[str, str]]:
        """(name, language) of each rule's template."""
        raw = {AlertRule.FALLA: self.alert_template_falla,
               AlertRule.ENTREGA: self.alert_template_entrega,
               AlertRule.NOTA_BAJA: self.alert_template_nota_baja}
        return {rule: parse_template_ref(value) for rule, value in raw.items()}

    def quiet_schedule(self) -> QuietHours:
        """``EKI_QUIET_HOURS`` read in ``EKI_TIMEZONE``."""
        return QuietHours.parse(self.quiet_hours, ZoneInfo(self.timezone))

    def business_schedule(self) -> BusinessHours:
        """``EKI_BUSINESS_HOURS`` read in ``EKI_TIMEZONE``."""
        return BusinessHours.parse(self.business_hours, ZoneInfo(self.timezone))

    @property
    def is_sqlite(self) -> bool:
        return to_async_url(self.database_url).get_backend_name() == "sqlite"

    def safe_database_url(self) -> str:
        return to_async_url(self.database_url).render_as_string(hide_password=True)

    def missing_channel_settings(self) -> list[str]:
        """The environment variables the chosen channel still needs to send and receive."""
        if self.channel == "twilio":
            wanted: dict[str, object] = {
                "EKI_TWILIO_ACCOUNT_SID": self.twilio_account_sid,
                "EKI_TWILIO_AUTH_TOKEN": self.twilio_auth_token,
                "EKI_TWILIO_FROM": self.twilio_from,
                "EKI_PUBLIC_URL": self.public_url,
            }
        else:
            wanted = {
                "EKI_WHATSAPP_APP_SECRET": self.whatsapp_app_secret,
                "EKI_WHATSAPP_VERIFY_TOKEN": self.whatsapp_verify_token,
                "EKI_WHATSAPP_ACCESS_TOKEN": self.whatsapp_access_token,
                "EKI_WHATSAPP_PHONE_NUMBER_ID": self.whatsapp_phone_number_id,
            }
        return [name for name, value in wanted.items() if not value]

    def require_channel_settings(self) -> None:
        """Raise :class:`SettingsError` (one line) if the chosen channel lacks a setting."""
        missing = self.missing_channel_settings()
        if missing:
            raise SettingsError(
                f"EKI_CHANNEL={self.channel} needs {', '.join(missing)}; set "
                f"{'it' if len(missing) == 1 else 'them'} (see .env.example)"
                + ("" if self.channel == "twilio" else
                   " or unset EKI_CHANNEL to log replies instead of sending them")
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every declared setting; an unset or blank variable keeps its default."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, var in env_vars():
            raw = env.get(var.name)
            if raw is None or (not raw.strip() and not var.blank):
                continue
            values[field.name] = var.parse(var.name, raw.strip())
        values["production"] = "channel" in values
        settings = cls(**values)
        if settings.force_https and settings.allowed_hosts in ((), ("*",)):
            raise SettingsError(
                "EKI_FORCE_HTTPS=true needs EKI_ALLOWED_HOSTS (the names this site answers "
                "to, e.g. eki.colegio.edu.co): the redirect goes only to those hosts")
        if settings.production:
            settings.require_channel_settings()
        return settings


def env_vars() -> list[tuple[attrs.Attribute[Any], EnvVar]]:
    """Every declared setting, in declaration order, with its field."""
    return [(field, field.metadata[ENV_KEY]) for field in attrs.fields(Settings)
            if ENV_KEY in field.metadata]
