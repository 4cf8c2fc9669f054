"""Commands packed by hiredis (store.redis.hiredis_packing) reach Redis as redis-py's would."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.exceptions import DataError

from contact_engine.store.redis import hiredis_packing


async def test_packed_commands_round_trip(redis: aioredis.Redis, redis_prefix: str) -> None:
    conn = await redis.connection_pool.get_connection()
    assert type(conn).__name__.startswith("HiredisPacking")
    await redis.connection_pool.release(conn)
    key = f"{redis_prefix}pack"
    await redis.set(key, "催收 reminder ✓", ex=60)
    assert await redis.get(key) == "催收 reminder ✓"
    await redis.zadd(f"{key}:z", {"a": 1763970000.123456, "b": 0.1, "c": 5})
    assert [tuple(x) for x in await redis.zrange(f"{key}:z", 0, -1, withscores=True)] == [
        ("b", 0.1), ("c", 5.0), ("a", 1763970000.123456)]
    script = "return {KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]) * 2}"
    assert await redis.eval(script, 1, key, "一", 7, 21) == [key, "一", "7", 42]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(f"{key}:n").incrby(f"{key}:n", 4).get(f"{key}:n")
        assert await pipe.execute() == [1, 5, "5"]
    assert isinstance(await redis.execute_command("CONFIG GET", "maxmemory"), (list, dict))
    with pytest.raises(DataError):
        await redis.set(f"{key}:bad", True)  # type: ignore[arg-type]
    await redis.delete(f"{key}:z", f"{key}:n")


def test_packing_applies_once_per_connection_class() -> None:
    a = hiredis_packing(aioredis.Redis())
    b = hiredis_packing(aioredis.Redis())
    assert a.connection_pool.connection_class is b.connection_pool.connection_class
    assert a.connection_pool.connection_class.__name__ == "HiredisPackingConnection"
