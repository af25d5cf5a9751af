from __future__ import annotations

import pytest

from eki_entrypoints.settings import Settings, SettingsError

ADMIN = "admin-s3cret-0123456789abcdefghijkl"
METRICS = "m-s3cret-0123456789abcdefghijklmnop"

def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite:///./eki.db"
    assert settings.default_country == "CO"
    assert settings.admin_token is None
    assert settings.openai_model == "gpt-4o-mini"
    assert settings.whatsapp_api_url == "https://graph.facebook.com/v25.0"
    assert settings.is_sqlite


def test_secrets_never_show_in_repr() -> None:
    settings = Settings.from_env({
        "EKI_ADMIN_TOKEN": ADMIN,
        "EKI_WHATSAPP_APP_SECRET": "app-s3cret",
        "EKI_WHATSAPP_ACCESS_TOKEN": "access-s3cret",
        "EKI_WHATSAPP_VERIFY_TOKEN": "verify-s3cret",
        "OPENAI_API_KEY": "sk-s3cret",
        "EKI_DATABASE_URL": "postgresql://eki:db-s3cret@db.example:5432/eki",
    })
    text = repr(settings) + str(settings)
    assert "s3cret" not in text.replace("db-s3cret", "")
    assert settings.admin_token is not None and settings.admin_token.get() == ADMIN
    assert "db-s3cret" not in settings.safe_database_url()
    assert not settings.is_sqlite


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"EKI_DATABASE_URL": "not a url"}, "EKI_DATABASE_URL"),
        ({"EKI_DATABASE_URL": "mysql://x@y/z"}, "unsupported database"),
        ({"EKI_DATABASE_URL": "sqlite://"}, "in-memory"),
        ({"EKI_DEFAULT_COUNTRY": "XX"}, "EKI_DEFAULT_COUNTRY"),
        ({"EKI_LOG_LEVEL": "LOUD"}, "EKI_LOG_LEVEL"),
        ({"EKI_WHATSAPP_API_URL": "graph.facebook.com"}, "EKI_WHATSAPP_API_URL"),
        ({"EKI_DB_POOL_SIZE": "many"}, "EKI_DB_POOL_SIZE"),
        ({"EKI_DB_POOL_SIZE": "0"}, "between"),
        ({"EKI_SECRET_KEY": "short"}, "EKI_SECRET_KEY must be at least 32"),
        ({"EKI_ADMIN_SESSION_HOURS": "0"}, "EKI_ADMIN_SESSION_HOURS"),
        ({"EKI_ADMIN_SESSION_HOURS": "forever"}, "EKI_ADMIN_SESSION_HOURS"),
    ],
)
def test_bad_values_give_one_clear_line(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message


def test_postgres_urls_get_the_async_driver() -> None:
    settings = Settings.from_env({"EKI_DATABASE_URL": "postgres://u@h/db",
                                  "EKI_DEFAULT_COUNTRY": "mx"})
    assert settings.safe_database_url().startswith("postgresql+psycopg://")
    assert settings.default_country == "MX"


def test_operations_settings_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.metrics_token is None and settings.prometheus_multiproc_dir is None
    assert settings.allowed_hosts == ("*",) and settings.trusted_proxies == ()
    assert settings.force_https is False and settings.hsts_max_age == 31_536_000
    assert (settings.rate_limit_api, settings.rate_limit_login, settings.flood_limit) == (
        120, 10, 20)
    assert settings.readyz_queue_max_age == 600
    assert (settings.log_format, settings.log_file) == ("json", None)
    assert (settings.db_pool_timeout, settings.db_pool_recycle) == (30.0, 1800)


def test_operations_settings_from_the_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings.from_env({
        "EKI_METRICS_TOKEN": METRICS,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "EKI_ALLOWED_HOSTS": "eki.colegio.edu.co, *.colegio.edu.co,localhost:8000",
        "EKI_FORCE_HTTPS": "yes",
        "EKI_HSTS_SECONDS": "0",
        "EKI_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1",
        "EKI_RATE_LIMIT_API": "0",
        "EKI_RATE_LIMIT_LOGIN": "5",
        "EKI_FLOOD_LIMIT": "30",
        "EKI_READYZ_QUEUE_MAX_AGE": "0",
        "EKI_LOG_FORMAT": "TEXT",
        "EKI_LOG_FILE": str(tmp_path / "eki.log"),
        "EKI_DB_POOL_TIMEOUT": "5",
        "EKI_DB_POOL_RECYCLE": "-1",
    })
    assert METRICS not in repr(settings)
    assert settings.metrics_token is not None and settings.metrics_token.get() == METRICS
    assert settings.prometheus_multiproc_dir == str(tmp_path)
    assert settings.allowed_hosts == ("eki.colegio.edu.co", "*.colegio.edu.co", "localhost:8000")
    assert settings.force_https is True and settings.hsts_max_age == 0
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert (settings.rate_limit_api, settings.rate_limit_login, settings.flood_limit) == (
        0, 5, 30)
    assert settings.readyz_queue_max_age == 0 and settings.log_format == "text"
    assert (settings.db_pool_timeout, settings.db_pool_recycle) == (5.0, -1)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"EKI_FORCE_HTTPS": "sometimes"}, "EKI_FORCE_HTTPS='sometimes' must be true or false"),
        ({"EKI_ALLOWED_HOSTS": "https://eki.colegio.edu.co"}, "EKI_ALLOWED_HOSTS"),
        ({"EKI_ALLOWED_HOSTS": "eki.colegio.edu.co/admin"}, "no https://, no path"),
        ({"EKI_TRUSTED_PROXIES": "proxy.local"}, "EKI_TRUSTED_PROXIES"),
        ({"EKI_RATE_LIMIT_API": "-1"}, "EKI_RATE_LIMIT_API"),
        ({"EKI_FLOOD_LIMIT": "many"}, "EKI_FLOOD_LIMIT"),
        ({"EKI_LOG_FORMAT": "xml"}, "EKI_LOG_FORMAT"),
        ({"EKI_EVENT_LOOP": "trio"}, "EKI_EVENT_LOOP='trio' must be auto, uvloop or asyncio"),
        ({"PROMETHEUS_MULTIPROC_DIR": "/nonexistent/eki-metrics"}, "not a directory"),
        ({"EKI_DB_POOL_TIMEOUT": "0"}, "EKI_DB_POOL_TIMEOUT"),
    ],
)
def test_bad_operations_values_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=None) as caught:
        Settings.from_env(env)
    assert fragment in str(caught.value)


