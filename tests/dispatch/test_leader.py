"""One active scheduler: the leader lock."""

from __future__ import annotations

import redis.asyncio as aioredis

from contact_engine.dispatch.keys import DispatchKeys
from contact_engine.dispatch.leader import LeaderLock


async def test_one_leader_second_waits_then_takes_over(redis: aioredis.Redis, redis_prefix: str) -> None:
    key = DispatchKeys(redis_prefix).leader
    a = LeaderLock(redis, key, "a", ttl_ms=60_000)
    b = LeaderLock(redis, key, "b", ttl_ms=60_000)
    assert await a.acquire() is True
    assert await b.acquire() is False
    assert await a.renew() is True and await b.renew() is False
    await b.release()  # not the owner: no effect
    assert await redis.get(key) == "a"
    await a.release()
    assert await b.acquire() is True
    # an expired lock is free for the next one
    await redis.pexpire(key, 1)
    while await redis.exists(key):
        await redis.pexpire(key, 1)
    assert await a.acquire() is True
