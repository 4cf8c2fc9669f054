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
