"""The Redis ledger: one Lua script per operation, so a decision's checks and increments
are atomic across any number of workers. Never read-then-write from Python.

Arguments are packed compactly (the flag fields in one string, the counter groups in
another) because redis-py's per-argument encoding dominates the client's cost.

``reserve_many`` / ``reserve_chunks`` go further: one EVAL per chunk of up to
``BATCH_MAX`` reservations, each reservation packed into a single ARGV string (see
:func:`pack_reserve`) that the script splits, so redis-py encodes one argument per
reservation instead of a dozen. A chunk is sent as soon as the gate has planned it and the
replies are read at the end, on one connection, so the server evaluates a chunk while the
gate plans the next. Each reservation is still checked and applied on its own, in order
(a later one sees the effects of an earlier one, also across chunks), and each chunk runs
atomically.

Single node only: the keys travel inside ARGV rather than KEYS and one chunk spans many
accounts (many ``{account}`` hash slots). That is fine on one Redis server (embedded or
standalone) but not on Redis Cluster, so with a ``RedisCluster`` client (or
``batch=False``) ``reserve_many`` falls back to one EVALSHA per reservation with declared
KEYS, pipelined, which keeps every script within its account's slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

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

#: One ledger write (an ``Op``), shared by the single and the batch APPLY scripts.
_APPLY_OP_LUA = """
local function apply_op(kind, key, field, val, ttl)
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
end
"""

#: Many APPLY items in one call (single node: keys travel in ARGV, like the batch reserve).
#: ARGV per item: guard ("" for none), number of ops, then kind, key, field, value, ttl per op.
#: Returns one character per item: "1" applied, "0" guard missing (already done).
BATCH_APPLY_LUA = _APPLY_OP_LUA + """
local out = {}
local a = 1
while a <= #ARGV do
  local guard = ARGV[a]; local n = tonumber(ARGV[a + 1]); a = a + 2
  local ok = guard == '' or redis.call('DEL', guard) == 1
  if ok then
    for i = 0, n - 1 do
      local b = a + 5 * i
      apply_op(ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], tonumber(ARGV[b + 4]))
    end
  end
  a = a + 5 * n
  out[#out + 1] = ok and '1' or '0'
end
return table.concat(out)
"""

# KEYS: [guard], op keys...; ARGV: has_guard, then per op: kind, field, value, ttl
APPLY_LUA = _APPLY_OP_LUA + """
local k = 1
if ARGV[1] == '1' then
  if redis.call('DEL', KEYS[1]) == 0 then return 0 end
  k = 2
end
local a = 2
while a <= #ARGV do
  apply_op(ARGV[a], KEYS[k], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3]))
  a = a + 4; k = k + 1
end
return 1
"""


# ARGV: one packed reservation each (see pack_reserve). Returns one string: per
# reservation, the comma-joined failure indexes (numbered as in RESERVE_LUA; empty when it
# passed), joined by ";". The "shape" (numbers and group layout) repeats across the
# reservations of a batch, so it is parsed once per distinct shape.
BATCH_RESERVE_LUA = """
local shapes = {}
local days = {}
-- the yyyymmdd of day number z (days since 1970-01-01; civil_from_days, H. Hinnant)
local function ymd(z)
  local s = days[z]
  if s then return s end
  local x = z + 719468
  local era = math.floor(x / 146097)
  local doe = x - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  s = string.format('%04d%02d%02d', y, m, d)
  days[z] = s
  return s
