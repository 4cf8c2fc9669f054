"""The simulated provider behind the same ChannelAdapter contract as Twilio and SMTP."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from contact_engine.channels.base import ChannelAdapter, OutboundContact, SendReceipt, TokenBucket
from contact_engine.channels.simulated.network import SimulatedNetwork
from contact_engine.domain import Channel
from contact_engine.errors import ProviderError


class SimulatedChannel(ChannelAdapter):
    """Voice, SMS and email on the simulated network; the time comes from the engine's clock."""

    provider = "simulated"
    channels = frozenset({Channel.VOICE, Channel.SMS, Channel.EMAIL})

    def __init__(self, network: SimulatedNetwork, now: Callable[[], datetime], *,
                 pacing: TokenBucket | None = None) -> None:
        super().__init__(pacing=pacing)
        self.network = network
        self._now = now

    async def _send(self, contact: OutboundContact) -> SendReceipt:
        at = self._now()
        ref = await self.network.place(contact, at)
        return SendReceipt(provider=self.provider, provider_ref=ref, accepted_at=at)

    async def send_many(self, contacts: Sequence[OutboundContact], *,
                        concurrency: int = 64) -> list[SendReceipt | ProviderError]:
        """The whole batch in one placing on the network (no task, timer or semaphore per
        contact: a simulated batch holds thousands); paced adapters send one by one."""
        if self._pacing is not None:
            return await super().send_many(contacts, concurrency=concurrency)
        out: list[SendReceipt | ProviderError | None] = [self._refuse_unserved(c) for c in contacts]
        todo = [i for i, refused in enumerate(out) if refused is None]
        at = self._now()
        refs = await self.network.place_many([contacts[i] for i in todo], at)
        for i, ref in zip(todo, refs, strict=True):
            out[i] = SendReceipt(provider=self.provider, provider_ref=ref, accepted_at=at)
        self.sent += len(todo)
        return [r for r in out if r is not None]

    async def was_sent(self, attempt_id: str) -> bool:
        """Reconcile after a crash: did the network take this attempt?"""
        return await self.network.state.was_sent(attempt_id)
