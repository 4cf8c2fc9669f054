"""The channel contract.

An adapter implements one method, :meth:`ChannelAdapter._send`: hand one message or call
to the provider and return the provider's reference. The base class owns what every
adapter needs: pacing, the timeout, error classification, and metrics.

Progress after the provider accepted (ringing, answered, completed, delivered, recording
ready) comes back as :class:`ProviderReport` values through one :class:`ReportSink`, the
same path for webhooks of real providers and for the simulator.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contact_engine.domain import Channel, Mode, Outcome
from contact_engine.errors import ErrorCategory, ProviderError


@dataclass(frozen=True, slots=True)
class OutboundContact:
    """Everything a provider needs to place one contact the gate reserved."""

    attempt_id: str
    account_id: str
    party_id: str
    channel: Channel
    mode: Mode
    to: str  # E.164 phone or email address
    language: str
    script: str  # template name in scripts_tts/
    body: str = ""  # rendered text (SMS, email body, or the call script)
    subject: str | None = None
    third_party: bool = False  # True: the content carries no debt details
    voicemail_allowed: bool = False  # a limited-content voicemail is allowed for this contact
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """The provider accepted the contact."""

    provider: str
    provider_ref: str
    accepted_at: datetime


@dataclass(frozen=True, slots=True)
class ProviderReport:
    """A progress report on an accepted contact (webhook or simulator)."""

    attempt_id: str
    provider: str
    provider_ref: str
    status: str  # provider status: initiated, ringing, in-progress, completed, delivered, ...
    at: datetime
    outcome: Outcome | None = None  # set when the report is final
    duration_s: float | None = None
    recording_url: str | None = None
    recording_ref: str | None = None
    digits: str | None = None  # keypresses (press 1 for a collector)
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.outcome is not None


ReportSink = Callable[[ProviderReport], Awaitable[None]]


class TokenBucket:
    """Holds a rate (per second) with a small burst; one per provider account."""

    def __init__(self, rate_per_s: float, burst: float = 1.0) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate_per_s
        self.capacity = max(1.0, burst)
        self._tokens = self.capacity
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)


class ChannelAdapter(ABC):
    """Base of every provider adapter."""

    #: the provider's name, stored with every attempt ("twilio", "smtp", "simulated")
    provider: str = "unknown"
    #: the channels this adapter serves
    channels: frozenset[Channel] = frozenset()

    def __init__(self, *, pacing: TokenBucket | None = None, timeout_s: float = 30.0) -> None:
        self._pacing = pacing
        self._timeout_s = timeout_s
        self.sent = 0
        self.failed = 0

    async def send(self, contact: OutboundContact) -> SendReceipt:
        """Place ``contact`` with the provider: paced, bounded in time, errors classified.

        Raises ProviderError. ``accepted`` on the error says whether the provider may
        already have acted (then the gate reservation must be kept, not released).
        """
        unserved = self._refuse_unserved(contact)
        if unserved is not None:
            raise unserved
        if self._pacing is not None:
            await self._pacing.acquire()
        try:
            async with asyncio.timeout(self._timeout_s):
                receipt = await self._send(contact)
        except TimeoutError:
            self.failed += 1
            # The request may have reached the provider: the outcome is unknown.
            raise ProviderError(
                f"{self.provider}: no answer within {self._timeout_s:g} s",
                category=ErrorCategory.UNKNOWN,
                accepted=True,
            ) from None
        except ProviderError:
            self.failed += 1
            raise
        self.sent += 1
        return receipt

    async def send_many(self, contacts: Sequence[OutboundContact], *,
                        concurrency: int = 64) -> list[SendReceipt | ProviderError]:
        """Place many contacts; for each, its receipt or the ProviderError that refused it.

        By default every contact goes through ``send`` (paced, bounded in time), at most
        ``concurrency`` at once. An adapter that can hand a whole batch to its provider
        at once overrides this (the simulator does).
        """
        sem = asyncio.Semaphore(concurrency)

        async def one(contact: OutboundContact) -> SendReceipt | ProviderError:
            async with sem:
                try:
                    return await self.send(contact)
                except ProviderError as exc:
                    return exc

        return list(await asyncio.gather(*(one(c) for c in contacts)))

    def _refuse_unserved(self, contact: OutboundContact) -> ProviderError | None:
        """The error for a contact on a channel this adapter does not serve, else None."""
        if contact.channel in self.channels:
            return None
        return ProviderError(f"{self.provider} does not serve {contact.channel}",
                             category=ErrorCategory.PERMANENT)

    @abstractmethod
    async def _send(self, contact: OutboundContact) -> SendReceipt:
        """Hand the contact to the provider; raise ProviderError on refusal."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release provider clients (called by the engine on shutdown)."""
