"""Fixtures of the API tests: an app on in-memory and Redis state, a signing client."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import redis.asyncio as aioredis
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from contact_engine.api.app import ApiComponents, create_app
from contact_engine.channels.base import ProviderReport
from contact_engine.channels.twilio.state import MemoryTwilioState, RedisTwilioState, TwilioState
from contact_engine.config import Settings
from contact_engine.store.redis import EmbeddedRedis
from providers import conftest as provider_fixtures
from providers.conftest import AUTH_TOKEN, twilio_settings
from providers.twilio_fake import FakeTwilio

PUBLIC = "https://hooks.example.com"

# Fixtures shared with the provider tests (the OpenAPI-checking Twilio server).
fake_twilio = provider_fixtures.fake_twilio
_twilio_spec_loaded = provider_fixtures._twilio_spec_loaded


REDIS_URL = os.environ.get("CONTACT_ENGINE_TEST_REDIS_URL")


@pytest.fixture(params=["memory", "redis-embedded"] + (["redis-real"] if REDIS_URL else []))
async def state(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[TwilioState]:
    """Webhook state on the in-memory twin and on Redis (embedded and, in CI, real)."""
    if request.param == "memory":
        yield MemoryTwilioState()
        return
    server = None
    sock_dir = Path(f"/tmp/ce-{uuid.uuid4().hex[:8]}")
    if request.param == "redis-real":
        assert REDIS_URL
        url = REDIS_URL
    else:
        server = EmbeddedRedis(sock_dir)
        await server.start()
        url = f"unix://{server.socket_path}"
    client = aioredis.Redis.from_url(url, decode_responses=True)
    try:
        yield RedisTwilioState(client, redis_prefix)
    finally:
        keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        if server is not None:
            await server.stop()
            shutil.rmtree(sock_dir, ignore_errors=True)


@dataclass
class Recorder:
    """A report sink and an opt-out recorder that keep what they receive."""

    reports: list[ProviderReport] = field(default_factory=list)
    opt_outs: list[tuple[str, str, datetime]] = field(default_factory=list)

    async def sink(self, report: ProviderReport) -> None:
        self.reports.append(report)

    async def opt_out(self, sender: str, to: str, at: datetime) -> None:
        self.opt_outs.append((sender, to, at))


class SignedClient:
    """Posts forms to the app signed as Twilio signs them (its own RequestValidator)."""

    def __init__(self, client: httpx.AsyncClient, token: str = AUTH_TOKEN) -> None:
        self.client = client
        self.validator = RequestValidator(token)

    def signature(self, path: str, pairs: list[tuple[str, str]], base: str = PUBLIC) -> str:
        return str(self.validator.compute_signature(base + path, MultiDict(pairs)))

    async def post(
        self, path: str, pairs: list[tuple[str, str]] | dict[str, str], *, signature: str | None = None,
        sign: bool = True,
    ) -> httpx.Response:
        items = list(pairs.items()) if isinstance(pairs, dict) else pairs
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if sign:
            headers["X-Twilio-Signature"] = signature or self.signature(path, items)
        return await self.client.post(path, content=urlencode(items), headers=headers)


@dataclass
class Harness:
    http: SignedClient
    recorder: Recorder
    components: ApiComponents


BuildHook = Callable[[ApiComponents], None]


@pytest.fixture
def app_settings(fake_twilio: FakeTwilio, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", twilio=twilio_settings(fake_twilio, public_base_url=PUBLIC))


@pytest.fixture
async def harness(app_settings: Settings, state: TwilioState) -> AsyncIterator[Harness]:
    recorder = Recorder()
    built: list[ApiComponents] = []

    async def build(settings: Settings, stack: AsyncExitStack) -> ApiComponents:
        comps = ApiComponents(settings=settings, sink=recorder.sink, state=state, opt_out=recorder.opt_out)
        built.append(comps)
        return comps

    app = create_app(app_settings, build=build)
    async with app.router.lifespan_context(app):
        # The app sees an internal address; signatures are for the public one.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as client:
            yield Harness(SignedClient(client), recorder, built[0])


def call_status(sid: str, status: str, **extra: Any) -> dict[str, str]:
    form = {"CallSid": sid, "CallStatus": status, "AccountSid": "AC" + "0" * 32, "To": "+8613800138000"}
    form.update({k: str(v) for k, v in extra.items()})
    return form
