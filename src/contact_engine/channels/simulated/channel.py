"""The simulated provider behind the same ChannelAdapter contract as Twilio and SMTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from contact_engine.channels.base import ChannelAdapter, OutboundContact, SendReceipt, TokenBucket
from contact_engine.channels.simulated.network import SimulatedNetwork
from contact_engine.domain import Channel


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

    async def was_sent(self, attempt_id: str) -> bool:
        """Reconcile after a crash: did the network take this attempt?"""
        return await self.network.state.was_sent(attempt_id)
