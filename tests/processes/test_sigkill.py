"""1 scheduler and 3 worker processes; workers are killed with SIGKILL 20 times mid-run.

Afterwards: no intent reached the provider twice (the simulated network's own send
register, in Redis), none is lost (every intent is settled or still waits in the queue),
the attempts stored equal the sends, and the independent auditor finds 0 violations.

Backends: PostgreSQL and the real Redis when CONTACT_ENGINE_TEST_POSTGRES_URL and
CONTACT_ENGINE_TEST_REDIS_URL are set (CI); otherwise SQLite and one embedded
redis-server shared by all processes.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from conftest import POSTGRES_URL, REDIS_URL, _create_pg_database, _drop_pg_database
from contact_engine.clock import ShiftedClock
from contact_engine.config import Settings
from contact_engine.demo.portfolio import generate
from contact_engine.domain import Account, Channel, ContactKind, Intent, Mode, intent_id
from contact_engine.engine import Engine
from contact_engine.store.db import upgrade
from contact_engine.store.redis import EmbeddedRedis
from contact_engine.store.repositories import INTENT_DONE
from contact_engine.store.tables import attempts, intents

START = datetime(2026, 3, 3, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
KILLS = 20
ACCOUNTS = 400
SPREAD_S = 30.0


@pytest.fixture
async def backends(tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    if POSTGRES_URL and REDIS_URL:
        url, name = await _create_pg_database()
        try:
            await upgrade(url)
            yield url, REDIS_URL
        finally:
            await _drop_pg_database(name)
        return
    server = EmbeddedRedis(Path(f"/tmp/ce-{uuid.uuid4().hex[:8]}"))
    await server.start()
    try:
        url = f"sqlite+aiosqlite:///{tmp_path / 'kill.sqlite3'}"
        await upgrade(url)
        yield url, f"unix://{server.socket_path}"
    finally:
        await server.stop()


def _spawn(kind: str, name: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
    out = (log_dir / f"{name}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "contact_engine", kind, "--name", name], env=env,
                            stdout=out, stderr=subprocess.STDOUT)


def _portfolio() -> list[Account]:
    return list(generate(ACCOUNTS, START.date(), seed=3, us_share=0.0))


async def _seed(settings: Settings, clock: ShiftedClock) -> int:
    """Accounts plus one intent per channel and debtor, due over the next SPREAD_S seconds."""
    rng = random.Random(11)
    planned: list[Intent] = []
    async with Engine.open(settings, clock=clock, adapters={}) as engine:
        portfolio = _portfolio()
        await engine.accounts.upsert_many(portfolio)
        base = clock.now()
        for acct in portfolio:
            debtor = acct.parties[0]
            for cp in debtor.contact_points:
                channels = [Channel.VOICE, Channel.SMS] if cp.kind is ContactKind.PHONE else [Channel.EMAIL]
                for ch in channels:
                    day = START.date()
                    planned.append(Intent(
                        id=intent_id("kill", ch.value, acct.id, debtor.id, day), campaign_id="kill",
                        step_id=ch.value, account_id=acct.id, party_id=debtor.id, channel=ch,
                        mode=Mode.AUTOMATED, contact_point=cp.value,
                        not_before=base + timedelta(seconds=2 + rng.uniform(0, SPREAD_S)),
                        script={"voice": "light_call", "sms": "reminder_sms", "email": "reminder_email"}[ch.value],
                        language="zh-CN", local_day=day))
        await engine.intents.add_many(planned, base)
        await engine.queue.schedule(planned)
    return len(planned)


async def _settled(settings: Settings) -> tuple[bool, dict[str, int]]:
    async with Engine.open(settings, adapters={}) as engine:
        counts = await engine.intents.counts()
        open_ids = set(await engine.intents.open_ids())
        waiting = await engine.queue.waiting()
        in_stream = await engine.queue.stream_length()
        pending = await engine.queue.pending()
    return len(open_ids) == waiting and in_stream == 0 and pending == 0, counts


@pytest.mark.timeout(400)
async def test_sigkill_twenty_times(backends: tuple[str, str], tmp_path: Path) -> None:
    db_url, redis_url = backends
    prefix = f"cek:{uuid.uuid4().hex[:8]}:"
    anchor = time.time()
    env = dict(os.environ)
    env.update({
        "CONTACT_ENGINE_DATABASE_URL": db_url, "CONTACT_ENGINE_REDIS_URL": redis_url,
        "CONTACT_ENGINE_REDIS_KEY_PREFIX": prefix, "CONTACT_ENGINE_DATA_DIR": str(tmp_path / "var"),
        "CONTACT_ENGINE_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "CONTACT_ENGINE_DISPATCH__CLAIM_IDLE_MS": "1500",
        "CONTACT_ENGINE_SIMULATION__TIME_SCALE": "0.02",
        # slower than the intents arrive: workers always hold a batch in flight when killed
        "CONTACT_ENGINE_SIMULATION__RATE_PER_S": "25",
        "CONTACT_ENGINE_SIMULATION__CLOCK_START": START.isoformat(),
        "CONTACT_ENGINE_SIMULATION__CLOCK_ANCHOR": repr(anchor),
    })
    for key in [k for k in env if k.startswith(("CONTACT_ENGINE_TWILIO", "CONTACT_ENGINE_SMTP"))]:
        del env[key]
    settings = Settings(database_url=db_url, redis_url=redis_url, redis_key_prefix=prefix,
                        data_dir=tmp_path / "var", recordings_dir=tmp_path / "recordings")
    clock = ShiftedClock(START, anchor)
    total = await _seed(settings, clock)
    logs = tmp_path / "logs"
    logs.mkdir()
    scheduler = _spawn("scheduler", "scheduler", env, logs)
    generation = 0
    workers = {f"w{i}-0": _spawn("worker", f"w{i}-0", env, logs) for i in range(3)}
    rng = random.Random(5)
    kills = 0
    try:
        await asyncio.sleep(3.0)
        while kills < KILLS:
            await asyncio.sleep(rng.uniform(0.6, 1.2))
            victim = rng.choice(sorted(workers))
            proc = workers.pop(victim)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            kills += 1
            generation += 1
            slot = victim.split("-")[0]
            workers[f"{slot}-{generation}"] = _spawn("worker", f"{slot}-{generation}", env, logs)
        # every intent has come due by now; wait until each one is settled or deferred
        await asyncio.sleep(max(0.0, anchor + SPREAD_S + 3 - time.time()))
        deadline = time.monotonic() + 120
        while True:
            done, counts = await _settled(settings)
            if done or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        assert done, f"intents not settled: {counts}"
        await asyncio.sleep(2.0)  # the last calls' reports
    finally:
        for proc in [scheduler, *workers.values()]:
            proc.send_signal(signal.SIGTERM)
        for proc in [scheduler, *workers.values()]:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    assert kills == KILLS
    async with Engine.open(settings, adapters={}, shared_network=True) as engine:
        assert engine.network is not None
        duplicates = await engine.network.state.duplicates()
        sends = await engine.network.state.sends()
        async with engine.db.connect() as conn:
            stored = int(await conn.scalar(select(func.count()).select_from(attempts)) or 0)
            per_intent = int(await conn.scalar(
                select(func.count()).select_from(
                    select(attempts.c.intent_id).group_by(attempts.c.intent_id)
                    .having(func.count() > 1).subquery())) or 0)
            # every send carries its reservation, those found at the provider after a
            # kill too (their outcomes reach the gate); recovered ones are counted
            unreserved = int(await conn.scalar(
                select(func.count()).select_from(attempts).where(attempts.c.reservation_id.is_(None))) or 0)
            recovered = int(await conn.scalar(
                select(func.count()).select_from(attempts).where(attempts.c.decision_id.is_(None))) or 0)
            statuses = dict((await conn.execute(
                select(intents.c.status, func.count()).group_by(intents.c.status))).all())
        open_ids = await engine.intents.open_ids()
        waiting = await engine.queue.waiting()
        # the accounts as seeded: holds added by outcomes the auditor derives from the log
        reclaimed = int(await engine.redis.hget(engine.queue.keys.stats, "reclaimed") or 0)
        violations = await engine.run_audit({a.id: a for a in _portfolio()})
    assert duplicates == 0, "an intent reached the provider twice"
    assert per_intent == 0
    assert stored == sends, f"{stored} attempts stored, {sends} taken by the provider"
    assert unreserved == 0, f"{unreserved} of {stored} attempts ({recovered} recovered) without a reservation"
    assert sum(statuses.values()) == total
    assert len(open_ids) == waiting, f"lost intents: {len(open_ids) - waiting} ({statuses})"
    assert statuses.get("sent", 0) > total // 2, statuses
    assert set(statuses) <= INTENT_DONE | {"deferred", "planned"}
    assert violations == []
    # the kills interrupted work in flight: other workers took entries over
    assert reclaimed > 0
    print(f"{reclaimed} entries reclaimed, {recovered} sends recovered from the provider")
