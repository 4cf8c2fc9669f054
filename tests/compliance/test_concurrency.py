"""8 workers race over 10,000 intents for 500 accounts on Redis (embedded and real).

Afterwards the independent auditor finds no violation, every allowed reservation was
committed or released (none left behind), and the counters equal the attempt log.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import redis.asyncio as aioredis

from contact_engine.compliance.auditor import audit
from contact_engine.compliance.gate import Gate, day_int
from contact_engine.compliance.ledger import RedisLedger
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
ACCOUNTS = 500
INTENTS = 10_000
WORKERS = 8
OUTCOMES = [Outcome.NO_ANSWER, Outcome.BUSY, Outcome.CONNECTED, Outcome.CONVERSATION,
            Outcome.VOICEMAIL, Outcome.PROMISE_TO_PAY]


def make_accounts() -> dict[str, Account]:
    out = {}
    for n in range(ACCOUNTS):
        pid = f"C{n}/debtor"
        phones = (f"+86138{n:08d}", f"+86139{n:08d}")
        out[f"C{n}"] = Account(
            id=f"C{n}", due_date=date(2026, 2, 1), address=Address(country="CN"),
            parties=(Party(pid, Role.DEBTOR, contact_points=tuple(
                ContactPoint(pid, ContactKind.PHONE, p) for p in phones)),))
    return out


async def test_race_keeps_every_cap(redis_url: str, redis_prefix: str) -> None:
    packs = load_packs(["cn-agency-code", "cn-cba-2026", "cn-nifa-2024"])
    accounts = make_accounts()
    rng = random.Random(7)
    queue: asyncio.Queue[tuple[str, str, Outcome, bool]] = asyncio.Queue()
    for _ in range(INTENTS):
        acct = accounts[f"C{rng.randrange(ACCOUNTS)}"]
        cp = rng.choice(acct.parties[0].contact_points).value
        queue.put_nowait((acct.id, cp, rng.choice(OUTCOMES), rng.random() < 0.1))
    log: list[HistoryEntry] = []
    seq: Counter[str] = Counter()
    stats: Counter[str] = Counter()

    async def worker() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        gate = Gate(packs, RedisLedger(client), redis_prefix)
        try:
            while not queue.empty():
                account_id, cp, outcome, never_placed = queue.get_nowait()
                acct = accounts[account_id]
                req = AttemptRequest(Channel.VOICE, Mode.AUTOMATED, acct.parties[0].id, cp,
                                     account_id=account_id)
                d = await gate.reserve(acct, req, NOW)
                if not d.allowed:
                    stats["denied"] += 1
                    continue
                assert d.reservation_id
                await asyncio.sleep(0)  # let other workers race while the call is "live"
                if never_placed:
                    assert await gate.release(d.reservation_id)
                    stats["released"] += 1
                    continue
                # One voice attempt per account is in flight, so this order is the
                # reservation order of the account.
                seq[account_id] += 1
                at = NOW + timedelta(seconds=seq[account_id])
                log.append(HistoryEntry(at, Channel.VOICE, Mode.AUTOMATED, req.party_id, cp,
                                        outcome, account_id=account_id))
                assert await gate.commit(d.reservation_id, outcome, at)
                stats["committed"] += 1
        finally:
            await client.aclose()

    async with asyncio.TaskGroup() as tg:
        for _ in range(WORKERS):
            tg.create_task(worker())

    assert stats["committed"] + stats["released"] + stats["denied"] == INTENTS
    assert stats["committed"] > 2000 and stats["denied"] > 1000, stats
    assert audit(log, accounts, packs) == []
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        leftover = [k async for k in client.scan_iter(match=f"{redis_prefix}*:res:*")]
        locks = [k async for k in client.scan_iter(match=f"{redis_prefix}*:inflight")]
        assert leftover == [] and locks == []
        per_account = Counter(e.account_id for e in log)
        day = day_int(NOW.astimezone(ZoneInfo("Asia/Shanghai")).date())
        keys = [f"{redis_prefix}g:{{{a}}}:c:CN-CALLS-TOTAL:{a}:{day}" for a in accounts]
        values = await client.mget(keys)
        assert {a: int(v or 0) for a, v in zip(accounts, values, strict=True)} == {
            a: per_account.get(a, 0) for a in accounts}
    finally:
        await client.aclose()
