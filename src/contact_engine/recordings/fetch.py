"""Download call recordings from Twilio into the recording store.

The recording callback queues a row in the ``recordings`` table (status ``pending``). A
fetch downloads the media with the account's credentials (bounded time, a few quick tries),
stores it through the recording store with its sha256, marks the row ``stored``, and only
then, when ``settings.twilio.delete_recording_after_download`` is set, deletes the
recording at Twilio. A failed download stays queued (``failed``, with ``tries`` and
``last_error``) and is visible through :meth:`RecordingFetcher.pending`; the retry loop
(:meth:`RecordingFetcher.run`) picks it up again until ``max_tries``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.channels.twilio.client import TwilioApi
from contact_engine.clock import Clock, SystemClock
from contact_engine.errors import ProviderError
from contact_engine.store.tables import recordings

log = logging.getLogger(__name__)

TWILIO_API_HOST = "api.twilio.com"


class StoredMedia(Protocol):
    """What the recording store returns (``recordings.store.StoredRecording``)."""

    @property
    def path(self) -> Path | str: ...
    @property
    def sha256(self) -> str: ...
    @property
    def size_bytes(self) -> int: ...


class MediaStore(Protocol):
    """The part of ``recordings.store.RecordingStore`` the fetcher uses."""

    async def put(self, attempt_id: str, data: bytes, suffix: str) -> StoredMedia: ...


@dataclass(frozen=True, slots=True)
class QueuedRecording:
    """A recording not yet stored (pending or failed)."""

    id: str
    attempt_id: str
    media_url: str
    status: str
    tries: int
    last_error: str | None
    created_at: datetime


class DownloadError(Exception):
    """One download failed; ``retryable`` says whether another try can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class RecordingFetcher:
    """Queue, download, store and (optionally) delete Twilio recordings."""

    def __init__(
        self,
        engine: AsyncEngine,
        store: MediaStore,
        twilio: TwilioApi,
        *,
        max_tries: int = 8,
        quick_retries: int = 3,
        download_timeout_s: float = 120.0,
        backoff_base_s: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.twilio = twilio
        self.max_tries = max_tries
        self.quick_retries = quick_retries
        self.download_timeout_s = download_timeout_s
        self.backoff_base_s = backoff_base_s
        self.clock = clock or SystemClock()
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def enqueue(
        self,
        attempt_id: str,
        recording_sid: str,
        media_url: str,
        *,
        duration_s: float | None = None,
        channels: int | None = None,
    ) -> bool:
        """Queue a recording for download; False when it was already queued (idempotent)."""
        row = {
            "id": recording_sid,
            "attempt_id": attempt_id,
            "provider": "twilio",
            "provider_ref": recording_sid,
            "media_url": media_url,
            "duration_s": duration_s,
            "channels": channels,
            "status": "pending",
            "tries": 0,
            "provider_deleted": False,
            "created_at": self.clock.now(),
        }
        try:
            async with self.engine.begin() as conn:
                await conn.execute(recordings.insert().values(**row))
        except IntegrityError:
            return False
        return True

    async def pending(self) -> list[QueuedRecording]:
        """Recordings not stored yet (pending or failed), oldest first."""
        query = (
            sa.select(recordings)
            .where(recordings.c.status.in_(("pending", "failed")))
            .order_by(recordings.c.created_at, recordings.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            QueuedRecording(
                id=r["id"], attempt_id=r["attempt_id"], media_url=r["media_url"] or "",
                status=r["status"], tries=r["tries"], last_error=r["last_error"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    async def _download_once(self, url: str) -> bytes:
        sid, token = self.twilio.auth
        # Credentials as a header: aiohttp drops it when a redirect leaves the origin.
        headers = {"Authorization": aiohttp.encode_basic_auth(sid, token)}
        try:
            async with (
                asyncio.timeout(self.download_timeout_s),
                self._http().get(url, headers=headers, allow_redirects=True) as resp,
            ):
                if resp.status >= 500 or resp.status == 429:
                    raise DownloadError(f"HTTP {resp.status}", retryable=True)
                if resp.status >= 400:
                    raise DownloadError(f"HTTP {resp.status}", retryable=resp.status == 404)
                data = await resp.read()
        except TimeoutError:
            raise DownloadError(f"no answer within {self.download_timeout_s:g} s", retryable=True) from None
        except aiohttp.ClientError as exc:
            raise DownloadError(f"{type(exc).__name__}: {exc}", retryable=True) from None
        if not data:
            raise DownloadError("empty media", retryable=True)
        return data

    def media_download_url(self, media_url: str) -> str:
        """WAV with both channels; a relative URL is resolved against the API base.

        Raises:
            DownloadError: the URL is not on Twilio's API host (credentials go only there).
        """
        url = media_url if media_url.startswith("http") else self.twilio.base_url + media_url
        host = urlsplit(url).netloc
        if host not in {TWILIO_API_HOST, urlsplit(self.twilio.base_url).netloc}:
            raise DownloadError(f"media URL is not on Twilio's API host: {host}", retryable=False)
        url = url.removesuffix(".json")
        return f"{url}.wav?RequestedChannels=2"

    async def fetch(self, recording_id: str) -> str:
        """Download and store one queued recording; returns its new status.

        A recording just made may not be available yet (404); that counts as a failed try.
        """
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(sa.select(recordings).where(recordings.c.id == recording_id))
            ).mappings().first()
        if row is None:
            raise KeyError(recording_id)
        if row["status"] == "stored":
            return "stored"
        error: DownloadError | None = None
        data: bytes | None = None
        try:
            url = self.media_download_url(row["media_url"])
        except DownloadError as exc:
            await self._mark_failed(recording_id, row["tries"] + 1, str(exc))
            return "failed"
        for attempt in range(self.quick_retries):
            try:
                data = await self._download_once(url)
                break
            except DownloadError as exc:
                error = exc
                if not exc.retryable or attempt == self.quick_retries - 1:
                    break
                await asyncio.sleep(self.backoff_base_s * (2**attempt))
        if data is None:
            assert error is not None
            await self._mark_failed(recording_id, row["tries"] + 1, str(error))
            log.warning("recording %s: download failed: %s", recording_id, error)
            return "failed"
        stored = await self.store.put(row["attempt_id"], data, ".wav")
        async with self.engine.begin() as conn:
            await conn.execute(
                recordings.update()
                .where(recordings.c.id == recording_id)
                .values(
                    status="stored", path=str(stored.path), sha256=stored.sha256,
                    size_bytes=stored.size_bytes, tries=row["tries"] + 1, last_error=None,
                    stored_at=self.clock.now(),
                )
            )
        if self.twilio.settings.delete_recording_after_download:
            await self._delete_at_provider(recording_id)
        return "stored"

    async def _mark_failed(self, recording_id: str, tries: int, error: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                recordings.update()
                .where(recordings.c.id == recording_id)
                .values(status="failed", tries=tries, last_error=error[:2000])
            )

    async def _delete_at_provider(self, recording_id: str) -> None:
        """Delete at Twilio only after the copy is stored; a failure leaves it there (logged)."""
        api = self.twilio
        try:
            await api.call(lambda: api.client.recordings(recording_id).delete_async(), posted=True)
        except ProviderError as exc:
            log.warning("recording %s: stored, but delete at Twilio failed: %s", recording_id, exc)
            async with self.engine.begin() as conn:
                await conn.execute(
                    recordings.update().where(recordings.c.id == recording_id).values(last_error=f"delete: {exc}")
                )
            return
        async with self.engine.begin() as conn:
            await conn.execute(
                recordings.update().where(recordings.c.id == recording_id).values(provider_deleted=True)
            )

    async def run_pending(self) -> int:
        """One pass over the queue (tries below ``max_tries``); returns how many were stored."""
        stored = 0
        for queued in await self.pending():
            if queued.tries >= self.max_tries:
                continue
            if await self.fetch(queued.id) == "stored":
                stored += 1
        return stored

    async def run(self, stop: asyncio.Event, interval_s: float = 60.0) -> None:
        """The retry loop: a pass, then wait ``interval_s`` or until ``stop`` is set."""
        while not stop.is_set():
            await self.run_pending()
            try:
                async with asyncio.timeout(interval_s):
                    await stop.wait()
            except TimeoutError:
                continue
