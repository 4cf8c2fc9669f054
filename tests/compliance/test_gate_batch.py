"""The batched path (``Gate.reserve_many``: plans in chunks, one Lua call per chunk on
Redis) gives exactly the decisions of one-by-one ``Gate.reserve`` on every ledger, over
random accounts, attempts, duplicates in a batch, outcomes and times."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from contact_engine.compliance import gate as gate_module
from contact_engine.compliance.gate import Gate
from contact_engine.compliance.ledger import MemoryLedger, RedisLedger
from contact_engine.compliance.ledger import redis as redis_ledger
from contact_engine.compliance.ledger.keys import GateKeys
from contact_engine.compliance.policy import load_packs
from contact_engine.domain import (
    Account,
    Address,
    AttemptRequest,
    Channel,
    ContactKind,
    ContactPoint,
    Decision,
    HoldKind,
    Mode,
    Outcome,
    Party,
    Role,
)

CN_PACKS = ["cn-agency-code", "cn-cba-2026", "cn-nifa-2024"]
US_PACKS = ["us-reg-f", "us-tcpa", "us-ma"]
START = datetime(2026, 3, 6, 1, 0, tzinfo=UTC)  # spans the US spring-forward on 2026-03-08
OUTCOMES = [o for o in Outcome if o not in (Outcome.DELIVERED, Outcome.UNDELIVERED)]


def make_accounts(rng: random.Random, us: bool, n: int) -> list[Account]:
    out = []
    for i in range(n):
        aid = f"{'U' if us else 'C'}{i}"
        parties = []
        for j, role in enumerate([Role.DEBTOR, rng.choice([Role.SPOUSE, Role.FAMILY,
                                                           Role.DESIGNATED_CONTACT])]):
            pid = f"{aid}/{j}"
            phone = (f"+1{rng.choice(['212', '415', '303', '305'])}555{i:04d}" if us
                     else f"+86138{i:04d}{j:04d}")
            parties.append(Party(
                pid, role, designated_by_debtor=rng.random() < 0.5,
                sensitive=j == 1 and rng.random() < 0.2,
                opt_outs=frozenset({Channel.SMS}) if rng.random() < 0.1 else frozenset(),
                contact_points=(ContactPoint(pid, ContactKind.PHONE, phone),
                                ContactPoint(pid, ContactKind.EMAIL, f"{i}.{j}@example.com",
                                             employer_provided=rng.random() < 0.2))))
        address = (Address(country="US", region=rng.choice(["NY", "CA", "FL", "TX", "IN"]))
                   if us else Address(country="CN", region="Shanghai"))
        holds = frozenset({HoldKind.DISPUTE}) if rng.random() < 0.05 else frozenset()
        out.append(Account(id=aid, due_date=date(2026, 2, 1), address=address,
                           parties=tuple(parties), holds=holds))
    return out


def attempt(rng: random.Random, acct: Account) -> AttemptRequest:
    party = rng.choice(acct.parties)
    channel = rng.choice([Channel.VOICE, Channel.VOICE, Channel.SMS, Channel.EMAIL])
    cp = party.contact_points[1 if channel is Channel.EMAIL else 0].value
    pid = party.id if rng.random() > 0.02 else "nobody"
    return AttemptRequest(channel, rng.choice(list(Mode)), pid, cp, account_id=acct.id)


def shape(d: Decision) -> tuple[Any, ...]:
    return (d.allowed, d.denied_by, d.next_allowed_at, d.reservation_id is None,
            d.policy_versions, d.decided_at)


async def drive(reference: Gate, batched: list[Gate], us: bool, seed: int) -> int:
    """Feeds the same rounds to every gate; returns how many decisions were compared."""
    rng = random.Random(seed)
    accounts = make_accounts(rng, us, 40)
    compared = 0
    times = sorted(START + timedelta(minutes=rng.randrange(0, 3 * 24 * 60), seconds=rnd)
                   for rnd in range(8))
    for now in times:
        items = [(a, attempt(rng, a)) for a in rng.choices(accounts, k=rng.randrange(1, 260))]
        want = [await reference.reserve(a, r, now) for a, r in items]
        got = [await g.reserve_many(items, now) for g in batched]
        for out in got:
            assert [shape(d) for d in out] == [shape(d) for d in want]
        compared += len(items)
        # Settle every allowed reservation the same way on every gate.
        at = now + timedelta(minutes=3)
        for i, d in enumerate(want):
            if not d.allowed:
                continue
            choice = rng.random()
            outcome = rng.choice(OUTCOMES)
            for g, decision in [(reference, d)] + [(b, o[i]) for b, o in zip(batched, got, strict=True)]:
                rid = decision.reservation_id
                assert rid
                if choice < 0.15:
                    assert await g.release(rid)
                elif choice < 0.9:
                    assert await g.commit(rid, outcome, at)
                # else: left in flight (the voice lock holds)
    return compared


@pytest.mark.parametrize("us", [False, True])
async def test_memory_batch_matches_one_by_one(us: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate_module, "PLAN_CHUNK", 17)
    packs = load_packs(US_PACKS if us else CN_PACKS)
    assert await drive(Gate(packs, MemoryLedger()), [Gate(packs, MemoryLedger())], us, 11) > 300


@pytest.mark.parametrize("us", [False, True])
async def test_redis_batch_matches_one_by_one(us: bool, redis: aioredis.Redis, redis_prefix: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # Small chunks and script calls, so one reserve_many spans several of each.
    monkeypatch.setattr(gate_module, "PLAN_CHUNK", 23)
    monkeypatch.setattr(redis_ledger, "BATCH_MAX", 9)
    packs = load_packs(US_PACKS if us else CN_PACKS)
    # The reference is on Redis too: Redis expires keys in real time, the memory twin in
    # the gate's time.
    reference = Gate(packs, RedisLedger(redis, batch=False), redis_prefix + "s:")
    batched = [Gate(packs, RedisLedger(redis), redis_prefix + "b:"),
               Gate(packs, RedisLedger(redis, batch=False), redis_prefix + "p:")]
    assert await drive(reference, batched, us, 5) > 300


async def test_redis_batch_with_default_sizes(redis: aioredis.Redis, redis_prefix: str) -> None:
    packs = load_packs(CN_PACKS)
    reference = Gate(packs, RedisLedger(redis, batch=False), redis_prefix + "s:")
    batched = [Gate(packs, RedisLedger(redis), redis_prefix + "b:")]
    assert await drive(reference, batched, False, 3) > 300


def test_plan_keys_are_the_gate_keys() -> None:
    """The planner builds key names from GateKeys' affixes; they must be the same names."""
    packs = load_packs(CN_PACKS)
    gate = Gate(packs, MemoryLedger(), "pfx:")
    keys = GateKeys("pfx:")
    acct = make_accounts(random.Random(1), False, 1)[0]
    debtor, other = acct.parties
    now = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    plan = gate._plan(acct, AttemptRequest(Channel.VOICE, Mode.AUTOMATED, debtor.id,  # noqa: SLF001
                                           debtor.contact_points[0].value), now,
                      dry_run=False, reservation_id="r1")
    req = plan.request
    assert req.flags_key == keys.flags(acct.id)
    assert req.lock == keys.inflight(acct.id)
    assert req.reservation_key == keys.reservation(acct.id, "r1")
    cp = debtor.contact_points[0].value
    expected = {keys.count(acct.id, rule, target, 20260309)
                for rule in ("CN-CALLS-TOTAL", "CN-CALLS-CONNECTED") for target in (acct.id,)}
    expected.add(keys.count(acct.id, "CBA-UNANSWERED", cp, 20260309))
    assert expected <= {k for g in req.groups for k in g.keys}
    plan = gate._plan(acct, AttemptRequest(Channel.VOICE, Mode.AUTOMATED, other.id,  # noqa: SLF001
                                           other.contact_points[0].value), now,
                      dry_run=False, reservation_id=None)
    reach = {k for g in plan.request.groups for k in g.keys if ":r:" in k}
    if reach:
        assert keys.reach(acct.id, "u", 20260309) in reach


