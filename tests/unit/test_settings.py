from __future__ import annotations

import pytest

from eki_entrypoints.settings import Settings, SettingsError


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
        "EKI_ADMIN_TOKEN": "admin-s3cret",
        "EKI_WHATSAPP_APP_SECRET": "app-s3cret",
        "EKI_WHATSAPP_ACCESS_TOKEN": "access-s3cret",
        "EKI_WHATSAPP_VERIFY_TOKEN": "verify-s3cret",
        "OPENAI_API_KEY": "sk-s3cret",
        "EKI_DATABASE_URL": "postgresql://eki:db-s3cret@db.example:5432/eki",
    })
    text = repr(settings) + str(settings)
    assert "s3cret" not in text.replace("db-s3cret", "")
    assert settings.admin_token is not None and settings.admin_token.get() == "admin-s3cret"
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


def test_admin_session_settings() -> None:
    default = Settings.from_env({})
    assert default.secret_key is None and default.admin_session_hours == 12
    custom = Settings.from_env({"EKI_SECRET_KEY": "k" * 32, "EKI_ADMIN_SESSION_HOURS": "8"})
    assert custom.secret_key is not None and custom.secret_key.get() == "k" * 32
    assert custom.admin_session_hours == 8
    assert "k" * 32 not in repr(custom)
