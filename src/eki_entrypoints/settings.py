"""Settings: the one place that reads the environment.

``Settings.from_env()`` turns environment variables into a frozen value and
fails with one clear line (:class:`SettingsError`) naming the bad variable.
Secrets never appear in ``repr``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import phonenumbers

from eki_adapters.sql.engine import DatabaseUrlError, to_async_url
from eki_domain.model.pricing import DEFAULT_PRICES, PriceTable
from eki_domain.model.progress import DEFAULT_SCALE, Band, GradingScale
from eki_entrypoints.loops import EVENT_LOOPS, uvloop_available


class SettingsError(ValueError):
    """A setting has a value EKI cannot use; the message names it and says what to write."""


class Secret:
    """A string that never shows itself in reprs, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


DEFAULT_DATABASE_URL = "sqlite:///./eki.db"
DEFAULT_WHATSAPP_API_URL = "https://graph.facebook.com/v25.0"
DEFAULT_TWILIO_API_URL = "https://api.twilio.com/2010-04-01"
CHANNELS = ("meta", "twilio")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_WHATSAPP_SENDER = re.compile(r"whatsapp:\+[1-9][0-9]{6,14}")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$|^\*$|^\[[0-9a-f:.]+\]$")


@attrs.frozen
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    default_country: str = "CO"
    admin_token: Secret | None = None
    secret_key: Secret | None = None
    admin_session_hours: int = 12
    whatsapp_app_secret: Secret | None = None
    whatsapp_verify_token: Secret | None = None
    whatsapp_access_token: Secret | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_api_url: str = DEFAULT_WHATSAPP_API_URL
    #: The WhatsApp provider: "meta" (Cloud API) or "twilio".
    channel: str = "meta"
    #: Production mode: EKI_CHANNEL was set explicitly, so the chosen channel must have all
    #: its credentials (no console stand-in). Unset EKI_CHANNEL = Meta, or the console
    #: channel when Meta's keys are missing (a local run).
    production: bool = False
    twilio_account_sid: str | None = None
    twilio_auth_token: Secret | None = None
    twilio_from: str | None = None  # "whatsapp:+14155238886"
    twilio_api_url: str = DEFAULT_TWILIO_API_URL
    #: The public base URL of this server (as Twilio/Meta reach it, e.g. behind a proxy).
    public_url: str | None = None
    openai_api_key: Secret | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout: float = 15.0
    llm_student_daily_tokens: int = 40_000
    llm_daily_spend_usd: float | None = None
    llm_history_turns: int = 6
    llm_prices: PriceTable = DEFAULT_PRICES
    log_level: str = "INFO"
    db_pool_size: int = 30
    db_max_overflow: int = 10
    db_pool_timeout: float = 30.0
    db_pool_recycle: int = 1800
    metrics_token: Secret | None = None
    prometheus_multiproc_dir: str | None = None
    allowed_hosts: tuple[str, ...] = ("*",)
    force_https: bool = False
    hsts_max_age: int = 31_536_000
    trusted_proxies: tuple[str, ...] = ()
    rate_limit_api: int = 120
    rate_limit_login: int = 10
    flood_limit: int = 20
    readyz_queue_max_age: int = 600
    log_format: str = "json"
    event_loop: str = "auto"
    log_file: str | None = None
    log_file_max_mb: int = 50
    log_file_backups: int = 5
    grading_scale: GradingScale = DEFAULT_SCALE
    report_cache_ttl: int = 300
    # -- hostile input (issue 21): every setting of this block is validated in
    # _hostile_input() below; docs/security.md says what each one defends.
    #: Failed bearer-token attempts per client IP and minute on /api and /metrics (0: off).
    rate_limit_auth_failures: int = 20
    #: Bytes buffered at once, over all requests not yet authenticated (webhook bodies).
    unsigned_body_budget: int = 64 * 1024 * 1024
    #: Seconds a client may take to send a request body (408 after that).
    body_read_timeout: float = 30.0

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
        env = os.environ if environ is None else environ

        def text(name: str, default: str | None = None) -> str | None:
            value = env.get(name)
            if value is None or not value.strip():
                return default
            return value.strip()

        def secret(name: str) -> Secret | None:
            value = text(name)
            return Secret(value) if value else None

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not a whole number") from None
            if not low <= value <= high:
                raise SettingsError(f"{name}={value} must be between {low} and {high}")
            return value

        def decimal_or_none(name: str) -> float | None:
            raw = text(name)
            if raw is None:
                return None
            try:
                value = float(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not a number (dollars, e.g. 5.00)"
                                    ) from None
            if value < 0:
                raise SettingsError(f"{name}={value} must not be negative")
            return value

        def flag(name: str, default: bool) -> bool:
            raw = text(name)
            if raw is None:
                return default
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise SettingsError(f"{name}={raw!r} must be true or false (1/0, yes/no, on/off)")

        def items(name: str) -> tuple[str, ...]:
            raw = text(name)
            return () if raw is None else tuple(p.strip() for p in raw.split(",") if p.strip())

        database_url = text("EKI_DATABASE_URL", DEFAULT_DATABASE_URL) or DEFAULT_DATABASE_URL
        try:
            to_async_url(database_url)
        except DatabaseUrlError as exc:
            raise SettingsError(f"EKI_DATABASE_URL: {exc}") from None

        country = (text("EKI_DEFAULT_COUNTRY", "CO") or "CO").upper()
        if country not in phonenumbers.SUPPORTED_REGIONS:
            raise SettingsError(
                f"EKI_DEFAULT_COUNTRY={country!r} is not an ISO 3166 region code "
                "phonenumbers knows (e.g. CO, MX, AR, BR, US)"
            )

        log_level = (text("EKI_LOG_LEVEL", "INFO") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise SettingsError(
                f"EKI_LOG_LEVEL={log_level!r} must be one of {', '.join(LOG_LEVELS)}"
            )

        api_url = (text("EKI_WHATSAPP_API_URL", DEFAULT_WHATSAPP_API_URL) or "").rstrip("/")
        if not api_url.startswith(("http://", "https://")):
            raise SettingsError(f"EKI_WHATSAPP_API_URL={api_url!r} must start with http(s)://")

        raw_channel = text("EKI_CHANNEL")
        channel = (raw_channel or "meta").lower()
        if channel not in CHANNELS:
            raise SettingsError(f"EKI_CHANNEL={raw_channel!r} must be one of "
                                f"{', '.join(CHANNELS)}")

        twilio_api_url = (text("EKI_TWILIO_API_URL", DEFAULT_TWILIO_API_URL) or "").rstrip("/")
        if not twilio_api_url.startswith(("http://", "https://")):
            raise SettingsError(
                f"EKI_TWILIO_API_URL={twilio_api_url!r} must start with http(s)://")

        account_sid = text("EKI_TWILIO_ACCOUNT_SID")
        if account_sid is not None and not _ACCOUNT_SID.fullmatch(account_sid):
            raise SettingsError(
                f"EKI_TWILIO_ACCOUNT_SID={account_sid[:40]!r} is not an account SID: copy it "
                "from the Twilio console (AC followed by 32 hex characters)")

        sender = text("EKI_TWILIO_FROM")
        if sender is not None:
            normalised = sender.replace(" ", "")
            if not normalised.lower().startswith("whatsapp:"):
                normalised = "whatsapp:" + normalised
            normalised = "whatsapp:" + normalised[len("whatsapp:"):]
            if not _WHATSAPP_SENDER.fullmatch(normalised):
                raise SettingsError(
                    f"EKI_TWILIO_FROM={sender!r} must be the WhatsApp sender in E.164 form, "
                    "e.g. whatsapp:+14155238886")
            sender = normalised

        public_url = text("EKI_PUBLIC_URL")
        if public_url is not None:
            public_url = public_url.rstrip("/")
            if not public_url.startswith(("http://", "https://")) or "?" in public_url \
                    or "#" in public_url:
                raise SettingsError(
                    f"EKI_PUBLIC_URL={public_url!r} must be the public base URL, e.g. "
                    "https://eki.colegio.edu.co (http(s)://, no query string)")

        base_url = text("OPENAI_BASE_URL")
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise SettingsError(f"OPENAI_BASE_URL={base_url!r} must start with http(s)://")

        secret_key = secret("EKI_SECRET_KEY")
        hostile = _hostile_input(secret, flag, items, integer)

        log_format = (text("EKI_LOG_FORMAT", "json") or "json").lower()
        if log_format not in LOG_FORMATS:
            raise SettingsError(f"EKI_LOG_FORMAT={log_format!r} must be json or text")

        event_loop = (text("EKI_EVENT_LOOP", "auto") or "auto").lower()
        if event_loop not in EVENT_LOOPS:
            raise SettingsError(
                f"EKI_EVENT_LOOP={event_loop!r} must be auto, uvloop or asyncio")
        if event_loop == "uvloop" and not uvloop_available():
            raise SettingsError("EKI_EVENT_LOOP=uvloop but uvloop is not installed "
                                "(pip install uvloop, or EKI_EVENT_LOOP=auto)")

        settings = cls(
            database_url=database_url,
            default_country=country,
            admin_token=secret("EKI_ADMIN_TOKEN"),
            secret_key=secret_key,
            admin_session_hours=integer("EKI_ADMIN_SESSION_HOURS", 12, 1, 720),
            whatsapp_app_secret=secret("EKI_WHATSAPP_APP_SECRET"),
            whatsapp_verify_token=secret("EKI_WHATSAPP_VERIFY_TOKEN"),
            whatsapp_access_token=secret("EKI_WHATSAPP_ACCESS_TOKEN"),
            whatsapp_phone_number_id=text("EKI_WHATSAPP_PHONE_NUMBER_ID"),
            whatsapp_api_url=api_url,
            channel=channel,
            production=raw_channel is not None,
            twilio_account_sid=account_sid,
            twilio_auth_token=secret("EKI_TWILIO_AUTH_TOKEN"),
            twilio_from=sender,
            twilio_api_url=twilio_api_url,
            public_url=public_url,
            openai_api_key=secret("OPENAI_API_KEY"),
            openai_base_url=base_url,
            openai_model=text("EKI_OPENAI_MODEL", "gpt-4o-mini") or "gpt-4o-mini",
            log_level=log_level,
            db_pool_size=integer("EKI_DB_POOL_SIZE", 30, 1, 200),
            db_max_overflow=integer("EKI_DB_MAX_OVERFLOW", 10, 0, 200),
            db_pool_timeout=float(integer("EKI_DB_POOL_TIMEOUT", 30, 1, 600)),
            db_pool_recycle=integer("EKI_DB_POOL_RECYCLE", 1800, -1, 86400),
            metrics_token=secret("EKI_METRICS_TOKEN"),
            prometheus_multiproc_dir=_multiproc_dir(text("PROMETHEUS_MULTIPROC_DIR")),
            allowed_hosts=_allowed_hosts(items("EKI_ALLOWED_HOSTS")),
            force_https=flag("EKI_FORCE_HTTPS", False),
            hsts_max_age=integer("EKI_HSTS_SECONDS", 31_536_000, 0, 63_072_000),
            trusted_proxies=_trusted_proxies(items("EKI_TRUSTED_PROXIES")),
            rate_limit_api=integer("EKI_RATE_LIMIT_API", 120, 0, 100_000),
            rate_limit_login=integer("EKI_RATE_LIMIT_LOGIN", 10, 0, 10_000),
            flood_limit=integer("EKI_FLOOD_LIMIT", 20, 0, 10_000),
            readyz_queue_max_age=integer("EKI_READYZ_QUEUE_MAX_AGE", 600, 0, 86400 * 7),
            log_format=log_format,
            event_loop=event_loop,
            log_file=text("EKI_LOG_FILE"),
            log_file_max_mb=integer("EKI_LOG_FILE_MAX_MB", 50, 1, 10_000),
            log_file_backups=integer("EKI_LOG_FILE_BACKUPS", 5, 0, 1000),
            openai_timeout=float(integer("EKI_OPENAI_TIMEOUT", 15, 1, 120)),
            llm_student_daily_tokens=integer("EKI_LLM_STUDENT_DAILY_TOKENS", 40_000, 0,
                                             10_000_000),
            llm_daily_spend_usd=decimal_or_none("EKI_LLM_DAILY_SPEND_USD"),
            llm_history_turns=integer("EKI_LLM_HISTORY_TURNS", 6, 0, 50),
            llm_prices=_prices(text("EKI_LLM_PRICES")),
            grading_scale=_grading_scale(text("EKI_GRADING_SCALE")),
            report_cache_ttl=integer("EKI_REPORT_CACHE_TTL", 300, 0, 86400),
            **hostile,
        )
        if settings.production:
            settings.require_channel_settings()
        return settings


# -- hostile input (issue 21) ---------------------------------------------------------------

#: Secrets shorter than this are refused at start-up (they could be guessed or brute-forced).
MIN_SECRET_CHARS = 32
MAKE_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105


def _hostile_input(secret: Callable[[str], Secret | None], flag: Callable[[str, bool], bool],
                   items: Callable[[str], tuple[str, ...]],
                   integer: Callable[[str, int, int, int], int]) -> dict[str, Any]:
    """Validate the secrets and the HTTPS/host pairing; read this block's own settings."""
    for name in ("EKI_ADMIN_TOKEN", "EKI_METRICS_TOKEN", "EKI_SECRET_KEY"):
        value = secret(name)
        if value is not None and len(value.get()) < MIN_SECRET_CHARS:
            raise SettingsError(
                f"{name} must be at least {MIN_SECRET_CHARS} characters (it has "
                f"{len(value.get())}) so it cannot be guessed; make one with: {MAKE_SECRET}")
    if flag("EKI_FORCE_HTTPS", False) and items("EKI_ALLOWED_HOSTS") in ((), ("*",)):
        raise SettingsError(
            "EKI_FORCE_HTTPS=true needs EKI_ALLOWED_HOSTS (the names this site answers to, "
            "e.g. eki.colegio.edu.co): the redirect goes only to those hosts")
    return {
        "rate_limit_auth_failures": integer("EKI_RATE_LIMIT_AUTH_FAILURES", 20, 0, 10_000),
        "unsigned_body_budget": integer("EKI_UNSIGNED_BODY_BUDGET_MB", 64, 1, 4096)
        * 1024 * 1024,
        "body_read_timeout": float(integer("EKI_BODY_READ_TIMEOUT", 30, 1, 600)),
    }


def _multiproc_dir(raw: str | None) -> str | None:
    """prometheus-client's own variable: a directory shared by the processes of one host."""
    if raw is None:
        return None
    if not os.path.isdir(raw):
        raise SettingsError(f"PROMETHEUS_MULTIPROC_DIR={raw!r} is not a directory: create it "
                            "(and empty it) before starting the processes")
    return raw


def _allowed_hosts(hosts: tuple[str, ...]) -> tuple[str, ...]:
    """``EKI_ALLOWED_HOSTS``: host names (``eki.example.edu``), ``*.example.edu``, or ``*``."""
    if not hosts:
        return ("*",)
    cleaned = tuple(h.lower() for h in hosts)
    for host in cleaned:
        if "://" in host or "/" in host or not _HOST.match(host):
            raise SettingsError(
                f"EKI_ALLOWED_HOSTS: {host!r} is not a host name: write names only, comma "
                "separated, e.g. eki.colegio.edu.co,*.colegio.edu.co (no https://, no path)")
    return cleaned


def _trusted_proxies(entries: tuple[str, ...]) -> tuple[str, ...]:
    """``EKI_TRUSTED_PROXIES``: IP addresses or networks (``10.0.0.0/8``), or ``*``."""
    for entry in entries:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"EKI_TRUSTED_PROXIES: {entry!r} is not an IP address or network (e.g. "
                "127.0.0.1,10.0.0.0/8)") from None
    return entries


