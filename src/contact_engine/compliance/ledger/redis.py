"""The Redis ledger: one Lua script per operation, so a decision's checks and increments
are atomic across any number of workers. Never read-then-write from Python.

Arguments are packed compactly (the flag fields in one string, the counter groups in
another) because redis-py's per-argument encoding dominates the client's cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis

from contact_engine.compliance.ledger.base import Ledger, Op, ReserveRequest, ReserveResult

# KEYS: flags hash, then per group its bucket keys [+ the bucket to increment],
#       [lock], [reservation]
# ARGV: now, dry, lock_ttl (0: no lock), res_ttl (0: no reservation), payload,
#       flag fields joined by "\n", groups "op,limit,nkeys,incr,ttl;..."
RESERVE_LUA = """
local now = tonumber(ARGV[1])
local failed = {}
local nf = 0
if ARGV[6] ~= '' then
  local fields = {}
  for f in string.gmatch(ARGV[6], '[^\\n]+') do fields[#fields + 1] = f end
  nf = #fields
  local vals = redis.call('HMGET', KEYS[1], unpack(fields))
  for i = 1, nf do
    local v = vals[i]
    if v and (v == 'p' or tonumber(v) > now) then failed[#failed + 1] = i end
  end
end
local k = 2
local g = 0
local incs = {}
for op, limit, nk, inc, ttl in string.gmatch(ARGV[7], '(%a+),(%d+),(%d+),(%d),(%d+)') do
  g = g + 1
  nk = tonumber(nk)
  local total = 0
  if nk > 0 then
    local vals = redis.call('MGET', unpack(KEYS, k, k + nk - 1))
    for _, v in ipairs(vals) do if v then total = total + tonumber(v) end end
    k = k + nk
  end
  limit = tonumber(limit)
  if (op == 'lt' and total >= limit) or (op == 'ge' and total < limit) then
    failed[#failed + 1] = nf + g
  end
  if inc == '1' then incs[#incs + 1] = {KEYS[k], tonumber(ttl)}; k = k + 1 end
end
local lock = nil
if ARGV[3] ~= '0' then
  lock = KEYS[k]; k = k + 1
  if redis.call('EXISTS', lock) == 1 then failed[#failed + 1] = nf + g + 1 end
end
if #failed > 0 or ARGV[2] == '1' then return failed end
for _, inc in ipairs(incs) do
  local n = redis.call('INCR', inc[1])
  if n == 1 and inc[2] > 0 then redis.call('EXPIRE', inc[1], inc[2]) end
end
if lock then redis.call('SET', lock, '1', 'EX', tonumber(ARGV[3])) end
if ARGV[4] ~= '0' then redis.call('SET', KEYS[k], ARGV[5], 'EX', tonumber(ARGV[4])) end
return failed
"""

# KEYS: [guard], op keys...; ARGV: has_guard, then per op: kind, field, value, ttl
APPLY_LUA = """
local k = 1
if ARGV[1] == '1' then
  if redis.call('DEL', KEYS[1]) == 0 then return 0 end
  k = 2
end
local a = 2
while a <= #ARGV do
  local kind = ARGV[a]; local field = ARGV[a + 1]; local val = ARGV[a + 2]
  local ttl = tonumber(ARGV[a + 3])
  local key = KEYS[k]
  if kind == 'incr' then
    local n = redis.call('INCR', key)
    if n == 1 and ttl > 0 then redis.call('EXPIRE', key, ttl) end
  elseif kind == 'decr' then
    local v = tonumber(redis.call('GET', key) or '0')
    if v > 0 then redis.call('DECR', key) end
  elseif kind == 'hset' then
    redis.call('HSET', key, field, val)
  elseif kind == 'set' then
    if ttl > 0 then redis.call('SET', key, val, 'EX', ttl) else redis.call('SET', key, val) end
  elseif kind == 'del' then
    redis.call('DEL', key)
  end
  a = a + 4; k = k + 1
end
return 1
"""


def reserve_args(req: ReserveRequest) -> tuple[list[str], list[Any]]:
    keys: list[str] = [req.flags_key or "none"]
    spec: list[str] = []
    for g in req.groups:
        keys.extend(g.keys)
        if g.incr:
            keys.append(g.incr)
        spec.append(f"{g.op},{g.limit},{len(g.keys)},{1 if g.incr else 0},{g.ttl_s}")
    if req.lock:
        keys.append(req.lock)
    if req.reservation_key:
        keys.append(req.reservation_key)
    args: list[Any] = [
        req.now, 1 if req.dry_run else 0, req.lock_ttl_s if req.lock else 0,
        req.reservation_ttl_s if req.reservation_key else 0, req.payload,
        "\n".join(req.flags), ";".join(spec),
    ]
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
            args += [op.kind, op.field, op.value, op.ttl_s]
        return bool(await self._apply(keys=keys, args=args))

    async def get_many(self, keys: Sequence[str]) -> list[str | None]:
        if not keys:
            return []
        return [v if v is None or isinstance(v, str) else v.decode()
                for v in await self._r.mget(list(keys))]

    async def get_fields(self, key: str, fields: Sequence[str]) -> list[str | None]:
        if not fields:
            return []
        return [v if v is None or isinstance(v, str) else v.decode()
                for v in await self._r.hmget(key, list(fields))]
