"""Shared state of calls in flight: call context, callback dedupe, status order.

Two backends with the same behaviour: :class:`RedisTwilioState` (several API processes
share it) and :class:`MemoryTwilioState` (one process, tests and simulation).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Protocol

import redis.asyncio as aioredis

from contact_engine.channels.twilio.keys import TwilioKeys

#: how long call state is kept (calls and their callbacks end well within a day)
STATE_TTL_S = 3 * 24 * 3600


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the TwiML endpoints need to answer for one attempt."""

    attempt_id: str
    language: str
    body: str  # what a person hears (third-party-safe when third_party)
    third_party: bool
    voicemail: str | None  # limited-content voicemail text; None: hang up on a machine


class TwilioState(Protocol):
    async def put_context(self, ctx: CallContext) -> None: ...
    async def get_context(self, attempt_id: str) -> CallContext | None: ...
    async def first_time(self, dedupe_key: str) -> bool:
        """True exactly once per key (atomic)."""
        ...

    async def forget(self, dedupe_key: str) -> None:
        """Undo :meth:`first_time` (the callback was not handled and may come again)."""
        ...

    async def advance(self, provider_ref: str, rank: int) -> int | None:
        """Raise the status rank of ``provider_ref`` to ``rank`` (atomic).

        Returns the previous rank (-1: none yet), or None when ``rank`` is not higher.
        """
        ...

    async def lower(self, provider_ref: str, rank: int, previous: int) -> None:
        """Undo :meth:`advance`: back to ``previous`` if still at ``rank`` (atomic)."""
        ...

    async def set_answered_by(self, call_sid: str, value: str) -> None: ...
    async def get_answered_by(self, call_sid: str) -> str | None: ...


class MemoryTwilioState:
    """In-process twin of :class:`RedisTwilioState`."""

    def __init__(self) -> None:
        self._ctx: dict[str, CallContext] = {}
        self._seen: dict[str, float] = {}
        self._rank: dict[str, int] = {}
        self._amd: dict[str, str] = {}

    async def put_context(self, ctx: CallContext) -> None:
        self._ctx[ctx.attempt_id] = ctx

    async def get_context(self, attempt_id: str) -> CallContext | None:
        return self._ctx.get(attempt_id)

    async def first_time(self, dedupe_key: str) -> bool:
        if dedupe_key in self._seen:
            return False
        self._seen[dedupe_key] = time.monotonic()
        return True

    async def forget(self, dedupe_key: str) -> None:
        self._seen.pop(dedupe_key, None)

    async def advance(self, provider_ref: str, rank: int) -> int | None:
        previous = self._rank.get(provider_ref, -1)
        if rank <= previous:
            return None
        self._rank[provider_ref] = rank
        return previous

    async def lower(self, provider_ref: str, rank: int, previous: int) -> None:
        if self._rank.get(provider_ref) == rank:
            self._rank[provider_ref] = previous

    async def set_answered_by(self, call_sid: str, value: str) -> None:
        self._amd[call_sid] = value

    async def get_answered_by(self, call_sid: str) -> str | None:
        return self._amd.get(call_sid)


_ADVANCE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return current
end
return -2
"""

_LOWER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 0
"""


class RedisTwilioState:
    """Call state in Redis: SET NX for dedupe, a Lua compare-and-raise for status order."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._r = client
        self.keys = TwilioKeys(prefix)
        self._advance = client.register_script(_ADVANCE)
        self._lower = client.register_script(_LOWER)

    async def put_context(self, ctx: CallContext) -> None:
        await self._r.set(self.keys.call_context(ctx.attempt_id), json.dumps(asdict(ctx)), ex=STATE_TTL_S)

    async def get_context(self, attempt_id: str) -> CallContext | None:
        raw = await self._r.get(self.keys.call_context(attempt_id))
        return CallContext(**json.loads(raw)) if raw else None

    async def first_time(self, dedupe_key: str) -> bool:
        return bool(await self._r.set(self.keys.seen(dedupe_key), "1", nx=True, ex=STATE_TTL_S))

    async def forget(self, dedupe_key: str) -> None:
        await self._r.delete(self.keys.seen(dedupe_key))

    async def advance(self, provider_ref: str, rank: int) -> int | None:
        previous = int(await self._advance(keys=[self.keys.rank(provider_ref)], args=[rank, STATE_TTL_S]))
        return None if previous == -2 else previous

    async def lower(self, provider_ref: str, rank: int, previous: int) -> None:
        await self._lower(keys=[self.keys.rank(provider_ref)], args=[rank, previous, STATE_TTL_S])

    async def set_answered_by(self, call_sid: str, value: str) -> None:
        await self._r.set(self.keys.answered_by(call_sid), value, ex=STATE_TTL_S)

    async def get_answered_by(self, call_sid: str) -> str | None:
        value = await self._r.get(self.keys.answered_by(call_sid))
        return str(value) if value is not None else None
