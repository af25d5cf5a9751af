"""Settings: the one place that reads the environment.

``Settings.from_env()`` turns environment variables into a frozen value and
fails with one clear line (:class:`SettingsError`) naming the bad variable.
Secrets never appear in ``repr``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import attrs
import phonenumbers

from eki_adapters.sql.engine import DatabaseUrlError, to_async_url
from eki_domain.model.pricing import DEFAULT_PRICES, PriceTable
from eki_domain.model.progress import DEFAULT_SCALE, Band, GradingScale


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
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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
    openai_api_key: Secret | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    openai_timeout: float = 15.0
    llm_student_daily_tokens: int = 40_000
    llm_daily_spend_usd: float | None = None
    llm_history_turns: int = 6
    llm_prices: PriceTable = DEFAULT_PRICES
    log_level: str = "INFO"
    db_pool_size: int = 20
    db_max_overflow: int = 10
    grading_scale: GradingScale = DEFAULT_SCALE
    report_cache_ttl: int = 300

    @property
    def is_sqlite(self) -> bool:
        return to_async_url(self.database_url).get_backend_name() == "sqlite"

    def safe_database_url(self) -> str:
        return to_async_url(self.database_url).render_as_string(hide_password=True)

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

        base_url = text("OPENAI_BASE_URL")
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise SettingsError(f"OPENAI_BASE_URL={base_url!r} must start with http(s)://")

        secret_key = secret("EKI_SECRET_KEY")
        if secret_key is not None and len(secret_key.get()) < 32:
            raise SettingsError(
                "EKI_SECRET_KEY must be at least 32 characters (e.g. the output of "
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)")

        return cls(
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
            openai_api_key=secret("OPENAI_API_KEY"),
            openai_base_url=base_url,
            openai_model=text("EKI_OPENAI_MODEL", "gpt-4o-mini") or "gpt-4o-mini",
            log_level=log_level,
            db_pool_size=integer("EKI_DB_POOL_SIZE", 20, 1, 200),
            db_max_overflow=integer("EKI_DB_MAX_OVERFLOW", 10, 0, 200),
            openai_timeout=float(integer("EKI_OPENAI_TIMEOUT", 15, 1, 120)),
            llm_student_daily_tokens=integer("EKI_LLM_STUDENT_DAILY_TOKENS", 40_000, 0,
                                             10_000_000),
            llm_daily_spend_usd=decimal_or_none("EKI_LLM_DAILY_SPEND_USD"),
            llm_history_turns=integer("EKI_LLM_HISTORY_TURNS", 6, 0, 50),
            llm_prices=_prices(text("EKI_LLM_PRICES")),
            grading_scale=_grading_scale(text("EKI_GRADING_SCALE")),
            report_cache_ttl=integer("EKI_REPORT_CACHE_TTL", 300, 0, 86400),
        )


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


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # Alembic narrates every migration check at INFO; keep that for DEBUG.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
