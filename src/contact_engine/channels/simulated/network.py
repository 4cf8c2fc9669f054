"""The simulated network: where sent contacts wait for their progress reports.

The network outlives a worker: with ``RedisNetworkState`` its pending reports and its
record of what was sent live in Redis, so a worker killed mid-call does not take the call
with it (as a real carrier would not), any worker may deliver the reports, and a
duplicate send is visible (``duplicates``). ``MemoryNetworkState`` serves one process.

Reports come back through ``SimulatedNetwork.due``: the engine feeds them to the same
report handler the webhooks of real providers feed.
"""

from __future__ import annotations

import heapq
import itertools
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis

from contact_engine.channels.base import OutboundContact, ProviderReport
from contact_engine.channels.simulated.model import TALKED, OutcomeModel, SimulatedCall
from contact_engine.domain import Channel, Outcome

_POP = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
"""


class NetworkState(ABC):
    """Pending events and the send register of the simulated network."""

    @abstractmethod
    async def register_send(self, attempt_id: str) -> int:
        """Count a send of ``attempt_id``; returns how many times it was sent."""

    async def register_sends(self, attempt_ids: Sequence[str]) -> list[int]:
        """``register_send`` for each id, in order (one round trip where the state allows)."""
        return [await self.register_send(a) for a in attempt_ids]

    @abstractmethod
    async def was_sent(self, attempt_id: str) -> bool: ...

    @abstractmethod
    async def push(self, items: list[tuple[float, dict[str, Any]]]) -> None:
        """Schedule events (epoch seconds, event)."""

    @abstractmethod
    async def pop_due(self, now_ts: float, limit: int) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def next_at(self) -> float | None: ...

    @abstractmethod
    async def duplicates(self) -> int:
        """How many attempt ids were sent more than once."""

    @abstractmethod
    async def sends(self) -> int:
        """How many distinct attempt ids were sent."""


class MemoryNetworkState(NetworkState):
    def __init__(self) -> None:
        self._sent: dict[str, int] = {}
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        self._seq = itertools.count()

    async def register_send(self, attempt_id: str) -> int:
        self._sent[attempt_id] = self._sent.get(attempt_id, 0) + 1
        return self._sent[attempt_id]

    async def was_sent(self, attempt_id: str) -> bool:
        return attempt_id in self._sent

    async def push(self, items: list[tuple[float, dict[str, Any]]]) -> None:
        for at, event in items:
            heapq.heappush(self._heap, (at, next(self._seq), event))

    async def pop_due(self, now_ts: float, limit: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while self._heap and self._heap[0][0] <= now_ts and len(out) < limit:
            out.append(heapq.heappop(self._heap)[2])
        return out

    async def next_at(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    async def duplicates(self) -> int:
        return sum(1 for n in self._sent.values() if n > 1)

    async def sends(self) -> int:
        return len(self._sent)


class RedisNetworkState(NetworkState):
    """The network's state in Redis, shared by every process of a run."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._r = redis
        self._sent = f"{prefix}sim:sent"
        self._events = f"{prefix}sim:events"
        self._seq = f"{prefix}sim:seq"
        self._pop = redis.register_script(_POP)

    async def register_send(self, attempt_id: str) -> int:
        return int(await self._r.hincrby(self._sent, attempt_id, 1))  # type: ignore[misc]

    async def register_sends(self, attempt_ids: Sequence[str]) -> list[int]:
        if not attempt_ids:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for a in attempt_ids:
                pipe.hincrby(self._sent, a, 1)
            return [int(n) for n in await pipe.execute()]

    async def was_sent(self, attempt_id: str) -> bool:
        return bool(await self._r.hexists(self._sent, attempt_id))  # type: ignore[misc]

    async def push(self, items: list[tuple[float, dict[str, Any]]]) -> None:
        if not items:
            return
        first = int(await self._r.incrby(self._seq, len(items)))
        # a sequence number makes equal payloads distinct members
        mapping = {f"{first - len(items) + i}|{json.dumps(e, ensure_ascii=False)}": at
                   for i, (at, e) in enumerate(items)}
        await self._r.zadd(self._events, mapping)  # type: ignore[arg-type]

    async def pop_due(self, now_ts: float, limit: int) -> list[dict[str, Any]]:
        raw = await self._pop(keys=[self._events], args=[now_ts, limit])
        return [json.loads(str(m).split("|", 1)[1]) for m in raw]

    async def next_at(self) -> float | None:
        first = await self._r.zrange(self._events, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def duplicates(self) -> int:
        counts = await self._r.hvals(self._sent)  # type: ignore[misc]
        return sum(1 for n in counts if int(n) > 1)

    async def sends(self) -> int:
        return int(await self._r.hlen(self._sent))  # type: ignore[misc]


# -- what people say on simulated calls ------------------------------------------------

_REPLIES = {
    "zh": {
        Outcome.CONVERSATION: "好的，我知道了，我会尽快处理。",
        Outcome.PROMISE_TO_PAY: "好的，我这几天就还款。",
        Outcome.PAID: "我现在就还清吧。",
        Outcome.DISPUTE: "这笔钱我有异议，金额不对。",
        Outcome.CEASE: "请不要再给我打电话了。",
        Outcome.WRONG_NUMBER: "你打错了，我不认识这个人。",
        Outcome.OPT_OUT: "请不要再联系我。",
        Outcome.THIRD_PARTY_REFUSED: "我不方便转告，请别再打来了。",
        Outcome.THIRD_PARTY_UNKNOWN: "我不认识这个人。",
    },
    "en": {
        Outcome.CONVERSATION: "Okay, I understand. I will take care of it soon.",
        Outcome.PROMISE_TO_PAY: "All right, I will pay in a few days.",
        Outcome.PAID: "I will pay the full amount right now.",
        Outcome.DISPUTE: "I dispute this amount, it is not right.",
        Outcome.CEASE: "Please stop calling me.",
        Outcome.WRONG_NUMBER: "Wrong number, I do not know that person.",
        Outcome.OPT_OUT: "Do not contact me again.",
        Outcome.THIRD_PARTY_REFUSED: "I will not pass that on. Do not call here again.",
        Outcome.THIRD_PARTY_UNKNOWN: "I do not know who that is.",
    },
}
#: A collector line that breaks a QA rule (a threat to tell family and employer, RULES.md).
_RULE_BREAK = {
    "zh": "如果你再不还钱，我们就通知你的家人和单位。",
    "en": "If you do not pay, we will tell your family and your employer.",
}
_SENTENCE = re.compile(r"(?<=[。！？.!?])\s*")


def transcript(contact: OutboundContact, call: SimulatedCall) -> list[dict[str, str]]:
    """The lines of a simulated call: the script, the reply, maybe a bad collector line."""
    lang = "zh" if contact.language.lower().startswith("zh") else "en"
    lines = [{"speaker": "agent", "text": s, "language": contact.language}
             for s in _SENTENCE.split(contact.body) if s.strip()]
    reply = _REPLIES[lang].get(call.outcome)
    if reply:
        lines.append({"speaker": "party", "text": reply, "language": contact.language})
    if call.rule_break:
        lines.append({"speaker": "agent", "text": _RULE_BREAK[lang], "language": contact.language})
    return lines


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


class SimulatedNetwork:
    """Decides each contact's fate and schedules its reports, payments and broken promises."""

    provider = "simulated"

    def __init__(self, model: OutcomeModel, state: NetworkState | None = None, *,
                 recordings: bool = True, time_scale: float = 1.0) -> None:
        self.model = model
        self.state = state or MemoryNetworkState()
        self.recordings = recordings
        self.time_scale = time_scale

    async def place(self, contact: OutboundContact, at: datetime) -> str:
        """Accept ``contact`` at ``at``: register it and schedule its final report."""
        return (await self.place_many([contact], at))[0]

    async def place_many(self, contacts: Sequence[OutboundContact], at: datetime) -> list[str]:
        """``place`` for many contacts at one instant (two state round trips in all);
        returns each one's provider reference."""
        counts = await self.state.register_sends([c.attempt_id for c in contacts])
        refs: list[str] = []
        events: list[tuple[float, dict[str, Any]]] = []
        for contact, count in zip(contacts, counts, strict=True):
            ref = f"SIM{contact.attempt_id}" + (f"-{count}" if count > 1 else "")
            refs.append(ref)
            events += self._events(contact, ref, at)
        await self.state.push(events)
        return refs

    def _events(self, contact: OutboundContact, ref: str, at: datetime) -> list[tuple[float, dict[str, Any]]]:
        """What placing ``contact`` sets off: its final report, maybe a payment or a broken promise."""
        v = contact.variables
        call = self.model.draw(contact.attempt_id, contact.channel,
                               local_hour=int(v.get("sim_local_hour", "10")),
                               dpd=int(v.get("sim_dpd", "0")), third_party=contact.third_party,
                               balance=Decimal(v.get("sim_balance", "0")))
        end = at + timedelta(seconds=(call.ring_s + call.talk_s) * self.time_scale)
        report: dict[str, Any] = {
            "kind": "report", "attempt_id": contact.attempt_id, "ref": ref,
            "channel": str(contact.channel), "outcome": str(call.outcome), "at": _iso(end),
            "duration_s": call.talk_s if contact.channel is Channel.VOICE else None,
            "account_id": contact.account_id,
        }
        if contact.channel is Channel.VOICE and call.outcome in TALKED:
            report["rule_break"] = call.rule_break
            if self.recordings:
                report["recording_ref"] = f"{ref}-rec"
                report["transcript"] = transcript(contact, call)
        if call.payment is not None and call.payment > 0:
            report["payment"] = str(call.payment)
        events: list[tuple[float, dict[str, Any]]] = [(end.timestamp(), report)]
        if call.outcome is Outcome.PROMISE_TO_PAY:
            if call.promise_days is not None and call.promise_amount:
                when = end + timedelta(days=call.promise_days * self.time_scale)
                events.append((when.timestamp(), {"kind": "payment", "account_id": contact.account_id,
                                                  "amount": str(call.promise_amount), "at": _iso(when)}))
            else:
                when = end + timedelta(days=7 * self.time_scale)
                events.append((when.timestamp(), {"kind": "promise_broken", "account_id": contact.account_id,
                                                  "at": _iso(when)}))
        return events

    async def due(self, now: datetime, limit: int = 5000) -> list[dict[str, Any]]:
        """Events due at ``now`` (reports, payments, broken promises), oldest first."""
        return await self.state.pop_due(now.timestamp(), limit)

    async def next_at(self) -> datetime | None:
        ts = await self.state.next_at()
        return None if ts is None else datetime.fromtimestamp(ts, UTC)


def report_of(event: dict[str, Any]) -> ProviderReport:
    """The ProviderReport of a ``report`` event."""
    outcome = Outcome(event["outcome"])
    detail: dict[str, Any] = {}
    for key in ("transcript", "rule_break", "payment", "account_id", "channel"):
        if key in event:
            detail[key] = event[key]
    return ProviderReport(
        attempt_id=event["attempt_id"], provider="simulated", provider_ref=event["ref"],
        status="completed" if event["channel"] == "voice" else str(outcome),
        at=datetime.fromisoformat(event["at"]), outcome=outcome, duration_s=event.get("duration_s"),
        recording_ref=event.get("recording_ref"), detail=detail,
    )