async def test_commit_many_matches_commit_one_by_one(redis: aioredis.Redis, redis_prefix: str) -> None:
    """Committing a batch leaves the ledger exactly as committing each in turn."""
    rng = random.Random(9)
    accounts = make_accounts(rng, False, 30) + make_accounts(rng, True, 30)
    requests = [attempt(rng, a) for a in accounts for _ in range(2)]
    owners = [a for a in accounts for _ in range(2)]
    states = []
    for mode in ("one", "many"):
        prefix = f"{redis_prefix}{mode}:"
        gate = Gate(load_packs(CN_PACKS + US_PACKS), RedisLedger(redis), prefix)
        items = []
        for k, (acct, req) in enumerate(zip(owners, requests, strict=True)):
            d = await gate.reserve(acct, req, START + timedelta(hours=1, minutes=k))
            if d.reservation_id:
                items.append((d.reservation_id, OUTCOMES[k % len(OUTCOMES)], START + timedelta(hours=2)))
        assert len(items) > 10
        if mode == "one":
            done = [await gate.commit(*item) for item in items]
        else:
            done = await gate.commit_many(items)
            assert await gate.commit_many(items) == [False] * len(items)  # at most once
        assert done == [True] * len(items)
        state = {}
        async for key in redis.scan_iter(match=f"{prefix}*"):
            kind = await redis.type(key)
            value = await (redis.hgetall(key) if kind == "hash" else redis.get(key)) if kind in ("hash", "string") else kind
            state[key[len(prefix):]] = value
        states.append(state)
    # reservation ids differ between the runs; everything else must be equal
    strip = [{k: v for k, v in st.items() if "resv" not in k and "res:" not in k} for st in states]
    assert strip[0] == strip[1] and strip[0]


