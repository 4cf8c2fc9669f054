"""The delayed queue, stream, claim and reclaim on embedded and real Redis."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import redis.asyncio as aioredis

from contact_engine.dispatch.keys import DispatchKeys
from contact_engine.dispatch.queue import Claim, DispatchQueue, decode_intent, encode_intent
from contact_engine.domain import Channel, Intent, Mode

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def _intent(i: int, at: datetime) -> Intent:
    return Intent(
        id=f"i{i}", campaign_id="c", step_id="s", account_id=f"A{i}", party_id=f"A{i}/debtor",
        channel=Channel.SMS, mode=Mode.AUTOMATED, contact_point="+8613800000000",
        not_before=at, script="reminder_sms", local_day=date(2026, 3, 10),
    )


def test_intent_round_trip() -> None:
    i = _intent(1, T0)
    assert decode_intent(encode_intent(i)) == i


async def test_delayed_then_stream_then_claim(redis: aioredis.Redis, redis_prefix: str) -> None:
    q = DispatchQueue(redis, DispatchKeys(redis_prefix))
    await q.ensure_group()
    await q.ensure_group()  # idempotent
    intents = [_intent(i, T0 + timedelta(minutes=i)) for i in range(5)]
    assert await q.schedule(intents) == 5
    assert await q.schedule(intents) == 0  # scheduling twice adds nothing
    assert await q.promote(T0 + timedelta(minutes=2)) == 3
    assert await q.waiting() == 2
    got = await q.read("w1", count=10)
    assert [d.intent.id for d in got] == ["i0", "i1", "i2"]
    assert await q.claim("i0", "w1") is True
    assert await q.claim("i0", "w2") is False
    assert await q.claimed_by("i0") == "w1"
    await q.ack(got[0].entry_id)
    # w1 "crashes": w2 takes over the two unacknowledged entries
    taken = await q.reclaim("w2", min_idle_ms=0)
    assert sorted(d.intent.id for d in taken) == ["i1", "i2"]
    assert await q.read("w2", count=10) == []


async def test_reservations_are_noted_only_in_the_owners_claims(redis: aioredis.Redis, redis_prefix: str) -> None:
    q = DispatchQueue(redis, DispatchKeys(redis_prefix), claim_ttl_s=600)
    assert await q.claim_many(["i1", "i2"], "w1") == [True, True]
    assert await q.claim("i3", "w2") is True
    at = T0 + timedelta(milliseconds=250)
    noted = await q.note_reservations("w1", [("i1", "r1", at), ("i3", "r3", at), ("i4", "r4", at)])
    assert noted == 1  # i3 is w2's, i4 nobody's: neither is touched
    claims = await q.claims(["i1", "i2", "i3", "i4"])
    assert claims["i1"] == Claim("w1", "r1", at)
    assert claims["i2"] == Claim("w1") and claims["i3"] == Claim("w2")
    assert "i4" not in claims
    assert await q.claimed_by("i1") == "w1"
    assert 590 < await redis.ttl(q.keys.claim("i1")) <= 600
    assert await q.owners_alive(["i1"]) == {"i1": False}  # no heartbeat
    await q.heartbeat("w1", 60_000)
    assert await q.owners_alive(["i1"]) == {"i1": True}
    try:
        await q.note_reservations("a|r=b", [("i2", "r2", at)])
        raise AssertionError("a name with the note mark should be refused")
    except ValueError:
        pass
