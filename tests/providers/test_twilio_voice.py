"""TwilioVoiceChannel against the OpenAPI-checking local Twilio server."""

from __future__ import annotations

import asyncio

import pytest

from contact_engine.channels.base import OutboundContact
from contact_engine.channels.twilio.client import TwilioApi
from contact_engine.channels.twilio.state import MemoryTwilioState
from contact_engine.channels.twilio.voice import TwilioVoiceChannel
from contact_engine.domain import Channel, Mode
from contact_engine.errors import ErrorCategory, ProviderError
from providers.twilio_fake import FakeTwilio

LCM_VARS = {"business_name": "华信服务", "agent_name": "王芳", "callback_number": "400-800-1234"}


def call(attempt: str = "att-1", **kw: object) -> OutboundContact:
    values: dict[str, object] = {
        "attempt_id": attempt,
        "account_id": "A1",
        "party_id": "A1/p1",
        "channel": Channel.VOICE,
        "mode": Mode.AUTOMATED,
        "to": "+8613800138000",
        "language": "zh-CN",
        "script": "reminder",
        "body": "您好，这是关于您账户的提醒。",
    }
    values.update(kw)
    return OutboundContact(**values)  # type: ignore[arg-type]


async def test_call_asks_for_callbacks_recording_and_async_amd(fake_twilio: FakeTwilio, twilio_api: TwilioApi) -> None:
    state = MemoryTwilioState()
    channel = TwilioVoiceChannel(twilio_api, state)
    receipt = await channel.send(call(voicemail_allowed=True, variables=LCM_VARS))
    assert receipt.provider_ref.startswith("CA")
    [req] = fake_twilio.requests_to("/Calls.json")
    form = req.form
    assert form["To"] == ["+8613800138000"]
    assert form["From"] == ["+15005550006"]
    assert sorted(form["StatusCallbackEvent"]) == ["answered", "completed", "initiated", "ringing"]
    assert form["Record"] == ["true"]
    assert form["RecordingChannels"] == ["dual"]
    assert form["RecordingStatusCallback"] == ["https://hooks.example.com/twilio/voice/recording?attempt=att-1"]
    assert form["AsyncAmd"] == ["true"]
    assert form["MachineDetection"] == ["DetectMessageEnd"]
    assert form["Url"] == ["https://hooks.example.com/twilio/voice/answer?attempt=att-1"]
    ctx = await state.get_context("att-1")
    assert ctx is not None and ctx.voicemail is not None
    assert "王芳" in ctx.voicemail and "400-800-1234" in ctx.voicemail


async def test_no_voicemail_for_third_party_or_when_not_allowed(twilio_api: TwilioApi) -> None:
    state = MemoryTwilioState()
    channel = TwilioVoiceChannel(twilio_api, state)
    await channel.send(call("a-tp", third_party=True, voicemail_allowed=True, variables=LCM_VARS,
                            body="您好，我们想确认一下王先生的联系方式。"))
    await channel.send(call("a-no", voicemail_allowed=False, variables=LCM_VARS))
    await channel.send(call("a-missing", voicemail_allowed=True, variables={"business_name": "华信服务"}))
    for attempt in ("a-tp", "a-no", "a-missing"):
        ctx = await state.get_context(attempt)
        assert ctx is not None and ctx.voicemail is None, attempt


async def test_third_party_script_with_debt_words_is_refused(fake_twilio: FakeTwilio, twilio_api: TwilioApi) -> None:
    channel = TwilioVoiceChannel(twilio_api, MemoryTwilioState())
    with pytest.raises(ProviderError) as info:
        await channel.send(call(third_party=True, body="请转告他尽快处理逾期欠款。"))
    assert info.value.category is ErrorCategory.PERMANENT and not info.value.accepted
    assert fake_twilio.requests_to("/Calls.json") == []


async def test_rate_limit_is_retried_then_succeeds(fake_twilio: FakeTwilio, twilio_api: TwilioApi) -> None:
    for _ in range(2):
        fake_twilio.script("/Calls.json", 429, {"code": 20429, "message": "Too Many Requests", "status": 429})
    receipt = await TwilioVoiceChannel(twilio_api, MemoryTwilioState()).send(call())
    assert receipt.provider_ref.startswith("CA")
    assert len(fake_twilio.requests_to("/Calls.json")) == 3
    assert twilio_api.rate_limited == 2


async def test_server_error_on_post_is_not_retried_and_may_have_acted(fake_twilio: FakeTwilio, twilio_api: TwilioApi) -> None:
    fake_twilio.script("/Calls.json", 500, {"code": 20500, "message": "Internal Server Error", "status": 500})
    with pytest.raises(ProviderError) as info:
        await TwilioVoiceChannel(twilio_api, MemoryTwilioState()).send(call())
    assert info.value.category is ErrorCategory.UNKNOWN and info.value.accepted
    assert len(fake_twilio.requests_to("/Calls.json")) == 1


async def test_invalid_number_is_permanent(fake_twilio: FakeTwilio, twilio_api: TwilioApi) -> None:
    fake_twilio.script("/Calls.json", 400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
    with pytest.raises(ProviderError) as info:
        await TwilioVoiceChannel(twilio_api, MemoryTwilioState()).send(call())
    assert info.value.category is ErrorCategory.PERMANENT and info.value.code == "21211"
    assert not info.value.accepted


async def test_hung_server_is_bounded_by_asyncio_timeout(fake_twilio: FakeTwilio) -> None:
    from aiohttp import web

    from providers.conftest import twilio_settings

    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=500)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings = twilio_settings(fake_twilio, api_base_url=f"http://127.0.0.1:{port}", request_timeout_s=0.3)
    api = await TwilioApi.open(settings)
    try:
        with pytest.raises(ProviderError) as info:
            await TwilioVoiceChannel(api, MemoryTwilioState()).send(call())
        assert info.value.category is ErrorCategory.UNKNOWN and info.value.accepted
    finally:
        release.set()
        await api.aclose()
        await runner.cleanup()


async def test_machine_gets_voicemail_update_or_hangup(fake_twilio: FakeTwilio, twilio_api: TwilioApi) -> None:
    state = MemoryTwilioState()
    channel = TwilioVoiceChannel(twilio_api, state)
    await channel.send(call("vm", voicemail_allowed=True, variables=LCM_VARS))
    left = await channel.on_machine("CA" + "1" * 32, await state.get_context("vm"))
    assert left
    [update] = fake_twilio.requests_to("/Calls/CA" + "1" * 32 + ".json")
    assert "王芳" in update.form["Twiml"][0] and "<Hangup" in update.form["Twiml"][0]
    left = await channel.on_machine("CA" + "2" * 32, None)
    assert not left
    [hangup] = fake_twilio.requests_to("/Calls/CA" + "2" * 32 + ".json")
    assert hangup.form["Status"] == ["completed"]
