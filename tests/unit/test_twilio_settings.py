"""EKI_CHANNEL and the Twilio settings: values, production mode and the channel built."""

from __future__ import annotations

import pytest

from eki_adapters.twilio import TwilioChannel
from eki_adapters.whatsapp import ConsoleChannel, MetaCloudChannel
from eki_entrypoints.bootstrap import build_channel
from eki_entrypoints.settings import Secret, Settings, SettingsError

SID = "AC" + "0123456789abcdef" * 2
TWILIO = {
    "EKI_CHANNEL": "twilio",
    "EKI_TWILIO_ACCOUNT_SID": SID,
    "EKI_TWILIO_AUTH_TOKEN": "tw-s3cret",
    "EKI_TWILIO_FROM": "whatsapp:+14155238886",
    "EKI_PUBLIC_URL": "https://eki.colegio.edu.co/",
}
META = {
    "EKI_WHATSAPP_APP_SECRET": "a", "EKI_WHATSAPP_VERIFY_TOKEN": "v",
    "EKI_WHATSAPP_ACCESS_TOKEN": "t", "EKI_WHATSAPP_PHONE_NUMBER_ID": "123",
}


def test_twilio_settings_are_read_and_normalised() -> None:
    settings = Settings.from_env(TWILIO)
    assert settings.channel == "twilio" and settings.production
    assert settings.twilio_account_sid == SID
    assert settings.twilio_auth_token is not None
    assert settings.twilio_auth_token.get() == "tw-s3cret"
    assert settings.twilio_from == "whatsapp:+14155238886"
    assert settings.twilio_api_url == "https://api.twilio.com/2010-04-01"
    assert settings.public_url == "https://eki.colegio.edu.co"
    assert "tw-s3cret" not in repr(settings)


@pytest.mark.parametrize("sender", ["+14155238886", "WhatsApp:+14155238886",
                                    "whatsapp: +1 4155238886"])
def test_the_sender_may_be_written_loosely(sender: str) -> None:
    settings = Settings.from_env({**TWILIO, "EKI_TWILIO_FROM": sender})
    assert settings.twilio_from == "whatsapp:+14155238886"


def test_default_is_meta_without_production_mode() -> None:
    settings = Settings.from_env({})
    assert (settings.channel, settings.production) == ("meta", False)
    assert isinstance(build_channel(settings), ConsoleChannel)  # `eki serve` with no keys


@pytest.mark.parametrize(("env", "fragment"), [
    ({"EKI_CHANNEL": "telegram"}, "EKI_CHANNEL='telegram' must be one of meta, twilio"),
    ({**TWILIO, "EKI_TWILIO_ACCOUNT_SID": "SK123"}, "EKI_TWILIO_ACCOUNT_SID"),
    ({**TWILIO, "EKI_TWILIO_FROM": "14155238886x"}, "EKI_TWILIO_FROM"),
    ({**TWILIO, "EKI_TWILIO_FROM": "whatsapp:+0155"}, "whatsapp:+14155238886"),
    ({**TWILIO, "EKI_PUBLIC_URL": "eki.colegio.edu.co"}, "EKI_PUBLIC_URL"),
    ({**TWILIO, "EKI_PUBLIC_URL": "https://eki.example/?x=1"}, "no query string"),
    ({**TWILIO, "EKI_TWILIO_API_URL": "api.twilio.com"}, "EKI_TWILIO_API_URL"),
])
def test_bad_values_give_one_clear_line(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("missing", ["EKI_TWILIO_ACCOUNT_SID", "EKI_TWILIO_AUTH_TOKEN",
                                     "EKI_TWILIO_FROM", "EKI_PUBLIC_URL"])
def test_twilio_without_a_credential_fails_at_startup(missing: str) -> None:
    env = {k: v for k, v in TWILIO.items() if k != missing}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith(f"EKI_CHANNEL=twilio needs {missing}")


def test_explicit_meta_is_production_mode_and_needs_its_keys() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"EKI_CHANNEL": "meta", "EKI_WHATSAPP_APP_SECRET": "a"})
    message = str(caught.value)
    assert "EKI_WHATSAPP_VERIFY_TOKEN, EKI_WHATSAPP_ACCESS_TOKEN, " \
           "EKI_WHATSAPP_PHONE_NUMBER_ID" in message
    assert "EKI_WHATSAPP_APP_SECRET" not in message and "unset EKI_CHANNEL" in message
    settings = Settings.from_env({"EKI_CHANNEL": "META", **META})
    assert settings.channel == "meta"
    assert isinstance(build_channel(settings), MetaCloudChannel)


async def test_build_channel_twilio_points_status_callbacks_at_the_public_url() -> None:
    channel = build_channel(Settings.from_env(TWILIO))
    assert isinstance(channel, TwilioChannel)
    try:
        form = channel.message_form("573001234567", "hola")
        assert form == {"From": "whatsapp:+14155238886", "To": "whatsapp:+573001234567",
                        "Body": "hola", "StatusCallback":
                        "https://eki.colegio.edu.co/webhooks/twilio/status"}
        assert "tw-s3cret" not in repr(channel)
    finally:
        await channel.aclose()


def test_settings_built_in_code_are_checked_too() -> None:
    with pytest.raises(SettingsError, match="EKI_CHANNEL=twilio needs"):
        build_channel(Settings(channel="twilio", twilio_auth_token=Secret("x")))
    with pytest.raises(SettingsError, match="EKI_CHANNEL=meta needs"):
        build_channel(Settings(production=True))


def test_cli_startup_error_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from eki_entrypoints.cli import run

    for name in ("EKI_TWILIO_ACCOUNT_SID", "EKI_TWILIO_AUTH_TOKEN", "EKI_TWILIO_FROM",
                 "EKI_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EKI_CHANNEL", "twilio")
    monkeypatch.setenv("EKI_TWILIO_AUTH_TOKEN", "x")
    assert run(["serve"]) == 2
    err = capsys.readouterr().err
    assert err == ("eki: configuration error: EKI_CHANNEL=twilio needs EKI_TWILIO_ACCOUNT_SID, "
                   "EKI_TWILIO_FROM, EKI_PUBLIC_URL; set them (see .env.example)\n")
