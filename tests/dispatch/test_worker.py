"""The dispatcher: claim, gate, provider, audit (real gate, real database and Redis).

The channel adapter here is a stand-in that records what it was asked to send, so that
the test sees exactly what reached the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.channels.base import ChannelAdapter, OutboundContact, SendReceipt
from contact_engine.compliance.gate import Gate
from contact_engine.compliance.router import GateRouter
from contact_engine.config import GateSettings
from contact_engine.dispatch.keys import DispatchKeys
from contact_engine.dispatch.queue import DispatchQueue, encode_intent
from contact_engine.dispatch.worker import Dispatcher, Result
from contact_engine.domain import (
    Account,
    Address,
    Channel,
    ContactKind,
    ContactPoint,
    Intent,
    Mode,
    Outcome,
    Party,
    Role,
)
from contact_engine.store.repositories import AuditRepository
from contact_engine.store.tables import attempts, decisions

PHONE = "+8613800138000"
ACCOUNT = Account(
    id="A1", due_date=date(2026, 2, 1), balance=Decimal("500"),
    address=Address(country="CN", region="Shanghai", postal_code="200000"),
    parties=(Party(id="A1/debtor", role=Role.DEBTOR, contact_points=(
        ContactPoint(party_id="A1/debtor", kind=ContactKind.PHONE, value=PHONE),)),),
)


class RecordingAdapter(ChannelAdapter):
    provider = "stand-in"
    channels = frozenset({Channel.VOICE, Channel.SMS})

    def __init__(self) -> None:
        super().__init__()
        self.contacts: list[OutboundContact] = []

    async def _send(self, contact: OutboundContact) -> SendReceipt:
        self.contacts.append(contact)
        return SendReceipt(provider=self.provider, provider_ref=f"ref-{len(self.contacts)}",
                           accepted_at=datetime.now(UTC))


def _intent(i: str, at: datetime) -> Intent:
    return Intent(id=i, campaign_id="c", step_id="s", account_id="A1", party_id="A1/debtor",
                  channel=Channel.VOICE, mode=Mode.AUTOMATED, contact_point=PHONE,
                  not_before=at, script="light_call", local_day=at.date())


async def _load(account_ids: Sequence[str]) -> dict[str, Account]:
    return {"A1": ACCOUNT} if "A1" in account_ids else {}


async def _queue_and_gates(redis: aioredis.Redis, prefix: str) -> tuple[DispatchQueue, GateRouter]:
    """A dispatch queue with its consumer group, and the Chinese agency pack's gate."""
    q = DispatchQueue(redis, DispatchKeys(prefix))
    await q.ensure_group()
    return q, GateRouter({"CN": await Gate.create(GateSettings(policies=["cn-agency-code"]))})


async def test_send_once_defer_at_night(db: AsyncEngine, redis: aioredis.Redis, redis_prefix: str) -> None:
    q, gates = await _queue_and_gates(redis, redis_prefix)
    adapter = RecordingAdapter()
    audit = AuditRepository(db)
    workers = [Dispatcher(name=f"w{n}", queue=q, gates=gates, audit=audit, accounts=_load,
                          adapters={Channel.VOICE: adapter}) for n in (1, 2)]
    morning = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    day_intent = _intent("day", morning)
    await q.schedule([day_intent])
    await q.promote(morning)
    got = await q.read("w1")
    assert (await workers[0].handle(got[0], morning)).result is Result.SENT
    # the same intent delivered again (a redelivery after a crash) is not sent twice
    await redis.xadd(q.keys.stream, {"intent": encode_intent(day_intent)})
    again = await q.read("w2")
    assert (await workers[1].handle(again[0], morning)).result is Result.DUPLICATE
    assert len(adapter.contacts) == 1

    night = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    await q.schedule([_intent("night", night)])
    await q.promote(night)
    handled = await workers[1].handle((await q.read("w2"))[0], night)
    assert handled.result is Result.DEFERRED and handled.rules
    assert await q.waiting() == 1 and len(adapter.contacts) == 1
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(decisions)) == 2
        assert await conn.scalar(select(func.count()).select_from(attempts)) == 1


class FlakyAudit(AuditRepository):
    """Fails the first batch write, after the send: a database hiccup mid-batch."""

    failed = False

    def begin(self) -> Any:
        if not self.failed:
            self.failed = True
            raise RuntimeError("database went away")
        return super().begin()


