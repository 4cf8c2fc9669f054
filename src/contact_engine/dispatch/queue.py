"""The delayed queue and the stream the workers consume.

Intents wait in a sorted set scored by ``not_before``; ``promote`` moves due ones into a
stream atomically (Lua), workers read through a consumer group, claim each intent with
``SET NX`` before calling a provider, and ``ack`` when done. Entries of a crashed worker
are taken over with ``XAUTOCLAIM``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from contact_engine.dispatch.keys import DispatchKeys
from contact_engine.domain import Channel, Intent, Mode

_PROMOTE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'intent', member)
  redis.call('ZREM', KEYS[1], member)
end
return #due
"""


#: SET NX EX of many claim keys in one call; "1" per key claimed, "0" per key already held.
_CLAIM = """
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('SET', key, ARGV[1], 'NX', 'EX', ARGV[2]) and '1' or '0'
end
return table.concat(out)
"""


#: Append a reservation note to claims still held by ARGV[1] (the owner); the number noted.
_NOTE = """
local n = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('SET', key, ARGV[1] .. ARGV[i + 2], 'EX', ARGV[2])
    n = n + 1
  end
end
return n
"""

#: Between a claim's owner and its reservation note (worker names never hold it).
_NOTE_MARK = "|r="


@dataclass(frozen=True, slots=True)
class Claim:
    """Who claimed an intent and, once the gate allowed it, the reservation and the
    decision time of the send that followed (what a reconciling worker needs)."""

    owner: str
    reservation_id: str | None = None
    at: datetime | None = None


def parse_claim(value: str) -> Claim:
    owner, mark, note = value.rpartition(_NOTE_MARK)
    if not mark:
        return Claim(value)
    rid, _, ms = note.partition(",")
    return Claim(owner, rid, datetime.fromtimestamp(int(ms) / 1000, UTC))


_CHANNELS = {c.value: c for c in Channel}
_MODES = {m.value: m for m in Mode}


def encode_intent(intent: Intent) -> str:
    """Serialise an intent (stable: the same intent gives the same member; keys sorted,
    no spaces, UTF-8 as is)."""
    return orjson.dumps(
        {
            "id": intent.id, "campaign_id": intent.campaign_id, "step_id": intent.step_id,
            "account_id": intent.account_id, "party_id": intent.party_id,
            "channel": intent.channel.value, "mode": intent.mode.value,
            "contact_point": intent.contact_point, "not_before": intent.not_before.isoformat(),
            "script": intent.script, "language": intent.language,
            "local_day": intent.local_day.isoformat() if intent.local_day else None,
            "attempt_no": intent.attempt_no,
        },
        option=orjson.OPT_SORT_KEYS,
    ).decode()


