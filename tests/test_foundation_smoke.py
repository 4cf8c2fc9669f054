"""Smoke tests of the shared foundation: migrations and Redis on every backend."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.store.tables import accounts


async def test_migrated_schema_round_trips_money_as_decimal(db: AsyncEngine) -> None:
    now = datetime.now(UTC)
    async with db.begin() as conn:
        await conn.execute(
            accounts.insert().values(
                id="A1", product="loan", principal=Decimal("1234.56"), balance=Decimal("0.10"),
                currency="CNY", due_date=date(2026, 3, 1), status="active", holds=["dispute"],
                created_at=now, updated_at=now,
            )
        )
    async with db.connect() as conn:
        row = (await conn.execute(select(accounts).where(accounts.c.id == "A1"))).one()
    assert row.balance == Decimal("0.10")
    assert isinstance(row.principal, Decimal)
    assert row.holds == ["dispute"]


async def test_redis_runs_lua(redis: aioredis.Redis, redis_prefix: str) -> None:
    script = redis.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    key = f"{redis_prefix}n"
    assert await script(keys=[key], args=[3]) == 3
    assert await script(keys=[key], args=[4]) == 7
