"""Recording callbacks queue downloads; the retry loop stores them; the API lists the queue."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from api.conftest import Recorder, SignedClient
from contact_engine.api.app import ApiComponents, create_app
from contact_engine.channels.twilio.client import TwilioApi
from contact_engine.channels.twilio.state import MemoryTwilioState
from contact_engine.config import Settings
from contact_engine.recordings.fetch import RecordingFetcher
from providers.media_store import DirStore
from providers.twilio_fake import FakeTwilio

REC = "RE" + "d" * 32


def recording_form(fake: FakeTwilio) -> dict[str, str]:
    return {
        "CallSid": "CA" + "e" * 32, "RecordingSid": REC, "RecordingStatus": "completed",
        "RecordingUrl": f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Recordings/{REC}",
        "RecordingDuration": "12", "RecordingChannels": "2",
    }


async def test_callback_queues_and_loop_stores(
    db: AsyncEngine, fake_twilio: FakeTwilio, app_settings: Settings, tmp_path: Path
) -> None:
    store = DirStore(tmp_path / "rec")
    recorder = Recorder()
    fetchers: list[RecordingFetcher] = []

    async def build(settings: Settings, stack: AsyncExitStack) -> ApiComponents:
        api = await TwilioApi.open(settings.twilio)
        stack.push_async_callback(api.aclose)
        fetcher = RecordingFetcher(db, store, api, backoff_base_s=0.01)
        stack.push_async_callback(fetcher.aclose)
        fetchers.append(fetcher)
        comps = ApiComponents(settings=settings, sink=recorder.sink, state=MemoryTwilioState(), recordings=fetcher)
        comps.background.append(lambda stop: fetcher.run(stop, interval_s=0.05))
        return comps

    app = create_app(app_settings, build=build)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://internal") as client,
    ):
        http = SignedClient(client)
        # Not at Twilio yet: the loop fails and the recording stays queued, visibly.
        resp = await http.post("/twilio/voice/recording?attempt=att-7", recording_form(fake_twilio))
        assert resp.status_code == 204
        listed = (await client.get("/recordings/pending")).json()
        assert [(r["recording_id"], r["attempt_id"]) for r in listed] == [(REC, "att-7")]
        fake_twilio.media[REC] = b"RIFF-wave-bytes" * 100
        async with asyncio.timeout(30):
            await store.stored.wait()
    # Shutdown let the loop finish its pass: the row is marked stored.
    assert await fetchers[0].pending() == []
    assert (tmp_path / "rec" / "att-7.wav").exists()
    [report] = recorder.reports
    assert report.recording_ref == REC


async def test_pending_without_fetcher_is_503(harness: object) -> None:
    from api.conftest import Harness

    assert isinstance(harness, Harness)
    resp = await harness.http.client.get("/recordings/pending")
    assert resp.status_code == 503