def _prices(raw: str | None) -> PriceTable:
    """``EKI_LLM_PRICES``: ``model=input/cached/output`` dollars per million tokens, ``;``
    between models; added to the defaults (gpt-4o-mini's list prices)."""
    if raw is None:
        return DEFAULT_PRICES
    try:
        return PriceTable.parse(raw)
    except ValueError as exc:
        raise SettingsError(f"EKI_LLM_PRICES: {exc}") from None


def _grading_scale(raw: str | None) -> GradingScale:
    """``EKI_GRADING_SCALE``: JSON such as ``{"minimum": 1, "maximum": 5, "passing": 3,
    "decimals": 1, "bands": [{"name": "Superior", "low": 4.6, "high": 5.0}, …]}``."""
    if raw is None:
        return DEFAULT_SCALE
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise TypeError("expected a JSON object")
        bands = data.pop("bands", None)
        extra = set(data) - {"minimum", "maximum", "passing", "decimals"}
        if extra:
            raise ValueError(f"unknown keys {sorted(extra)}")
        kwargs: dict[str, Any] = {k: (int(v) if k == "decimals" else float(v))
                                  for k, v in data.items()}
        if bands is not None:
            kwargs["bands"] = tuple(Band(str(b["name"]), float(b["low"]), float(b["high"]))
                                    for b in bands)
        return GradingScale(**kwargs)
    except (ValueError, TypeError, KeyError) as exc:
        raise SettingsError(f"EKI_GRADING_SCALE is not a valid scale: {exc}") from None
