"""The simulated provider: seeded, reproducible, reports through the same report type."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from contact_engine.channels.base import OutboundContact
from contact_engine.channels.simulated import OutcomeModel, SimulatedChannel, SimulatedNetwork
from contact_engine.channels.simulated.network import report_of
from contact_engine.domain import Channel, Mode, Outcome

AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def contact(i: int, channel: Channel = Channel.VOICE, hour: int = 10) -> OutboundContact:
    return OutboundContact(
        attempt_id=f"a{i}", account_id=f"A{i}", party_id=f"A{i}/debtor", channel=channel, mode=Mode.AUTOMATED,
        to="+8613800138000", language="zh-CN", script="light_call", body="您好，这里是示例银行。请按时还款。",
        variables={"sim_local_hour": str(hour), "sim_dpd": "5", "sim_balance": "1000.00"},
    )


def test_same_seed_same_outcomes_whatever_the_order() -> None:
    model = OutcomeModel(seed=3)
    kw = {"local_hour": 10, "dpd": 5, "third_party": False, "balance": Decimal("100")}
    forward = [model.draw(f"a{i}", Channel.VOICE, **kw).outcome for i in range(200)]  # type: ignore[arg-type]
    backward = [model.draw(f"a{i}", Channel.VOICE, **kw).outcome for i in reversed(range(200))]  # type: ignore[arg-type]
    assert forward == list(reversed(backward))
    other = [OutcomeModel(seed=4).draw(f"a{i}", Channel.VOICE, **kw).outcome for i in range(200)]  # type: ignore[arg-type]
    assert other != forward
    counts = Counter(forward)
    assert counts[Outcome.NO_ANSWER] > 0 and len(counts) >= 4


async def test_reports_come_back_when_due_with_transcripts() -> None:
    now = [AT]
    network = SimulatedNetwork(OutcomeModel(seed=1))
    channel = SimulatedChannel(network, lambda: now[0])
    for i in range(300):
        await channel.send(contact(i))
    await channel.send(contact(999, Channel.SMS))
    assert await network.due(AT) == []  # nothing ends at the instant it starts
    nxt = await network.next_at()
    assert nxt is not None and nxt > AT
    events = await network.due(datetime(2026, 3, 3, tzinfo=UTC))
    reports = [report_of(e) for e in events if e["kind"] == "report"]
    assert len(reports) == 301 and all(r.final for r in reports)
    talked = [r for r in reports if r.recording_ref]
    assert talked and all(r.detail["transcript"][0]["speaker"] == "agent" for r in talked)
    assert await channel.was_sent("a5") and not await channel.was_sent("zzz")
    assert await network.state.duplicates() == 0
    await channel.send(contact(5))
    assert await network.state.duplicates() == 1


async def _placed(channel: SimulatedChannel, batch: bool, contacts: list[OutboundContact]) -> list[object]:
    if batch:
        return list(await channel.send_many(contacts))
    return [await channel.send(c) for c in contacts]


async def test_a_batch_places_exactly_what_one_by_one_sends_place(redis: object, redis_prefix: str) -> None:
    from contact_engine.channels.simulated import MemoryNetworkState, RedisNetworkState
    from contact_engine.errors import ProviderError

    contacts = [contact(i, [Channel.VOICE, Channel.SMS, Channel.EMAIL][i % 3], hour=9 + i % 8) for i in range(60)]
    contacts.append(contact(7))  # sent twice in the batch: a duplicate, as one by one
    seen: dict[tuple[str, bool], tuple[list[str], list[dict[str, object]], int]] = {}
    for state_kind in ("memory", "redis"):
        for batch in (False, True):
            state = (MemoryNetworkState() if state_kind == "memory" else
                     RedisNetworkState(redis, f"{redis_prefix}{batch}:"))  # type: ignore[arg-type]
            network = SimulatedNetwork(OutcomeModel(seed=5), state)
            channel = SimulatedChannel(network, lambda: AT)
            receipts = await _placed(channel, batch, contacts)
            assert not any(isinstance(r, ProviderError) for r in receipts)
            refs = [r.provider_ref for r in receipts]  # type: ignore[union-attr]
            events = await network.due(datetime(2026, 5, 1, tzinfo=UTC), limit=10_000)
            seen[(state_kind, batch)] = (refs, events, await state.duplicates())
            assert channel.sent == len(contacts)
    first = seen[("memory", False)]
    assert first[0][-1] == "SIMa7-2" and first[2] == 1
    assert len(first[1]) > len(contacts)  # reports, and payments or broken promises after promises
    for state_kind in ("memory", "redis"):  # the same events in the same order
        assert seen[(state_kind, True)] == seen[(state_kind, False)], state_kind

    def key(e: dict[str, object]) -> str:
        return repr(sorted(e.items()))

    # (the states order events due at the same instant differently)
    assert sorted(seen[("redis", True)][1], key=key) == sorted(first[1], key=key)


async def test_the_default_batch_send_reports_a_refusal_per_contact() -> None:
    from contact_engine.channels.base import ChannelAdapter, SendReceipt
    from contact_engine.errors import ErrorCategory, ProviderError

    class SmsOnly(ChannelAdapter):
        provider = "sms-only"
        channels = frozenset({Channel.SMS})

        def __init__(self) -> None:
            super().__init__()
            self.in_flight = self.most_in_flight = 0

        async def _send(self, c: OutboundContact) -> SendReceipt:
            import asyncio

            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            await asyncio.sleep(0.001)
            self.in_flight -= 1
            if c.attempt_id == "a3":
                raise ProviderError("refused", category=ErrorCategory.PERMANENT)
            return SendReceipt(provider=self.provider, provider_ref=f"R{c.attempt_id}", accepted_at=AT)

    adapter = SmsOnly()
    out = await adapter.send_many([contact(i, Channel.SMS) for i in range(10)] + [contact(10, Channel.VOICE)],
                                  concurrency=4)
    assert [r.provider_ref for r in out if isinstance(r, SendReceipt)] == [f"Ra{i}" for i in range(10) if i != 3]
    assert isinstance(out[3], ProviderError) and str(out[3]) == "refused"
    assert isinstance(out[10], ProviderError) and "does not serve" in str(out[10])
    assert adapter.most_in_flight == 4 and adapter.sent == 9 and adapter.failed == 1
