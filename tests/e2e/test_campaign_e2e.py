"""One end-to-end campaign, twice: on the simulated provider, and through the real Twilio
and SMTP adapters against the local servers (the OpenAPI-checking Twilio server, whose
callbacks are played back signed into the webhook app, and aiosmtpd with STARTTLS).

The default campaign runs over a generated portfolio (Chinese and US accounts, third
parties) for four simulated days. Both runs must: place texts, calls and emails; reach a
final outcome for every attempt through the same report path; show the provider exactly
the attempts the audit stored; never tell a third party about the debt; give every text its
opt-out line; and leave the independent auditor with 0 violations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from api.conftest import PUBLIC
from contact_engine.api.app import ApiComponents, create_app
from contact_engine.campaigns.model import default_campaign
from contact_engine.channels.base import ChannelAdapter, ProviderReport
from contact_engine.channels.email.smtp import SmtpEmailChannel
from contact_engine.channels.twilio.client import TwilioApi
from contact_engine.channels.twilio.content import debt_words_in, has_opt_out_line
from contact_engine.channels.twilio.sms import TwilioSmsChannel
from contact_engine.channels.twilio.state import MemoryTwilioState
from contact_engine.channels.twilio.voice import TwilioVoiceChannel
from contact_engine.clock import SimulatedClock
from contact_engine.config import Settings, SmtpSettings
from contact_engine.demo.portfolio import generate
from contact_engine.domain import Account, Channel
from contact_engine.engine import Engine
from contact_engine.simulation import run_days
from providers.conftest import twilio_settings
from providers.smtp_server import PASSWORD, USER, Mailbox, make_tls, start_smtp
from providers.twilio_fake import FakeTwilio
from providers.twilio_play import TwilioPlayer

START = date(2026, 3, 2)
DAYS = 4
ACCOUNTS = 150


@dataclass
class Provided:
    """What the providers themselves saw (not what our audit says)."""

    per_channel: Counter[str] = field(default_factory=Counter)
    third_party_texts: list[str] = field(default_factory=list)
    sms_bodies: list[str] = field(default_factory=list)


def portfolio() -> list[Account]:
    return list(generate(ACCOUNTS, START, seed=21))


async def run_scenario(settings: Settings, adapters: dict[Channel, ChannelAdapter] | None,
                       after_tick: Callable[[Engine, datetime], Awaitable[None]] | None = None,
                       on_open: Callable[[Engine], Awaitable[None]] | None = None) -> dict[str, Any]:
    clock = SimulatedClock(datetime.combine(START, datetime.min.time(), ZoneInfo("Asia/Shanghai")))
    accounts = portfolio()
    async with Engine.open(settings, clock=clock, adapters=adapters, audio=False) as engine:
        if on_open is not None:
            await on_open(engine)
        await engine.accounts.upsert_many(accounts)

        async def tick(now: datetime) -> None:
            if after_tick is not None:
                await after_tick(engine, now)

        await run_days(engine, [default_campaign()], START, DAYS, after_tick=tick)
        log = await engine.audit.attempt_log()
        violations = await engine.run_audit({a.id: a for a in accounts})
        sends = await engine.network.state.sends() if engine.network is not None else None
    return {"log": log, "violations": violations, "stats": engine.stats, "sends": sends}


def check_common(result: dict[str, Any]) -> Counter[str]:
    log = result["log"]
    attempts = Counter(r["channel"] for r in log)
    assert attempts["sms"] > 0 and attempts["voice"] > 0 and attempts["email"] > 0, attempts
    assert [r["id"] for r in log if r["outcome"] is None] == [], "attempts without a final outcome"
    assert result["violations"] == []
    assert sum(result["stats"].denied.values()) > 0  # the gate said no at least once
    return attempts


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", recordings_dir=tmp_path / "recordings")


async def test_campaign_on_the_simulator(settings: Settings) -> None:
    result = await run_scenario(settings, adapters={})
    attempts = check_common(result)
    assert result["sends"] == sum(attempts.values())


@pytest.fixture
async def smtp(tmp_path: Path) -> AsyncIterator[tuple[Mailbox, SmtpSettings, Any]]:
    tls = make_tls()
    mailbox = Mailbox()
    controller = start_smtp(mailbox, tls, implicit=False)
    smtp_settings = SmtpSettings(
        host="127.0.0.1", port=controller.port, username=USER, password=SecretStr(PASSWORD), starttls=True,
        from_address="notices@lender.example", unsubscribe_base_url="https://lender.example/unsubscribe",
        unsubscribe_secret=SecretStr("k3y"), timeout_s=10,
    )
    try:
        yield mailbox, smtp_settings, tls.client
    finally:
        controller.stop()


async def test_campaign_through_twilio_and_smtp(tmp_path: Path, fake_twilio: FakeTwilio,
                                                smtp: tuple[Mailbox, SmtpSettings, Any]) -> None:
    mailbox, smtp_settings, client_tls = smtp
    settings = Settings(data_dir=tmp_path / "var", recordings_dir=tmp_path / "recordings",
                        twilio=twilio_settings(fake_twilio, public_base_url=PUBLIC), smtp=smtp_settings)
    async with AsyncExitStack() as stack:
        state = MemoryTwilioState()
        api = await TwilioApi.open(settings.twilio)
        stack.push_async_callback(api.aclose)
        holder: dict[str, Any] = {}

        async def sink(report: ProviderReport) -> None:
            await holder["engine"].handle_reports([report])

        voice = TwilioVoiceChannel(api, state)
        adapters: dict[Channel, ChannelAdapter] = {
            Channel.VOICE: voice, Channel.SMS: TwilioSmsChannel(api),
            Channel.EMAIL: SmtpEmailChannel(settings.smtp, sink=sink, tls_context=client_tls),
        }

        async def build(s: Settings, _stack: AsyncExitStack) -> ApiComponents:
            return ApiComponents(settings=s, sink=sink, state=state, voice=voice, clock=holder["engine"].clock)

        async def on_open(engine: Engine) -> None:
            holder["engine"] = engine
            app = create_app(settings, build=build)
            await stack.enter_async_context(app.router.lifespan_context(app))
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://internal"))

            async def post(path: str, body: str, headers: dict[str, str]) -> int:
                return (await client.post(path, content=body, headers=headers)).status_code

            holder["player"] = TwilioPlayer(fake_twilio, PUBLIC, post)

        async def play(_engine: Engine, _now: datetime) -> None:
            await holder["player"].play()

        result = await run_scenario(settings, adapters, after_tick=play, on_open=on_open)
    attempts = check_common(result)
    calls = fake_twilio.requests_to("/Calls.json")
    texts = fake_twilio.requests_to("/Messages.json")
    assert len(calls) == attempts["voice"]
    assert len(texts) == attempts["sms"]
    assert len(mailbox.messages) == attempts["email"]
    for text in texts:
        assert has_opt_out_line(text.form["Body"][0])
    # a third party's call carries no debt words (the script is in the call's context)
    third = {r["id"] for r in result["log"] if r["channel"] == "voice" and not r["party_id"].endswith("/debtor")}
    contexts = [await state.get_context(attempt) for attempt in sorted(third)]
    assert contexts and all(ctx is not None for ctx in contexts)
    for ctx in contexts:
        assert ctx is not None and ctx.body and debt_words_in(ctx.body) == [], ctx