@pytest.mark.parametrize("batch", [True, False])
async def test_read_many_reads_what_single_reads_read(batch: bool, redis: aioredis.Redis, redis_prefix: str) -> None:
    ledger = RedisLedger(redis, batch=batch)
    p = redis_prefix
    await redis.hset(f"{p}{{A1}}:flags", mapping={"hold:dispute": "p", "cool:x": "1772000000"})
    await redis.mset({f"{p}{{A1}}:c1": "2", f"{p}{{A2}}:c1": "5"})
    items = [(f"{p}{{A1}}:flags", ["hold:dispute", "nope"], [f"{p}{{A1}}:c1", f"{p}{{A1}}:c2"]),
             (f"{p}{{A2}}:flags", [], [f"{p}{{A2}}:c1"]),
             (f"{p}{{A1}}:flags", ["cool:x"], []),
             ("", [], [])]
    expected = [(await ledger.get_fields(h, f), await ledger.get_many(k)) for h, f, k in items]
    assert expected[0] == (["p", None], ["2", None]) and expected[1] == ([], ["5"])
    assert await ledger.read_many(items) == expected
    assert await MemoryLedger().read_many(items) == [([None] * len(f), [None] * len(k)) for _h, f, k in items]
    assert await ledger.read_many([("", [], [])]) == [([], [])]


def test_window_open_memo_answers_what_next_window_open_does() -> None:
    """``Gate._window_open`` (the memo behind ``next_allowed_at``) gives exactly what
    ``next_window_open`` gives, for instants in and out of the windows, in UTC and in a
    local zone (an equal instant in another zone is a different answer object: it is
    stored as written), and computes each once."""
    gate = Gate(load_packs(US_PACKS + CN_PACKS), MemoryLedger())
    windows = [r for p in gate.packs for r in p.rules if isinstance(r, gate_module.WindowRule)]
    assert windows
    zone_sets = [("America/New_York",), ("America/Chicago", "America/New_York"), ("Asia/Shanghai",)]
    rng = random.Random(5)
    instants = [START + timedelta(minutes=rng.randrange(0, 60 * 24 * 10)) for _ in range(60)]
    instants += [t.astimezone(gate_module._zone("Asia/Shanghai")) for t in instants[:20]]
    for _round in range(2):
        for w in windows:
            for zones in zone_sets:
                for t in instants:
                    got = gate._window_open(w, zones, t)
                    want = gate_module.next_window_open(w, zones, t)
                    assert got == want
                    assert (got.tzinfo if got else None) == (want.tzinfo if want else None)
        if _round == 0:
            size = len(gate._open_cache)
    assert len(gate._open_cache) == size == len(windows) * len(zone_sets) * len({
        (t, t.tzinfo) for t in instants})
