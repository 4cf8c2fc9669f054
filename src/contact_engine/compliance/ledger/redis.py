"""The Redis ledger: one Lua script per operation, so a decision's checks and increments
are atomic across any number of workers. Never read-then-write from Python."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from contact_engine.compliance.ledger.base import Ledger, Op, ReserveRequest, ReserveResult

# ARGV: now, dry, nflags, ngroups, lock_ttl, res_ttl, payload, has_lock, has_res,
#       then per group: op, limit, nkeys, incr(0/1), ttl
# KEYS: flags..., per group: keys... [incr key], [lock], [reservation]
RESERVE_LUA = """
local now = tonumber(ARGV[1])
local dry = ARGV[2] == '1'
local nf = tonumber(ARGV[3])
local ng = tonumber(ARGV[4])
local k = 1
local failed = {}
for i = 1, nf do
  local v = redis.call('GET', KEYS[k])
  if v and (v == 'p' or tonumber(v) > now) then table.insert(failed, i) end
  k = k + 1
end
local a = 10
local incs = {}
for g = 1, ng do
  local op = ARGV[a]; local limit = tonumber(ARGV[a + 1]); local nk = tonumber(ARGV[a + 2])
  local hasinc = ARGV[a + 3] == '1'; local ttl = tonumber(ARGV[a + 4])
  a = a + 5
  local total = 0
  for j = 1, nk do
    local v = redis.call('GET', KEYS[k]); if v then total = total + tonumber(v) end
    k = k + 1
  end
  if (op == 'lt' and total >= limit) or (op == 'ge' and total < limit) then
    table.insert(failed, nf + g)
  end
  if hasinc then table.insert(incs, {KEYS[k], ttl}); k = k + 1 end
end
local lock = nil
if ARGV[8] == '1' then
  lock = KEYS[k]; k = k + 1
  if redis.call('EXISTS', lock) == 1 then table.insert(failed, nf + ng + 1) end
end
if #failed > 0 or dry then return failed end
for _, inc in ipairs(incs) do
  local n = redis.call('INCR', inc[1])
  if n == 1 and inc[2] > 0 then redis.call('EXPIRE', inc[1], inc[2]) end
end
if lock then redis.call('SET', lock, '1', 'EX', tonumber(ARGV[5])) end
if ARGV[9] == '1' then redis.call('SET', KEYS[k], ARGV[7], 'EX', tonumber(ARGV[6])) end
return failed
"""

# KEYS: [guard], op keys...; ARGV: has_guard, then per op: kind, value, ttl
APPLY_LUA = """
local k = 1
if ARGV[1] == '1' then
  if redis.call('DEL', KEYS[1]) == 0 then return 0 end
  k = 2
end
local a = 2
while a <= #ARGV do
  local kind = ARGV[a]; local val = ARGV[a + 1]; local ttl = tonumber(ARGV[a + 2])
  local key = KEYS[k]
  if kind == 'incr' then
    local n = redis.call('INCR', key)
    if n == 1 and ttl > 0 then redis.call('EXPIRE', key, ttl) end
  elseif kind == 'decr' then
    local v = tonumber(redis.call('GET', key) or '0')
    if v > 0 then redis.call('DECR', key) end
  elseif kind == 'set' then
    if ttl > 0 then redis.call('SET', key, val, 'EX', ttl) else redis.call('SET', key, val) end
  elseif kind == 'del' then
    redis.call('DEL', key)
  end
  a = a + 3; k = k + 1
end
return 1
"""


def reserve_args(req: ReserveRequest) -> tuple[list[str], list[Any]]:
    keys: list[str] = list(req.flags)
    groups: list[Any] = []
    for g in req.groups:
        keys.extend(g.keys)
        if g.incr:
            keys.append(g.incr)
        groups += [g.op, g.limit, len(g.keys), 1 if g.incr else 0, g.ttl_s]
    if req.lock:
        keys.append(req.lock)
    if req.reservation_key:
        keys.append(req.reservation_key)
    args: list[Any] = [req.now, 1 if req.dry_run else 0, len(req.flags), len(req.groups),
                       req.lock_ttl_s, req.reservation_ttl_s, req.payload,
                       1 if req.lock else 0, 1 if req.reservation_key else 0, *groups]
    return keys, args


def reserve_result(req: ReserveRequest, failed: list[Any]) -> ReserveResult:
    nf, ng = len(req.flags), len(req.groups)
    idx = [int(x) for x in failed]
    return ReserveResult(
        ok=not idx,
        failed_flags=tuple(i - 1 for i in idx if i <= nf),
        failed_groups=tuple(i - nf - 1 for i in idx if nf < i <= nf + ng),
        lock_held=any(i == nf + ng + 1 for i in idx),
    )


class RedisLedger(Ledger):
    def __init__(self, client: aioredis.Redis) -> None:
        self._r = client
        self._reserve = client.register_script(RESERVE_LUA)
        self._apply = client.register_script(APPLY_LUA)

    async def reserve(self, req: ReserveRequest) -> ReserveResult:
        keys, args = reserve_args(req)
        return reserve_result(req, await self._reserve(keys=keys, args=args))

    async def reserve_many(self, reqs: Sequence[ReserveRequest]) -> list[ReserveResult]:
        """Many reservations in one round trip (each still atomic on its own)."""
        if not reqs:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for req in reqs:
                keys, args = reserve_args(req)
                await self._reserve(keys=keys, args=args, client=pipe)
            raw = await pipe.execute()
        return [reserve_result(req, out) for req, out in zip(reqs, raw, strict=True)]

    async def apply(self, guard: str | None, ops: Sequence[Op]) -> bool:
        keys = ([guard] if guard else []) + [op.key for op in ops]
        args: list[Any] = [1 if guard else 0]
        for op in ops:
            args += [op.kind, op.value, op.ttl_s]
        return bool(await self._apply(keys=keys, args=args))

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        return [v if v is None or isinstance(v, str) else v.decode()
                for v in await self._r.mget(list(keys))]

