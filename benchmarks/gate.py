"""Benchmark: gate decisions per second on the embedded Redis.

Reserves one voice call for each of N distinct accounts (default 100,000) under the
cn-agency-code and cn-cba-2026 packs, in batches of ``Gate.reserve_many`` (on a single
Redis node: one Lua call per chunk of reservations), then in the same process runs
a bare redis-py pipeline of a trivial Lua script with the same number of keys per call
and the same batch size. Prints both rates and their ratio; asserts nothing.

    .venv/bin/python benchmarks/gate.py [--accounts 100000] [--batch 500] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import redis.asyncio as aioredis

from contact_engine import runtime
from contact_engine.compliance.gate import Gate
from contact_engine.compliance.ledger import RedisLedger
from contact_engine.compliance.ledger.redis import reserve_keys
from contact_engine.compliance.policy import load_packs
from contact_engine.domain import (
    Account,
    Address,
    AttemptRequest,
    Channel,
    ContactKind,
    ContactPoint,
    Mode,
    Party,
    Role,
)
from contact_engine.store.redis import EmbeddedRedis

TRIVIAL_LUA = "return #KEYS"
NOW = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)


def accounts(n: int) -> list[tuple[Account, AttemptRequest]]:
    out = []
    for i in range(n):
        pid = f"B{i}/debtor"
        phone = f"+86138{i:08d}"
        acct = Account(id=f"B{i}", due_date=date(2026, 2, 1), address=Address(country="CN"),
                       parties=(Party(pid, Role.DEBTOR, contact_points=(
                           ContactPoint(pid, ContactKind.PHONE, phone),)),))
        out.append((acct, AttemptRequest(Channel.VOICE, Mode.AUTOMATED, pid, phone,
                                         account_id=acct.id)))
    return out


async def run(client: aioredis.Redis, n: int, batch: int) -> None:
    packs = load_packs(["cn-agency-code", "cn-cba-2026"])
    gate = Gate(packs, RedisLedger(client), "bench:")
    items = accounts(n)
    # Keys per decision, for a fair baseline: every key one reservation touches (the
    # batched path passes them inside its packed argument rather than as KEYS, but the
    # server reads and writes the same keys).
    plan = gate._plan(items[0][0], items[0][1], NOW, dry_run=False, reservation_id="x")  # noqa: SLF001
    nkeys = reserve_keys(plan.request)

    t0 = time.perf_counter()
    allowed = 0
    for start in range(0, n, batch):
        decisions = await gate.reserve_many(items[start:start + batch], NOW)
        allowed += sum(d.allowed for d in decisions)
    gate_s = time.perf_counter() - t0

    script = client.register_script(TRIVIAL_LUA)
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        async with client.pipeline(transaction=False) as pipe:
            for i in range(start, min(n, start + batch)):
                keys = [f"bare:{{B{i}}}:{k}" for k in range(nkeys)]
                await script(keys=keys, args=[1], client=pipe)
            await pipe.execute()
    bare_s = time.perf_counter() - t0

    gate_rate, bare_rate = n / gate_s, n / bare_s
    print(f"accounts               {n:,} (allowed {allowed:,})")
    print(f"keys per decision      {nkeys}")
    print(f"batch                  {batch}")
    print(f"gate decisions/s       {gate_rate:,.0f}  ({gate_s:.2f} s)")
    print(f"bare Lua pipeline/s    {bare_rate:,.0f}  ({bare_s:.2f} s)")
    print(f"ratio gate/bare        {gate_rate / bare_rate:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    if args.redis_url:
        client = aioredis.Redis.from_url(args.redis_url, decode_responses=True)
        try:
            await run(client, args.accounts, args.batch)
            await client.delete(*[k async for k in client.scan_iter("bench:*")] or ["none"])
        finally:
            await client.aclose()
        return
    with tempfile.TemporaryDirectory(prefix="ce-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp))
        await server.start()
        client = aioredis.Redis(unix_socket_path=str(server.socket_path), decode_responses=True)
        try:
            await run(client, args.accounts, args.batch)
        finally:
            await client.aclose()
            await server.stop()


if __name__ == "__main__":
    runtime.run(main())
