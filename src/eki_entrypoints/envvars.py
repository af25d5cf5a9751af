"""How a setting is declared, read and validated (for :mod:`eki_entrypoints.settings`).

:func:`setting` makes one attrs field carrying an :class:`EnvVar`: the variable's name, its
parser, its documentation and whether it is a secret. Each parser gets the stripped, non-empty
text and the variable's name, and raises :class:`SettingsError` with one line naming it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable
from typing import Any

import attrs
import phonenumbers

from eki_adapters.sql.engine import DatabaseUrlError, to_async_url
from eki_domain.model.pricing import PriceTable
from eki_domain.model.progress import Band, GradingScale
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


CHANNELS = ("meta", "twilio")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_WHATSAPP_SENDER = re.compile(r"whatsapp:\+[1-9][0-9]{6,14}")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "text")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$|^\*$|^\[[0-9a-f:.]+\]$")

#: A parser turns the (stripped, non-empty) text of a variable into the setting's value, or
#: raises :class:`SettingsError`; it gets the variable's name for the message.
Parser = Callable[[str, str], Any]

#: The sections of ``.env.example`` and of the README table, in order: (key, heading).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("database", "Database"),
    ("phones", "Phone numbers"),
    ("admin", "Admin site and API"),
    ("channel", "WhatsApp provider"),
    ("meta", "Meta WhatsApp Cloud API (EKI_CHANNEL=meta)"),
    ("twilio", "Twilio (EKI_CHANNEL=twilio); see docs/twilio.md"),
    ("openai", "OpenAI (or any OpenAI-compatible server)"),
    ("assistant", "The AI assistant (used only when OPENAI_API_KEY is set)"),
    ("logs", "Logs and the event loop"),
    ("operations", "Operations (see docs/operations.md)"),
    ("progress", "Progress reports (see docs/progress.md)"),
    ("privacy", "Privacy: consent and retention (see docs/privacy.md)"),
    ("alerts", "Academic alerts (see docs/alerts.md)"),
)


@attrs.frozen
class EnvVar:
    """How one setting is read from the environment and documented."""

    name: str
    doc: str
    section: str
    parse: Parser
    secret: bool = False
    #: What ``.env.example`` writes after ``NAME=``; None: derived from the default.
    shown: str | None = None
    #: The README's "default" cell; None: ``shown`` (or "unset").
    readme_default: str | None = None
    #: A commented-out example written below the variable in ``.env.example``.
    example: str | None = None
    #: A blank value is a value (given to ``parse`` as ""), not "use the default".
    blank: bool = False


ENV_KEY = "eki_env"


def setting(name: str, default: Any, doc: str, *, section: str, parse: Parser | None = None,
            secret: bool = False, shown: str | None = None, readme_default: str | None = None,
            example: str | None = None, blank: bool = False) -> Any:
    """Declare one setting: an attrs field of :class:`Settings` carrying its :class:`EnvVar`.

    ``parse`` defaults to plain text (or to :class:`Secret` when ``secret``); an unset or
    blank variable gives ``default`` (with ``blank``, a set but blank variable is parsed
    as "").
    """
    reader = parse or (_secret if secret else _text)
    return attrs.field(default=default, metadata={ENV_KEY: EnvVar(
        name=name, doc=doc, section=section, parse=reader, secret=secret, shown=shown,
        readme_default=readme_default, example=example, blank=blank)})


# --- parsers ------------------------------------------------------------------------------


def _text(name: str, raw: str) -> str:
    return raw


def _secret(name: str, raw: str) -> Secret:
    return Secret(raw)


def _whole(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} must be between {low} and {high}")
    return value


def whole(low: int, high: int) -> Parser:
    """A whole number between ``low`` and ``high``."""
    return lambda name, raw: _whole(name, raw, low, high)


def megabytes(low: int, high: int) -> Parser:
    """A whole number of megabytes between ``low`` and ``high``, as bytes."""
    return lambda name, raw: _whole(name, raw, low, high) * 1024 * 1024


def seconds(low: int, high: int) -> Parser:
    """A whole number of seconds between ``low`` and ``high``, as a float."""
    return lambda name, raw: float(_whole(name, raw, low, high))


def parse_dollars(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number (dollars, e.g. 5.00)") from None
    if value < 0:
        raise SettingsError(f"{name}={value} must not be negative")
    return value


def parse_flag(name: str, raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingsError(f"{name}={raw!r} must be true or false (1/0, yes/no, on/off)")


def _items(raw: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in raw.split(",") if p.strip())


def parse_http_url(name: str, raw: str) -> str:
    url = raw.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SettingsError(f"{name}={url!r} must start with http(s)://")
    return url


def parse_database_url(name: str, raw: str) -> str:
    try:
        to_async_url(raw)
    except DatabaseUrlError as exc:
        raise SettingsError(f"{name}: {exc}") from None
    return raw


def parse_country(name: str, raw: str) -> str:
    country = raw.upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError(
            f"{name}={country!r} is not an ISO 3166 region code "
            "phonenumbers knows (e.g. CO, MX, AR, BR, US)"
        )
    return country


#: Secrets shorter than this are refused at start-up (they could be guessed or brute-forced).
MIN_SECRET_CHARS = 32
MAKE_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105


def parse_strong_secret(name: str, raw: str) -> Secret:
    """A token or key of at least :data:`MIN_SECRET_CHARS` characters."""
    if len(raw) < MIN_SECRET_CHARS:
        raise SettingsError(
            f"{name} must be at least {MIN_SECRET_CHARS} characters (it has {len(raw)}) so it "
            f"cannot be guessed; make one with: {MAKE_SECRET}")
    return Secret(raw)


def _one_of(name: str, shown: str, value: str, choices: tuple[str, ...], wanted: str) -> str:
    """``value`` when it is one of ``choices``; else the error ``NAME='shown' must be …``."""
    if value not in choices:
        raise SettingsError(f"{name}={shown!r} must be {wanted}")
    return value


def parse_channel(name: str, raw: str) -> str:
    return _one_of(name, raw, raw.lower(), CHANNELS, f"one of {', '.join(CHANNELS)}")


def parse_account_sid(name: str, raw: str) -> str:
    if not _ACCOUNT_SID.fullmatch(raw):
        raise SettingsError(
            f"{name}={raw[:40]!r} is not an account SID: copy it "
            "from the Twilio console (AC followed by 32 hex characters)")
    return raw


def parse_whatsapp_sender(name: str, raw: str) -> str:
    normalised = raw.replace(" ", "")
    if not normalised.lower().startswith("whatsapp:"):
        normalised = "whatsapp:" + normalised
    normalised = "whatsapp:" + normalised[len("whatsapp:"):]
    if not _WHATSAPP_SENDER.fullmatch(normalised):
        raise SettingsError(
            f"{name}={raw!r} must be the WhatsApp sender in E.164 form, "
            "e.g. whatsapp:+14155238886")
    return normalised


def parse_public_url(name: str, raw: str) -> str:
    public_url = raw.rstrip("/")
    if not public_url.startswith(("http://", "https://")) or "?" in public_url \
            or "#" in public_url:
        raise SettingsError(
            f"{name}={public_url!r} must be the public base URL, e.g. "
            "https://eki.colegio.edu.co (http(s)://, no query string)")
    return public_url


def parse_openai_base_url(name: str, raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise SettingsError(f"{name}={raw!r} must start with http(s)://")
    return raw


def parse_log_level(name: str, raw: str) -> str:
    level = raw.upper()
    return _one_of(name, level, level, LOG_LEVELS, f"one of {', '.join(LOG_LEVELS)}")


def parse_log_format(name: str, raw: str) -> str:
    log_format = raw.lower()
    return _one_of(name, log_format, log_format, LOG_FORMATS, "json or text")


def parse_event_loop(name: str, raw: str) -> str:
    event_loop = _one_of(name, raw.lower(), raw.lower(), EVENT_LOOPS, "auto, uvloop or asyncio")
    if event_loop == "uvloop" and not uvloop_available():
        raise SettingsError(f"{name}=uvloop but uvloop is not installed "
                            f"(pip install uvloop, or {name}=auto)")
    return event_loop


def parse_multiproc_dir(name: str, raw: str) -> str:
    """prometheus-client's own variable: a directory shared by the processes of one host."""
    if not os.path.isdir(raw):
        raise SettingsError(f"{name}={raw!r} is not a directory: create it "
                            "(and empty it) before starting the processes")
    return raw


