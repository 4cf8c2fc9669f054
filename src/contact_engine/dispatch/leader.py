"""The leader lock: one active scheduler (``SET NX PX``, renewed only by its owner)."""

from __future__ import annotations

import redis.asyncio as aioredis

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaderLock:
    """A lock held by ``owner`` for ``ttl_ms`` unless renewed."""

    def __init__(self, redis: aioredis.Redis, key: str, owner: str, ttl_ms: int = 10_000) -> None:
        self._r = redis
        self.key = key
        self.owner = owner
        self.ttl_ms = ttl_ms
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        """Take the lock if free; True when this owner holds it."""
        if await self._r.set(self.key, self.owner, nx=True, px=self.ttl_ms):
            return True
        return await self.renew()

    async def renew(self) -> bool:
        """Extend the lock; False when another owner holds it (leadership lost)."""
        return bool(await self._renew(keys=[self.key], args=[self.owner, self.ttl_ms]))

    async def release(self) -> None:
        """Give the lock up (only if still held by this owner)."""
        await self._release(keys=[self.key], args=[self.owner])
