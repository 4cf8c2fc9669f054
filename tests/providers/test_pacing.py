"""Pacing, measured where Twilio would see it: at the local server, by arrival time."""

from __future__ import annotations

import asyncio
import bisect

from contact_engine.channels.base import OutboundContact
from contact_engine.channels.twilio.client import TwilioApi
from contact_engine.channels.twilio.state import MemoryTwilioState
from contact_engine.channels.twilio.voice import TwilioVoiceChannel
from contact_engine.domain import Channel, Mode
from providers.conftest import twilio_settings
from providers.twilio_fake import FakeTwilio

CALLS = 300
RATE = 5.0


def busiest_second(arrivals: list[float]) -> int:
    """The most requests in any one-second window [t, t + 1) starting at an arrival."""
    times = sorted(arrivals)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


def test_busiest_second_counts_windows() -> None:
    assert busiest_second([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert busiest_second([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]) == 5
    assert busiest_second([0.0, 0.2, 0.4, 0.6, 0.8, 0.999]) == 6


async def test_300_calls_at_5_per_second_never_exceed_5_in_any_second(fake_twilio: FakeTwilio) -> None:
    api = await TwilioApi.open(twilio_settings(fake_twilio, calls_per_second=RATE))
    channel = TwilioVoiceChannel(api, MemoryTwilioState())
    contacts = [
        OutboundContact(
            attempt_id=f"pace-{i}", account_id=f"A{i}", party_id=f"A{i}/p1", channel=Channel.VOICE,
            mode=Mode.AUTOMATED, to=f"+861380013{i:04d}", language="zh-CN", script="reminder",
            body="您好，这是一条提醒。",
        )
        for i in range(CALLS)
    ]
    try:
        async with asyncio.TaskGroup() as tg:
            for contact in contacts:
                tg.create_task(channel.send(contact))
    finally:
        await api.aclose()
    arrivals = [r.at for r in fake_twilio.requests_to("/Calls.json")]
    assert len(arrivals) == CALLS and channel.sent == CALLS
    peak = busiest_second(arrivals)
    span = max(arrivals) - min(arrivals)
    print(f"pacing: {CALLS} calls in {span:.1f} s, busiest one-second window {peak} (limit {RATE:g})")
    assert peak <= RATE
    # Pacing, not starvation: the calls still go out close to the configured rate.
    assert span < CALLS / RATE * 1.15