def parse_allowed_hosts(name: str, raw: str) -> tuple[str, ...]:
    """``EKI_ALLOWED_HOSTS``: host names (``eki.example.edu``), ``*.example.edu``, or ``*``."""
    hosts = _items(raw)
    if not hosts:
        return ("*",)
    cleaned = tuple(h.lower() for h in hosts)
    for host in cleaned:
        if "://" in host or "/" in host or not _HOST.match(host):
            raise SettingsError(
                f"{name}: {host!r} is not a host name: write names only, comma "
                "separated, e.g. eki.colegio.edu.co,*.colegio.edu.co (no https://, no path)")
    return cleaned


def parse_trusted_proxies(name: str, raw: str) -> tuple[str, ...]:
    """``EKI_TRUSTED_PROXIES``: IP addresses or networks (``10.0.0.0/8``), or ``*``."""
    entries = _items(raw)
    for entry in entries:
        if entry == "*":
            continue
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"{name}: {entry!r} is not an IP address or network (e.g. "
                "127.0.0.1,10.0.0.0/8)") from None
    return entries


def parse_prices(name: str, raw: str) -> PriceTable:
    """``EKI_LLM_PRICES``: ``model=input/cached/output`` dollars per million tokens, ``;``
    between models; added to the defaults (gpt-4o-mini's list prices)."""
    try:
        return PriceTable.parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def parse_grading_scale(name: str, raw: str) -> GradingScale:
    """``EKI_GRADING_SCALE``: JSON such as ``{"minimum": 1, "maximum": 5, "passing": 3,
    "decimals": 1, "bands": [{"name": "Superior", "low": 4.6, "high": 5.0}, …]}``."""
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
        raise SettingsError(f"{name} is not a valid scale: {exc}") from None