def decode_intent(raw: str | bytes) -> Intent:
    """Inverse of ``encode_intent``."""
    d: dict[str, Any] = orjson.loads(raw)
    return Intent(
        id=d["id"], campaign_id=d["campaign_id"], step_id=d["step_id"], account_id=d["account_id"],
        party_id=d["party_id"], channel=_CHANNELS[d["channel"]], mode=_MODES[d["mode"]],
        contact_point=d["contact_point"], not_before=datetime.fromisoformat(d["not_before"]),
        script=d["script"], language=d["language"],
        local_day=date.fromisoformat(d["local_day"]) if d["local_day"] else None,
        attempt_no=int(d["attempt_no"]),
    )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stream entry handed to a worker."""

    entry_id: str
    intent: Intent


class DispatchQueue:
    """Delayed sorted set + stream + consumer group over one Redis client."""

    def __init__(self, redis: aioredis.Redis, keys: DispatchKeys, *, claim_ttl_s: int = 7 * 86400) -> None:
        self._r = redis
        self.keys = keys
        self._claim_ttl_s = claim_ttl_s
        self._promote = redis.register_script(_PROMOTE)
        self._claim = redis.register_script(_CLAIM)
        self._note = redis.register_script(_NOTE)

    async def ensure_group(self) -> None:
        """Create the consumer group (idempotent)."""
        try:
            await self._r.xgroup_create(self.keys.stream, self.keys.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def schedule(self, intents: list[Intent]) -> int:
        """Add intents to the delayed queue (an intent already waiting is not added twice)."""
        if not intents:
            return 0
        mapping = {encode_intent(i): i.not_before.timestamp() for i in intents}
        return int(await self._r.zadd(self.keys.delayed, mapping))  # type: ignore[arg-type]

    async def promote(self, now: datetime, limit: int = 1000) -> int:
        """Move intents due at ``now`` into the stream; returns how many moved."""
        return int(await self._promote(keys=[self.keys.delayed, self.keys.stream], args=[now.timestamp(), limit]))

    async def waiting(self) -> int:
        """How many intents wait in the delayed queue."""
        return int(await self._r.zcard(self.keys.delayed))

    async def read(self, consumer: str, count: int = 100, block_ms: int | None = None) -> list[Delivery]:
        """New entries for ``consumer`` (blocks up to ``block_ms`` when given)."""
        resp: Any = await self._r.xreadgroup(
            self.keys.group, consumer, {self.keys.stream: ">"}, count=count, block=block_ms
        )
        out: list[Delivery] = []
        for _stream, entries in resp or []:
            for entry_id, fields in entries:
                out.append(Delivery(entry_id, decode_intent(fields["intent"])))
        return out

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int = 100) -> list[Delivery]:
        """Take over entries idle longer than ``min_idle_ms`` (a crashed worker's).

        XAUTOCLAIM answers ``[next, entries]`` on Redis 6.2 and ``[next, entries, deleted]``
        on 7.0; only the first two are used. Deleted entries come back as ``None`` and are
        skipped.
        """
        resp = await self._r.execute_command(
            "XAUTOCLAIM", self.keys.stream, self.keys.group, consumer, min_idle_ms, "0-0", "COUNT", count
        )
        entries = resp[1] if resp else []
        out: list[Delivery] = []
        for item in entries:
            if not item or item[1] is None:
                continue
            entry_id, flat = item[0], item[1]
            fields = dict(zip(flat[::2], flat[1::2], strict=True)) if isinstance(flat, list) else flat
            out.append(Delivery(entry_id, decode_intent(fields["intent"])))
        return out

    async def claim(self, intent_id: str, owner: str) -> bool:
        """SET NX of the intent id: True for the one worker that may call the provider."""
        return (await self.claim_many([intent_id], owner))[0]

    async def claim_many(self, intent_ids: list[str], owner: str) -> list[bool]:
        """``claim`` for many intents in one script call (one Redis node)."""
        if not intent_ids:
            return []
        raw = await self._claim(keys=[self.keys.claim(i) for i in intent_ids], args=[owner, self._claim_ttl_s])
        return [c == "1" for c in (raw.decode() if isinstance(raw, bytes) else str(raw))]

    async def note_reservations(self, owner: str, items: Sequence[tuple[str, str, datetime]]) -> int:
        """Write (intent id, reservation id, decision time) into ``owner``'s claims, before
        the sends: a worker that takes over after a crash then knows the reservation of a
        send it finds at the provider (its outcomes reach the gate) or of one never made
        (released). One script call; returns how many claims were still ``owner``'s."""
        if not items:
            return 0
        if _NOTE_MARK in owner:
            raise ValueError(f"worker name {owner!r} contains {_NOTE_MARK!r}")
        notes = [f"{_NOTE_MARK}{rid},{round(at.timestamp() * 1000)}" for _i, rid, at in items]
        return int(await self._note(keys=[self.keys.claim(i) for i, _r, _a in items],
                                    args=[owner, self._claim_ttl_s, *notes]))

    async def claims(self, intent_ids: Sequence[str]) -> dict[str, Claim]:
        """The claims held on ``intent_ids`` (unclaimed ones are left out)."""
        if not intent_ids:
            return {}
        values = await self._r.mget([self.keys.claim(i) for i in intent_ids])
        return {i: parse_claim(v.decode() if isinstance(v, bytes) else str(v))
                for i, v in zip(intent_ids, values, strict=True) if v is not None}

    async def take_over(self, intent_id: str, owner: str) -> None:
        """Move a dead worker's claim to ``owner`` (after reconciling with the provider)."""
        await self._r.set(self.keys.claim(intent_id), owner, ex=self._claim_ttl_s)

    async def heartbeat(self, worker: str, ttl_ms: int) -> None:
        """Tell other workers that ``worker`` is alive (for ``ttl_ms``)."""
        await self._r.set(self.keys.alive(worker), "1", px=ttl_ms)

    async def owners_alive(self, intent_ids: list[str], *, besides: str | None = None,
                           held: Mapping[str, Claim] | None = None) -> dict[str, bool]:
        """For each claimed intent: is the worker holding the claim still alive?

        An intent claimed by a worker without a heartbeat key (never started one, or
        stopped) counts as dead; so does one claimed by ``besides`` (the asking worker:
        its own claim is left from a batch of its own that failed). ``held``: the claims
        of ``intent_ids`` when the caller has read them already (``claims``).
        """
        if not intent_ids:
            return {}
        if held is None:
            held = await self.claims(intent_ids)
        owners = [held[i].owner if i in held else None for i in intent_ids]
        named = [o for o in owners if o]
        alive: dict[str, bool] = {}
        if named:
            flags = await self._r.mget([self.keys.alive(o) for o in named])
            alive = {o: f is not None for o, f in zip(named, flags, strict=True)}
        return {i: o is not None and o != besides and alive.get(o, False)
                for i, o in zip(intent_ids, owners, strict=True)}

    async def unclaim_many(self, intent_ids: list[str]) -> None:
        """Free claims (the intents were deferred, not sent)."""
        if intent_ids:
            await self._r.delete(*[self.keys.claim(i) for i in intent_ids])

    async def ack_many(self, entry_ids: list[str]) -> None:
        """Acknowledge and delete many handled entries."""
        if not entry_ids:
            return
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.xack(self.keys.stream, self.keys.group, *entry_ids)
            pipe.xdel(self.keys.stream, *entry_ids)
            await pipe.execute()

    async def next_due(self) -> datetime | None:
        """When the earliest waiting intent is due."""
        first = await self._r.zrange(self.keys.delayed, 0, 0, withscores=True)
        return datetime.fromtimestamp(float(first[0][1]), UTC) if first else None

    async def pending(self) -> int:
        """Entries delivered to a worker and not yet acknowledged."""
        info: Any = await self._r.xpending(self.keys.stream, self.keys.group)
        return int(info.get("pending", 0)) if isinstance(info, dict) else int(info[0])

    async def stream_length(self) -> int:
        return int(await self._r.xlen(self.keys.stream))

    async def claimed_by(self, intent_id: str) -> str | None:
        """Who claimed ``intent_id``, if anyone."""
        found = await self.claims([intent_id])
        return found[intent_id].owner if intent_id in found else None

    async def ack(self, entry_id: str) -> None:
        """Acknowledge and delete a handled entry."""
        await self.ack_many([entry_id])