end
local function shape_of(s)
  local sh = shapes[s]
  if sh then return sh end
  local head, rest = string.match(s, '^([^;]*)(.*)$')
  local now, dry, lock_ttl, res_ttl, nf = string.match(head, '^(%d+),(%d),(%d+),(%d+),(%d+)$')
  if not nf then error('bad reservation shape: ' .. s) end
  sh = {now = tonumber(now), dry = dry == '1', lock_ttl = tonumber(lock_ttl),
        res_ttl = tonumber(res_ttl), nf = tonumber(nf), groups = {}, nkeys = 0}
  for op, limit, nk, ttl, inc, fd in string.gmatch(rest, ';(%a+),(%d+),(%d+),(%d+),([01]),(%-?%d+)') do
    nk = tonumber(nk)
    local g = {op = op, limit = tonumber(limit), nk = nk, ttl = tonumber(ttl), inc = inc == '1',
               fd = tonumber(fd), first = sh.nkeys + 1}
    sh.nkeys = sh.nkeys + nk
    sh.groups[#sh.groups + 1] = g
  end
  local _, ng = string.gsub(rest, ';', '')
  if ng ~= #sh.groups then error('bad reservation shape: ' .. s) end
  shapes[s] = sh
  return sh
end
local out = {}
for a = 1, #ARGV do
  local s = ARGV[a]
  local j = string.find(s, '\\30', 1, true)
  local npre = tonumber(string.sub(s, 1, j - 1))
  local t = {}
  local i = j + 1
  for n = 1, npre do
    j = string.find(s, '\\30', i, true)
    t[n] = string.sub(s, i, j - 1)
    i = j + 1
  end
  local payload = string.sub(s, i)
  -- t: shape, flags key, flags..., per group its stem (day series) or its keys, [lock],
  --    reservation key or ''
  local sh = shape_of(t[1])
  local nf = sh.nf
  local ng = #sh.groups
  local failed = {}
  if nf > 0 then
    local vals = redis.call('HMGET', t[2], unpack(t, 3, 2 + nf))
    for f = 1, nf do
      local v = vals[f]
      if v and (v == 'p' or tonumber(v) > sh.now) then failed[#failed + 1] = f end
    end
  end
  local keys = {}
  local p = 3 + nf
  for g = 1, ng do
    local gr = sh.groups[g]
    if gr.fd >= 0 then
      local stem = t[p]
      p = p + 1
      for d = 0, gr.nk - 1 do keys[gr.first + d] = stem .. ymd(gr.fd + d) end
    else
      for d = 0, gr.nk - 1 do keys[gr.first + d] = t[p + d] end
      p = p + gr.nk
    end
  end
  local lock = nil
  if sh.lock_ttl > 0 then lock = t[p]; keys[sh.nkeys + 1] = lock end
  local vals = {}
  if #keys > 0 then vals = redis.call('MGET', unpack(keys)) end
  for g = 1, ng do
    local gr = sh.groups[g]
    local total = 0
    for v = gr.first, gr.first + gr.nk - 1 do
      if vals[v] then total = total + tonumber(vals[v]) end
    end
    if (gr.op == 'lt' and total >= gr.limit) or (gr.op == 'ge' and total < gr.limit) then
      failed[#failed + 1] = nf + g
    end
  end
  if lock and vals[sh.nkeys + 1] then failed[#failed + 1] = nf + ng + 1 end
  if #failed == 0 and not sh.dry then
    for g = 1, ng do
      local gr = sh.groups[g]
      if gr.inc and gr.nk > 0 then
        local key = keys[gr.first + gr.nk - 1]
        local n = redis.call('INCR', key)
        if n == 1 and gr.ttl > 0 then redis.call('EXPIRE', key, gr.ttl) end
      end
    end
    if lock then redis.call('SET', lock, '1', 'EX', sh.lock_ttl) end
    if sh.res_ttl > 0 then redis.call('SET', t[npre], payload, 'EX', sh.res_ttl) end
  end
  out[a] = table.concat(failed, ',')
end
return table.concat(out, ';')
"""

# Reservations per script call: bounds how long one call blocks the server (a few ms).
BATCH_MAX = 500
_SEP = "\x1e"


def pack_reserve(req: ReserveRequest) -> str:
    """One reservation as one string for BATCH_RESERVE_LUA: the number of fields before
    the payload, those fields, then the payload, separated by 0x1e (which may occur in
    the payload, never in a key name or flag field). A group of consecutive days is sent
    as its stem alone: the script builds its keys (``Group.first_day``)."""
    lock_ttl = req.lock_ttl_s if req.lock else 0
    shape = [f"{req.now},{1 if req.dry_run else 0},{lock_ttl},"
             f"{req.reservation_ttl_s if req.reservation_key else 0},{len(req.flags)}"]
    parts = ["", req.flags_key or "none", *req.flags]
    for g in req.groups:
        if g.first_day >= 0:
            parts.append(g.stem)
        else:
            parts += g.keys
        shape.append(f"{g.op},{g.limit},{len(g.days)},{g.ttl_s},{1 if g.counts else 0},{g.first_day}")
    if lock_ttl:
        parts.append(req.lock)  # type: ignore[arg-type]
    parts.append(req.reservation_key or "")
    parts[0] = ";".join(shape)
    return f"{len(parts)}{_SEP}{_SEP.join(parts)}{_SEP}{req.payload}"


def reserve_keys(req: ReserveRequest) -> int:
    """How many keys one reservation touches (the flags hash, the counter buckets, the
    lock and the reservation record)."""
    return len(reserve_args(req)[0])


def _batch_result(req: ReserveRequest, raw: str) -> ReserveResult:
    if not raw:
        return _OK
    return reserve_result(req, raw.split(","))


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


def reserve_result(req: ReserveRequest, failed: Sequence[Any]) -> ReserveResult:
    nf, ng = len(req.flags), len(req.groups)
    idx = [int(x) for x in failed]
    return ReserveResult(
        ok=not idx,
        failed_flags=tuple(i - 1 for i in idx if i <= nf),
        failed_groups=tuple(i - nf - 1 for i in idx if nf < i <= nf + ng),
        lock_held=any(i == nf + ng + 1 for i in idx),
    )


_OK = ReserveResult(ok=True)


class RedisLedger(Ledger):
    def __init__(self, client: aioredis.Redis, *, batch: bool | None = None) -> None:
        """``batch``: one script per chunk of reservations in ``reserve_many`` (default:
        on unless the client is a ``RedisCluster``; see the module docstring)."""
        self._r = client
        self._reserve = client.register_script(RESERVE_LUA)
        self._apply = client.register_script(APPLY_LUA)
        self._apply_batch = client.register_script(BATCH_APPLY_LUA)
        self._batch = not isinstance(client, RedisCluster) if batch is None else batch

    async def reserve(self, req: ReserveRequest) -> ReserveResult:
        keys, args = reserve_args(req)
        return reserve_result(req, await self._reserve(keys=keys, args=args))

    async def reserve_many(self, reqs: Sequence[ReserveRequest]) -> list[ReserveResult]:
        """Many reservations in one round trip (each still atomic on its own)."""
        if not reqs:
            return []
        if self._batch:
            return await self.reserve_chunks([reqs])
        async with self._r.pipeline(transaction=False) as pipe:
            for req in reqs:
                keys, args = reserve_args(req)
                await self._reserve(keys=keys, args=args, client=pipe)
            raw = await pipe.execute()
        return [reserve_result(req, out) for req, out in zip(reqs, raw, strict=True)]

    async def reserve_chunks(self, chunks: Iterable[Sequence[ReserveRequest]]
                             ) -> list[ReserveResult]:
        """Each chunk is sent (one script call per ``BATCH_MAX`` reservations) as soon as
        the generator yields it, on one connection, so the server works on it while the
        caller builds the next; the replies are read at the end, in order."""
        if not self._batch:
            return await super().reserve_chunks(chunks)
        pool = self._r.connection_pool
        try:
            conn = await pool.get_connection()
        except TypeError:  # redis-py < 5.3 wants a command name
            conn = await pool.get_connection("EVAL")
        sent: list[Sequence[ReserveRequest]] = []
        try:
            for chunk in chunks:
                for start in range(0, len(chunk), BATCH_MAX):
                    part = chunk[start:start + BATCH_MAX]
                    # EVAL with the body (not EVALSHA): never NOSCRIPT, so the chunks
                    # run exactly in the order sent; the server caches the compiled script.
                    await conn.send_packed_command(conn.pack_command(
                        "EVAL", BATCH_RESERVE_LUA, 0, *[pack_reserve(r) for r in part]))
                    sent.append(part)
            raws = [await conn.read_response() for _ in sent]
        except BaseException:
            await conn.disconnect()  # replies may be pending: never reuse this socket
            raise
        finally:
            await pool.release(conn)
        out: list[ReserveResult] = []
        for part, raw in zip(sent, raws, strict=True):
            if isinstance(raw, bytes):
                raw = raw.decode()
            out += [_batch_result(req, r) for req, r in zip(part, raw.split(";"), strict=True)]
        return out

    async def apply(self, guard: str | None, ops: Sequence[Op]) -> bool:
        keys = ([guard] if guard else []) + [op.key for op in ops]
        args: list[Any] = [1 if guard else 0]
        for op in ops:
            args += [op.kind, op.field, op.value, op.ttl_s]
        return bool(await self._apply(keys=keys, args=args))

    async def apply_many(self, items: Sequence[tuple[str | None, Sequence[Op]]]) -> list[bool]:
        """Many APPLY items in one script call (single node) or one pipeline (cluster);
        each atomic on its own; one round trip."""
        if not items:
            return []
        if self._batch:
            out: list[bool] = []
            for start in range(0, len(items), BATCH_MAX):
                packed: list[Any] = []
                for guard, ops in items[start:start + BATCH_MAX]:
                    packed += [guard or "", len(ops)]
                    for op in ops:
                        packed += [op.kind, op.key, op.field, op.value, op.ttl_s]
                raw = await self._apply_batch(keys=[], args=packed)
                out += [c == "1" for c in (raw.decode() if isinstance(raw, bytes) else raw)]
            return out
        async with self._r.pipeline(transaction=False) as pipe:
            for guard, ops in items:
                keys = ([guard] if guard else []) + [op.key for op in ops]
                args: list[Any] = [1 if guard else 0]
                for op in ops:
                    args += [op.kind, op.field, op.value, op.ttl_s]
                await self._apply(keys=keys, args=args, client=pipe)
            return [bool(x) for x in await pipe.execute()]

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

    async def read_many(self, items: Sequence[tuple[str, Sequence[str], Sequence[str]]]
                        ) -> list[tuple[list[str | None], list[str | None]]]:
        """One pipeline for all: an HMGET per item with fields, and one MGET of every key
        on a single node (one MGET per item on a cluster, where one item's keys share a
        slot but different items' do not)."""
        every = [k for _h, _f, keys in items for k in keys]
        if not any(fields for _h, fields, _k in items) and not every:
            return [([], []) for _ in items]
        async with self._r.pipeline(transaction=False) as pipe:
            for h, fields, keys in items:
                if fields:
                    pipe.hmget(h, list(fields))
                if keys and not self._batch:
                    pipe.mget(list(keys))
            if every and self._batch:
                pipe.mget(every)
            replies = iter([[v if v is None or isinstance(v, str) else v.decode() for v in r]
                            for r in await pipe.execute()])
        out: list[tuple[list[str | None], list[str | None]]] = []
        for _h, fields, keys in items:
            fvals = next(replies) if fields else []
            kvals = next(replies) if keys and not self._batch else []
            out.append((fvals, kvals))
        if every and self._batch:
            flat = next(replies)
            pos = 0
            for i, (_h, _f, keys) in enumerate(items):
                out[i] = (out[i][0], flat[pos:pos + len(keys)])
                pos += len(keys)
        return out
