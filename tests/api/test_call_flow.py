"""A whole call: the adapter places it at the local Twilio server, which then plays Twilio
and calls back the app at exactly the URLs the call request carried, signed."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.conftest import PUBLIC, Recorder, SignedClient
from contact_engine.api.app import ApiComponents, create_app
from contact_engine.channels.base import OutboundContact
from contact_engine.channels.twilio.client import TwilioApi
from contact_engine.channels.twilio.state import MemoryTwilioState
from contact_engine.channels.twilio.voice import TwilioVoiceChannel
from contact_engine.config import Settings
from contact_engine.domain import Channel, Mode, Outcome
from contact_engine.recordings.fetch import RecordingFetcher
from providers.media_store import DirStore
from providers.twilio_fake import FakeTwilio

REC = "RE" + "f" * 32


def local(url: str) -> str:
    """The path and query of one of our public URLs (the app is reached in-process)."""
    assert url.startswith(PUBLIC)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_call_answered_by_machine_then_recording_stored(
    db: AsyncEngine, fake_twilio: FakeTwilio, app_settings: Settings, tmp_path: Path
) -> None:
    recorder = Recorder()
    store = DirStore(tmp_path / "rec")
    state = MemoryTwilioState()
    holder: dict[str, object] = {}

    async def build(settings: Settings, stack: AsyncExitStack) -> ApiComponents:
        api = await TwilioApi.open(settings.twilio)
        stack.push_async_callback(api.aclose)
        voice = TwilioVoiceChannel(api, state)
        fetcher = RecordingFetcher(db, store, api)
        stack.push_async_callback(fetcher.aclose)
        holder["voice"], holder["fetcher"] = voice, fetcher
        return ApiComponents(settings=settings, sink=recorder.sink, state=state, voice=voice, recordings=fetcher)

    app = create_app(app_settings, build=build)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://internal") as client,
    ):
        http = SignedClient(client)
        voice = holder["voice"]
        assert isinstance(voice, TwilioVoiceChannel)
        receipt = await voice.send(
            OutboundContact(
                attempt_id="flow-1", account_id="A1", party_id="A1/p1", channel=Channel.VOICE,
                mode=Mode.AUTOMATED, to="+8613800138000", language="zh-CN", script="reminder",
                body="您好，这是一条提醒。", voicemail_allowed=True,
                variables={"business_name": "华信服务", "agent_name": "王芳", "callback_number": "400-800-1234"},
            )
        )
        sid = receipt.provider_ref
        [create] = fake_twilio.requests_to("/Calls.json")
        status_url = local(create.form["StatusCallback"][0])
        base = {"CallSid": sid, "AccountSid": fake_twilio.account_sid}
        for status in ("initiated", "ringing", "in-progress"):
            assert (await http.post(status_url, base | {"CallStatus": status})).status_code == 204
        answer = await http.post(local(create.form["Url"][0]), base | {"CallStatus": "in-progress"})
        assert "您好，这是一条提醒。" in answer.text
        amd = await http.post(local(create.form["AsyncAmdStatusCallback"][0]), base | {"AnsweredBy": "machine_end_beep"})
        assert amd.status_code == 204
        [redirect] = fake_twilio.requests_to(f"/Calls/{sid}.json")
        assert "王芳" in redirect.form["Twiml"][0]
        await http.post(status_url, base | {"CallStatus": "completed", "CallDuration": "25"})
        fake_twilio.media[REC] = b"RIFF" + b"\x00" * 4000
        recording = base | {
            "RecordingSid": REC, "RecordingStatus": "completed", "RecordingChannels": "2", "RecordingDuration": "20",
            "RecordingUrl": f"{fake_twilio.base_url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Recordings/{REC}",
        }
        assert (await http.post(local(create.form["RecordingStatusCallback"][0]), recording)).status_code == 204
        fetcher = holder["fetcher"]
        assert isinstance(fetcher, RecordingFetcher)
        assert await fetcher.run_pending() == 1
    statuses = [(r.status, r.outcome) for r in recorder.reports]
    assert statuses == [
        ("initiated", None), ("ringing", None), ("in-progress", None), ("amd", None),
        ("completed", Outcome.VOICEMAIL), ("recording-completed", None),
    ]
    assert all(r.attempt_id == "flow-1" for r in recorder.reports)
    assert (tmp_path / "rec" / "flow-1.wav").stat().st_size == 4004


async def test_calls_and_texts_reach_final_outcomes_through_played_callbacks(
    fake_twilio: FakeTwilio, app_settings: Settings
) -> None:
    from contact_engine.channels.twilio.sms import TwilioSmsChannel
    from providers.twilio_play import TwilioPlayer

    recorder = Recorder()
    state = MemoryTwilioState()

    async def build(settings: Settings, stack: AsyncExitStack) -> ApiComponents:
        return ApiComponents(settings=settings, sink=recorder.sink, state=state)

    app = create_app(app_settings, build=build)
    transport = httpx.ASGITransport(app=app)
    api = await TwilioApi.open(app_settings.twilio)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://internal") as client,
        ):
            async def post(path: str, body: str, headers: dict[str, str]) -> int:
                return (await client.post(path, content=body, headers=headers)).status_code

            voice, sms = TwilioVoiceChannel(api, state), TwilioSmsChannel(api)
            for i in range(3):
                await voice.send(OutboundContact(
                    attempt_id=f"c{i}", account_id="A", party_id="A/p", channel=Channel.VOICE, mode=Mode.AUTOMATED,
                    to="+8613800138000", language="zh-CN", script="s", body="您好。",
                ))
            for i in range(2):
                await sms.send(OutboundContact(
                    attempt_id=f"s{i}", account_id="A", party_id="A/p", channel=Channel.SMS, mode=Mode.AUTOMATED,
                    to="+8613800138000", language="zh-CN", script="s", body="提醒。回复TD退订",
                ))
            player = TwilioPlayer(fake_twilio, PUBLIC, post)
            assert await player.play() == 5
            assert await player.play() == 0  # each played once
    finally:
        await api.aclose()
    finals = {r.attempt_id: r.outcome for r in recorder.reports if r.final}
    assert finals == {
        "c0": Outcome.CONNECTED, "c1": Outcome.CONNECTED, "c2": Outcome.CONNECTED,
        "s0": Outcome.DELIVERED, "s1": Outcome.DELIVERED,
    }
