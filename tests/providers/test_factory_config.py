"""Provider selection: nothing configured -> simulator; half-configured -> one clear error."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from contact_engine.channels.email.smtp import SmtpEmailChannel
from contact_engine.channels.factory import build_channels
from contact_engine.channels.twilio.sms import TwilioSmsChannel
from contact_engine.channels.twilio.voice import TwilioVoiceChannel
from contact_engine.config import Settings, load_settings
from contact_engine.domain import Channel
from contact_engine.errors import ConfigError
from providers.conftest import twilio_settings
from providers.twilio_fake import FakeTwilio


async def test_no_credentials_means_simulator(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        built = await build_channels(Settings(data_dir=tmp_path), stack)
    assert built.simulated and built.adapters == {}


async def test_configured_providers_give_real_adapters(fake_twilio: FakeTwilio, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        twilio=twilio_settings(fake_twilio),
        smtp={"host": "127.0.0.1", "port": 2525, "from_address": "a@lender.example"},  # type: ignore[arg-type]
    )
    async with AsyncExitStack() as stack:
        built = await build_channels(settings, stack)
        assert not built.simulated
        assert isinstance(built.adapters[Channel.VOICE], TwilioVoiceChannel)
        assert isinstance(built.adapters[Channel.SMS], TwilioSmsChannel)
        assert isinstance(built.adapters[Channel.EMAIL], SmtpEmailChannel)
        assert built.voice is built.adapters[Channel.VOICE]


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"CONTACT_ENGINE_TWILIO__ACCOUNT_SID": "AC" + "1" * 32}, "CONTACT_ENGINE_TWILIO__AUTH_TOKEN"),
        (
            {"CONTACT_ENGINE_TWILIO__ACCOUNT_SID": "AC" + "1" * 32, "CONTACT_ENGINE_TWILIO__AUTH_TOKEN": "t",
             "CONTACT_ENGINE_TWILIO__FROM_NUMBER": "+15005550006"},
            "CONTACT_ENGINE_TWILIO__PUBLIC_BASE_URL",
        ),
        ({"CONTACT_ENGINE_SMTP__HOST": "smtp.example.com"}, "CONTACT_ENGINE_SMTP__FROM_ADDRESS"),
        (
            {"CONTACT_ENGINE_SMTP__HOST": "smtp.example.com", "CONTACT_ENGINE_SMTP__FROM_ADDRESS": "a@b.example",
             "CONTACT_ENGINE_SMTP__USERNAME": "u"},
            "CONTACT_ENGINE_SMTP__PASSWORD",
        ),
    ],
)
def test_half_configured_fails_at_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], missing: str) -> None:
    monkeypatch.chdir(tmp_path)  # no .env file from the working tree
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "half-configured" in message and missing in message and "\n" not in message
