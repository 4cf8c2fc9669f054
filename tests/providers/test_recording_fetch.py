"""RecordingFetcher: download from the local Twilio server, store, link, delete, retry."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.channels.twilio.client import TwilioApi
from contact_engine.recordings.fetch import RecordingFetcher
from contact_engine.store.tables import recordings
from providers.conftest import twilio_settings
from providers.media_store import DirStore
from providers.twilio_fake import FakeTwilio

SID = "RE" + "ab" * 16
WAV = b"RIFF" + bytes(range(256)) * 40


def media_url(fake: FakeTwilio, sid: str = SID) -> str:
    return f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Recordings/{sid}"


async def row(db: AsyncEngine, sid: str = SID) -> dict[str, object]:
    async with db.connect() as conn:
        result = (await conn.execute(sa.select(recordings).where(recordings.c.id == sid))).mappings().one()
    return dict(result)


async def test_download_store_then_delete(db: AsyncEngine, fake_twilio: FakeTwilio, tmp_path: Path) -> None:
    fake_twilio.media[SID] = WAV
    api = await TwilioApi.open(twilio_settings(fake_twilio, delete_recording_after_download=True))
    fetcher = RecordingFetcher(db, DirStore(tmp_path), api, backoff_base_s=0.01)
    try:
        assert await fetcher.enqueue("att-9", SID, media_url(fake_twilio), duration_s=4.0, channels=2)
        assert not await fetcher.enqueue("att-9", SID, media_url(fake_twilio))  # a replayed callback
        assert [q.id for q in await fetcher.pending()] == [SID]
        assert await fetcher.fetch(SID) == "stored"
    finally:
        await fetcher.aclose()
        await api.aclose()
    stored = await row(db)
    assert stored["status"] == "stored" and stored["attempt_id"] == "att-9"
    assert stored["sha256"] == hashlib.sha256(WAV).hexdigest() and stored["size_bytes"] == len(WAV)
    assert await asyncio.to_thread(Path(str(stored["path"])).read_bytes) == WAV
    assert stored["provider_deleted"] is True
    assert fake_twilio.deleted == [f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Recordings/{SID}.json"]
    assert await RecordingFetcher(db, DirStore(tmp_path), api).pending() == []


async def test_failed_download_stays_queued_and_is_retried(db: AsyncEngine, fake_twilio: FakeTwilio, tmp_path: Path) -> None:
    fake_twilio.media[SID] = WAV
    fake_twilio.media_failures[SID] = 2  # two 503s: more than one pass's quick retries
    api = await TwilioApi.open(twilio_settings(fake_twilio))
    fetcher = RecordingFetcher(db, DirStore(tmp_path), api, quick_retries=1, backoff_base_s=0.01)
    try:
        await fetcher.enqueue("att-1", SID, media_url(fake_twilio))
        assert await fetcher.run_pending() == 0
        [queued] = await fetcher.pending()
        assert queued.status == "failed" and queued.tries == 1 and "503" in (queued.last_error or "")
        assert await fetcher.run_pending() == 0
        assert await fetcher.run_pending() == 1
    finally:
        await fetcher.aclose()
        await api.aclose()
    stored = await row(db)
    assert stored["status"] == "stored" and stored["tries"] == 3
    assert stored["provider_deleted"] is False and fake_twilio.deleted == []


async def test_gives_up_after_max_tries_but_stays_visible(db: AsyncEngine, fake_twilio: FakeTwilio, tmp_path: Path) -> None:
    api = await TwilioApi.open(twilio_settings(fake_twilio))
    fetcher = RecordingFetcher(db, DirStore(tmp_path), api, quick_retries=1, max_tries=2)
    try:
        await fetcher.enqueue("att-2", SID, media_url(fake_twilio))  # no media: 404
        for _ in range(4):
            await fetcher.run_pending()
        [queued] = await fetcher.pending()
    finally:
        await fetcher.aclose()
        await api.aclose()
    assert queued.tries == 2 and queued.status == "failed" and "404" in (queued.last_error or "")


async def test_credentials_never_go_to_another_host(db: AsyncEngine, fake_twilio: FakeTwilio, tmp_path: Path) -> None:
    api = await TwilioApi.open(twilio_settings(fake_twilio))
    fetcher = RecordingFetcher(db, DirStore(tmp_path), api, quick_retries=1)
    try:
        await fetcher.enqueue("att-3", SID, f"https://evil.example/2010-04-01/Accounts/AC1/Recordings/{SID}")
        assert await fetcher.fetch(SID) == "failed"
        [queued] = await fetcher.pending()
    finally:
        await fetcher.aclose()
        await api.aclose()
    assert "not on Twilio's API host: evil.example" in (queued.last_error or "")
    assert fetcher.media_download_url(
        f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{SID}"
    ) == f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/{SID}.wav?RequestedChannels=2"
