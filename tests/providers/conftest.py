"""Fixtures of the provider tests: the OpenAPI-checking Twilio server and settings for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from contact_engine.channels.twilio.client import TwilioApi
from contact_engine.config import TwilioSettings
from providers.twilio_fake import FakeTwilio, load_operations, start_fake

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture(scope="session", autouse=True)
def _twilio_spec_loaded() -> None:
    """Parse the 1.8 MB OpenAPI document once per session."""
    assert len(load_operations()) > 100


@pytest.fixture
async def fake_twilio() -> AsyncIterator[FakeTwilio]:
    """A Twilio REST server on loopback; any request the OpenAPI document forbids fails the test."""
    fake, runner = await start_fake(ACCOUNT_SID, AUTH_TOKEN)
    try:
        yield fake
    finally:
        await runner.cleanup()
    assert fake.violations == [], fake.violations


def twilio_settings(fake: FakeTwilio, **kw: object) -> TwilioSettings:
    values: dict[str, object] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": SecretStr(AUTH_TOKEN),
        "from_number": "+15005550006",
        "api_base_url": fake.base_url,
        "public_base_url": "https://hooks.example.com",
        "calls_per_second": 100.0,
        "messages_per_second": 100.0,
        "request_timeout_s": 5.0,
    }
    values.update(kw)
    return TwilioSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def twilio_api(fake_twilio: FakeTwilio) -> AsyncIterator[TwilioApi]:
    api = await TwilioApi.open(twilio_settings(fake_twilio), backoff_base_s=0.01)
    try:
        yield api
    finally:
        await api.aclose()