class RegisterAdapter(RecordingAdapter):
    """A stand-in that can say whether it took an attempt (like the simulator's register)."""

    async def was_sent(self, attempt_id: str) -> bool:
        return any(c.attempt_id == attempt_id for c in self.contacts)


async def test_a_batch_that_failed_after_sending_is_settled_by_its_own_worker(
        db: AsyncEngine, redis: aioredis.Redis, redis_prefix: str) -> None:
    q, gates = await _queue_and_gates(redis, redis_prefix)
    adapter = RegisterAdapter()
    worker = Dispatcher(name="w1", queue=q, gates=gates, audit=FlakyAudit(db), accounts=_load,
                        adapters={Channel.VOICE: adapter})
    morning = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    await q.schedule([_intent("i1", morning)])
    await q.promote(morning)
    got = await q.read("w1")
    await q.heartbeat("w1", 60_000)  # the worker lives on
    try:
        await worker.handle_batch(got, morning)
        raise AssertionError("the first write should fail")
    except RuntimeError:
        pass
    assert len(adapter.contacts) == 1 and await q.pending() == 1  # sent, not acknowledged
    # the claim holds the reservation and the decision time, written before the send
    claim = (await q.claims(["i1"]))["i1"]
    assert claim.owner == "w1" and claim.reservation_id and claim.at == morning
    # the same live worker takes its entry back: its own claim is not "busy elsewhere"
    back = await q.reclaim("w1", 0)
    later = morning + timedelta(minutes=7)
    handled = await worker.handle_batch(back, later, reclaimed=True)
    assert [h.result for h in handled] == [Result.RECONCILED]
    assert len(adapter.contacts) == 1 and await q.pending() == 0
    async with db.connect() as conn:
        row = (await conn.execute(select(attempts.c.reservation_id, attempts.c.placed_at))).one()
    # stored with the send's reservation (its outcome reaches the gate) and time, not the recovery's
    assert row.reservation_id == claim.reservation_id
    assert row.placed_at.replace(tzinfo=UTC) == morning
    assert await gates.gates["CN"].commit(claim.reservation_id, Outcome.OPT_OUT, later) is True
    # a second worker finding the same send again stores nothing twice
    await AuditRepository(db).append_batch(recovered=[{
        "id": "i1", "intent_id": "i1", "decision_id": None, "reservation_id": None, "account_id": "A1",
        "party_id": "A1/debtor", "channel": "voice", "mode": "automated", "contact_point": PHONE,
        "provider": "other", "placed_at": morning}])
    async with db.connect() as conn:
        rows = (await conn.execute(select(attempts.c.id, attempts.c.provider))).all()
    assert [tuple(r) for r in rows] == [("i1", "stand-in")]


class Killed(BaseException):
    """The worker process dying in the middle of a batch."""


class DyingAdapter(RegisterAdapter):
    """Dies before its first send reaches the provider; sends normally after."""

    died = False

    async def _send(self, contact: OutboundContact) -> SendReceipt:
        if not self.died:
            self.died = True
            raise Killed
        return await super()._send(contact)


async def test_a_dead_workers_reservation_of_a_send_never_made_is_released(
        db: AsyncEngine, redis: aioredis.Redis, redis_prefix: str) -> None:
    q, gates = await _queue_and_gates(redis, redis_prefix)
    adapter = DyingAdapter()
    audit = AuditRepository(db)
    dead, alive = (Dispatcher(name=n, queue=q, gates=gates, audit=audit, accounts=_load,
                              adapters={Channel.VOICE: adapter}) for n in ("w1", "w2"))
    morning = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
    await q.schedule([_intent("i1", morning)])
    await q.promote(morning)
    try:
        await dead.handle_batch(await q.read("w1"), morning)
        raise AssertionError("the worker should have died")
    except Killed:
        pass
    rid = (await q.claims(["i1"]))["i1"].reservation_id
    assert rid and adapter.contacts == []
    # w1 has no heartbeat: w2 finds nothing sent, gives the count back and sends afresh
    handled = await alive.handle_batch(await q.reclaim("w2", 0), morning, reclaimed=True)
    assert [h.result for h in handled] == [Result.SENT]
    assert len(adapter.contacts) == 1
    assert await gates.release(ACCOUNT, rid) is False  # released already by w2
    fresh = (await q.claims(["i1"]))["i1"]
    assert fresh.owner == "w2" and fresh.reservation_id not in (None, rid)
