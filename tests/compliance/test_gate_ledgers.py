"""One contract suite for the gate over the in-memory ledger and Redis (embedded and real)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from contact_engine.compliance.gate import INFLIGHT_RULE, Gate
from contact_engine.compliance.ledger import MemoryLedger, RedisLedger
from contact_engine.compliance.policy import load_packs
from contact_engine.domain import (
    Account,
    Address,
    AttemptRequest,
    Channel,
    ContactKind,
    ContactPoint,
    HistoryEntry,
    Mode,
    Outcome,
    Party,
    Role,
)

NOW = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
CP = "+8613800138000"


def account(n: int = 1, *, employer_email: bool = False) -> Account:
    pid = f"A{n}/debtor"
    points = [ContactPoint(pid, ContactKind.PHONE, CP),
              ContactPoint(pid, ContactKind.EMAIL, "w@corp.example", employer_provided=employer_email)]
    return Account(id=f"A{n}", due_date=date(2026, 2, 1), address=Address(country="CN"),
                   parties=(Party(pid, Role.DEBTOR, contact_points=tuple(points)),))


def call(acct: Account, channel: Channel = Channel.VOICE, cp: str = CP) -> AttemptRequest:
    return AttemptRequest(channel, Mode.AUTOMATED, acct.parties[0].id, cp, account_id=acct.id)


@pytest.fixture(params=["memory", "redis"])
async def gate(request: pytest.FixtureRequest, redis: aioredis.Redis,
               redis_prefix: str) -> AsyncIterator[Gate]:
    """The same gate over each ledger (the memory twin runs beside each Redis backend)."""
    packs = load_packs(["cn-agency-code", "cn-cba-2026"])
    ledger = MemoryLedger() if request.param == "memory" else RedisLedger(redis)
    yield Gate(packs, ledger, redis_prefix)


async def test_reserve_counts_and_release_refunds(gate: Gate) -> None:
    acct = account()
    for i in range(10):
        d = await gate.reserve(acct, call(acct), NOW + timedelta(minutes=i))
        assert d.allowed and d.reservation_id, d.denied_by
        outcome = Outcome.CONNECTED if i < 4 else Outcome.NO_ANSWER
        assert await gate.commit(d.reservation_id, outcome, NOW + timedelta(minutes=i))
    denied = await gate.reserve(acct, call(acct), NOW + timedelta(minutes=30))
    assert not denied.allowed
    assert {x.rule for x in denied.denied_by} == {"CN-CALLS-TOTAL", "CBA-UNANSWERED"}
    # A reservation released (never placed) gives its count back.
    acct2 = account(2)
    d = await gate.reserve(acct2, call(acct2), NOW)
    assert d.reservation_id and await gate.release(d.reservation_id)
    assert not await gate.release(d.reservation_id)  # idempotent
    assert not await gate.commit(d.reservation_id, Outcome.CONNECTED, NOW)
    for i in range(10):
        d = await gate.reserve(acct2, call(acct2), NOW + timedelta(minutes=i + 1))
        assert d.allowed and d.reservation_id, d.denied_by
        await gate.commit(d.reservation_id, Outcome.BUSY if i < 5 else Outcome.CONNECTED, NOW)
    assert not (await gate.reserve(acct2, call(acct2), NOW + timedelta(hours=1))).allowed


async def test_one_voice_attempt_in_flight_per_account(gate: Gate) -> None:
    acct = account()
    first = await gate.reserve(acct, call(acct), NOW)
    assert first.allowed and first.reservation_id
    second = await gate.reserve(acct, call(acct), NOW)
    assert not second.allowed and [d.rule for d in second.denied_by] == [INFLIGHT_RULE]
    assert second.next_allowed_at == NOW + timedelta(seconds=60)
    sms = await gate.reserve(acct, call(acct, Channel.SMS), NOW)
    assert sms.allowed  # the lock is for voice only
    await gate.commit(first.reservation_id, Outcome.CONNECTED, NOW)
    assert (await gate.reserve(acct, call(acct), NOW + timedelta(minutes=1))).allowed


async def test_commit_applies_outcome_effects(gate: Gate) -> None:
    acct = account()
    d = await gate.reserve(acct, call(acct, Channel.SMS), NOW)
    assert d.reservation_id
    await gate.commit(d.reservation_id, Outcome.OPT_OUT, NOW)
    again = await gate.reserve(acct, call(acct, Channel.SMS), NOW + timedelta(minutes=1))
    assert {x.rule for x in again.denied_by} == {"CN-OPTOUT", "CBA-OPTOUT"}
    assert again.next_allowed_at is None
    d = await gate.reserve(acct, call(acct), NOW)
    assert d.reservation_id
    await gate.commit(d.reservation_id, Outcome.DISPUTE, NOW)
    held = await gate.reserve(acct, call(acct), NOW + timedelta(minutes=5))
    assert "CN-DISPUTE" in {x.rule for x in held.denied_by} and held.next_allowed_at is None


async def test_decide_is_a_dry_run(gate: Gate) -> None:
    acct = account()
    for _ in range(3):
        assert (await gate.decide(acct, call(acct), NOW)).allowed
    d = await gate.reserve(acct, call(acct), NOW)
    assert d.allowed  # decide took no lock and counted nothing


async def test_record_replays_history(gate: Gate) -> None:
    acct = account()
    for i in range(6):
        await gate.record(acct, HistoryEntry(NOW - timedelta(minutes=i), Channel.VOICE,
                                             Mode.AUTOMATED, acct.parties[0].id, CP,
                                             Outcome.NO_ANSWER))
    d = await gate.decide(acct, call(acct), NOW)
    assert [x.rule for x in d.denied_by] == ["CBA-UNANSWERED"]


async def test_reserve_many_matches_one_by_one(gate: Gate) -> None:
    accts = [account(n) for n in range(20)]
    out = await gate.reserve_many([(a, call(a)) for a in accts] + [(accts[0], call(accts[0]))], NOW)
    assert [d.allowed for d in out] == [True] * 20 + [False]
    assert out[-1].denied_by[0].rule == INFLIGHT_RULE


async def test_workplace_email_is_denied_under_reg_f() -> None:
    gate = Gate(load_packs(["us-reg-f"]), MemoryLedger())
    acct = account(employer_email=True)
    us = Account(id=acct.id, due_date=acct.due_date,
                 address=Address(country="US", region="NY"), parties=acct.parties)
    d = await gate.decide(us, call(us, Channel.EMAIL, "w@corp.example"),
                          datetime(2026, 3, 10, 15, tzinfo=UTC))
    assert [x.rule for x in d.denied_by] == ["REGF-WORKPLACE"]


@pytest.mark.parametrize("first", [date(2028, 2, 26), date(2026, 12, 29), date(1999, 12, 31)])
async def test_the_batch_script_builds_the_day_keys_that_python_names(
        redis: aioredis.Redis, redis_prefix: str, first: date) -> None:
    """A group of consecutive days reaches the batch script as its stem alone (leap days and
    year ends included): its keys must be the ones ``Group.keys`` names."""
    from contact_engine.compliance.gate import day_int
    from contact_engine.compliance.ledger.base import Group, ReserveRequest

    n = 5
    days = tuple(str(day_int(first + timedelta(days=i))) for i in range(n))
    first_day = first.toordinal() - date(1970, 1, 1).toordinal()
    stem = f"{redis_prefix}g:{{A1}}:c:R:A1:"
    ledger = RedisLedger(redis)

    def req(dry_run: bool = True) -> ReserveRequest:
        return ReserveRequest(now=int(NOW.timestamp()), dry_run=dry_run,
                              groups=(Group(stem, days, 1, "lt", True, 3600, first_day),))

    for outside in (first - timedelta(days=1), first + timedelta(days=n)):  # not in the window
        await redis.set(stem + str(day_int(outside)), 1)
    assert (await ledger.reserve_chunks([[req()]]))[0].ok
    keys = Group(stem, days, 1, first_day=first_day).keys
    assert any(k.endswith(("0229", "0101")) for k in keys)  # across a leap day or a year's end
    for key in keys:  # each day of the window counts
        await redis.set(key, 1)
        (res,) = await ledger.reserve_chunks([[req()]])
        assert not res.ok and res.failed_groups == (0,), key
        await redis.delete(key)
    (res,) = await ledger.reserve_chunks([[req(dry_run=False)]])
    assert res.ok
    assert await redis.get(stem + days[-1]) == "1" and 0 < await redis.ttl(stem + days[-1]) <= 3600
    assert [await redis.get(k) for k in keys[:-1]] == [None] * (n - 1)