def parse_redis_url(name: str, raw: str) -> Secret:
    """``EKI_REDIS_URL``: ``redis://[:password@]host[:port][/db]`` or ``rediss://`` (TLS).
    A secret: it may carry a password, so no message repeats it."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(raw.strip())
        port = parts.port  # raises ValueError when it is not a number in range
    except ValueError:
        raise SettingsError(f"{name} is not a valid URL") from None
    if parts.scheme not in ("redis", "rediss"):
        raise SettingsError(f"{name} must start with redis:// or rediss:// (TLS), e.g. "
                            "redis://127.0.0.1:6379/0")
    if not parts.hostname:
        raise SettingsError(f"{name} needs a host, e.g. redis://127.0.0.1:6379/0")
    database = parts.path.strip("/")
    if database and not (database.isdigit() and int(database) < 100_000):
        raise SettingsError(f"{name}: the path must be a database number (e.g. /0)")
    del port
    return Secret(raw.strip())


def parse_redis_prefix(name: str, raw: str) -> str:
    """``EKI_REDIS_PREFIX``: 1–64 of letters, digits and ``:_.-``."""
    if not re.fullmatch(r"[A-Za-z0-9:_.\-]{1,64}", raw):
        raise SettingsError(f"{name}={raw[:80]!r}: use 1-64 letters, digits or :_.- "
                            "(e.g. eki-staging:)")
    return raw