async def test_pool_settings_reach_the_postgres_engine() -> None:
    from eki_entrypoints.bootstrap import bootstrap

    settings = Settings.from_env({
        "EKI_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing",  # never connected
        "EKI_DB_POOL_SIZE": "7", "EKI_DB_MAX_OVERFLOW": "3", "EKI_DB_POOL_TIMEOUT": "4",
        "EKI_DB_POOL_RECYCLE": "600"})
    eki = await bootstrap(settings)
    try:
        assert eki.engine is not None
        pool = eki.engine.sync_engine.pool
        assert (pool.size(), pool.timeout(), pool._recycle) == (7, 4.0, 600)  # type: ignore[attr-defined]
        assert pool._max_overflow == 3  # type: ignore[attr-defined]
    finally:
        await eki.aclose()


def test_every_setting_is_documented() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = (root / "src/eki_entrypoints/settings.py").read_text(encoding="utf-8")
    names = set(re.findall(r'"((?:EKI|OPENAI|PROMETHEUS)_[A-Z_]+)"', source))
    assert {"EKI_METRICS_TOKEN", "EKI_FORCE_HTTPS", "EKI_FLOOD_LIMIT"} <= names
    example = (root / ".env.example").read_text(encoding="utf-8")
    operations = (root / "docs/operations.md").read_text(encoding="utf-8")
    env = {}
    for line in example.splitlines():
        key, sep, value = line.lstrip("# ").partition("=")
        if sep and key in names:
            env[key] = value
    assert names - set(env) == set(), "missing from .env.example"
    assert {n for n in names if f"`{n}`" not in operations} == set(), "missing from the docs"
    active = {k: v for k, v in env.items() if f"\n{k}=" in "\n" + example}
    Settings.from_env(active)  # the example itself is valid


def test_admin_session_settings() -> None:
    default = Settings.from_env({})
    assert default.secret_key is None and default.admin_session_hours == 12
    custom = Settings.from_env({"EKI_SECRET_KEY": "k" * 32, "EKI_ADMIN_SESSION_HOURS": "8"})
    assert custom.secret_key is not None and custom.secret_key.get() == "k" * 32
    assert custom.admin_session_hours == 8
    assert "k" * 32 not in repr(custom)


def test_event_loop_setting() -> None:
    assert Settings.from_env({}).event_loop == "auto"
    assert Settings.from_env({"EKI_EVENT_LOOP": "AsyncIO"}).event_loop == "asyncio"
    assert Settings.from_env({"EKI_EVENT_LOOP": "uvloop"}).event_loop == "uvloop"
