"""The dispatch step: claim, ask the gate, call the provider, audit; in batches.

Order per intent: ``SET NX`` claim of the intent id (a second worker, or a redelivery,
stops here: nothing is sent twice), then the gate's reservation; a time-bound denial puts
the intent back into the delayed queue at ``next_allowed_at`` (and frees the claim), a
permanent one is dropped with its rule id; an allowed intent is sent through its channel
adapter. Decisions, attempts and intent states are appended in one transaction per batch,
and the stream entries are acknowledged last.

Crash recovery: an entry reclaimed from a stopped worker (``reclaimed=True``) whose intent
is claimed by a worker without a heartbeat (``DispatchQueue.heartbeat``) is reconciled (a
slow but live worker keeps its intents): an attempt already stored means done; an attempt the
provider took but the audit never saw is stored now, with the dead worker's reservation and
decision time; otherwise the dead worker's reservation is released and the intent is
dispatched afresh. The reservation and the decision time are written into the claim before
the sends (``DispatchQueue.note_reservations``), because the decision itself is stored only
with the batch: so the outcomes of a recovered send still reach the gate (an opt-out, a
refusal, a conversation's cooldown). A reservation taken by a worker killed before it wrote
that note is not found; it expires with its TTL (it can only make the gate stricter).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from contact_engine.channels.base import ChannelAdapter, OutboundContact, SendReceipt
from contact_engine.dispatch.queue import Delivery, DispatchQueue
from contact_engine.domain import Account, AttemptRequest, Channel, Decision, Intent
from contact_engine.errors import ErrorCategory, ProviderError, UserError
from contact_engine.store.bulk import run_all
from contact_engine.store.ids import sortable_ids
from contact_engine.store.repositories import AuditRepository, IntentRepository


class Result(StrEnum):
    """What happened to one delivery."""

    SENT = "sent"
    DEFERRED = "deferred"
    DROPPED = "dropped"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    GONE = "gone"  # the account no longer exists
    RECONCILED = "reconciled"  # a dead worker's send, found at the provider and stored now
    BUSY = "busy"  # a live worker still handles it: left pending for that worker to finish


@dataclass(frozen=True, slots=True)
class Handled:
    """The result of one delivery and, for a denial, the rule ids."""

    result: Result
    rules: tuple[str, ...] = ()
    intent: Intent | None = None


class Gates(Protocol):
    """What the dispatcher needs of the gate (``GateRouter``)."""

    async def reserve_many(self, items: Sequence[tuple[Account, AttemptRequest]], now: datetime) -> list[Decision]: ...

    async def release(self, account: Account, reservation_id: str) -> bool: ...


AccountsLoader = Callable[[Sequence[str]], Awaitable[Mapping[str, Account]]]
Composer = Callable[[Intent, Account, datetime], OutboundContact]


def _request(intent: Intent) -> AttemptRequest:
    return AttemptRequest(channel=intent.channel, mode=intent.mode, party_id=intent.party_id,
                          contact_point=intent.contact_point, account_id=intent.account_id,
                          intent_id=intent.id)


def _attempt_row(intent: Intent, provider: str, now: datetime, decision_id: str | None,
                 reservation_id: str | None) -> dict[str, Any]:
    """The ``attempts`` row of an intent placed with ``provider`` (its id is the intent's)."""
    return {"id": intent.id, "intent_id": intent.id, "decision_id": decision_id,
            "reservation_id": reservation_id, "account_id": intent.account_id,
            "party_id": intent.party_id, "channel": intent.channel.value, "mode": intent.mode.value,
            "contact_point": intent.contact_point, "provider": provider, "placed_at": now}


def basic_contact(intent: Intent, account: Account, _now: datetime) -> OutboundContact:
    """An OutboundContact without rendering (adapters that need no body)."""
    party = next((p for p in account.parties if p.id == intent.party_id), None)
    return OutboundContact(
        attempt_id=intent.id, account_id=intent.account_id, party_id=intent.party_id,
        channel=intent.channel, mode=intent.mode, to=intent.contact_point,
        language=intent.language, script=intent.script,
        third_party=party is not None and party.role != "debtor",
    )


class Dispatcher:
    """Handles deliveries for one worker."""

    def __init__(self, *, name: str, queue: DispatchQueue, gates: Gates, audit: AuditRepository,
                 accounts: AccountsLoader, adapters: Mapping[Channel, ChannelAdapter],
                 intents: IntentRepository | None = None, compose: Composer = basic_contact,
                 concurrency: int = 64) -> None:
        self.name = name
        self._q = queue
        self._gates = gates
        self._audit = audit
        self._intents = intents
        self._accounts = accounts
        self._adapters = adapters
        self._compose = compose
        self._concurrency = concurrency  # sends in flight per adapter (those that send one by one)

    async def handle(self, delivery: Delivery, now: datetime) -> Handled:
        """Handle one delivery and acknowledge it."""
        return (await self.handle_batch([delivery], now))[0]

    async def handle_batch(self, deliveries: Sequence[Delivery], now: datetime, *,
                           reclaimed: bool = False) -> list[Handled]:
        """Handle deliveries and acknowledge them.

        Entries are acknowledged only after their results are stored: when anything
        raises, they stay pending and another worker takes them over. An entry whose
        intent a live worker still handles (``Result.BUSY``) is left pending too.
        """
        handled = await self._handle_batch(deliveries, now, reclaimed)
        busy = {h.intent.id for h in handled if h.result is Result.BUSY and h.intent is not None}
        await self._q.ack_many([d.entry_id for d in deliveries if d.intent.id not in busy])
        return handled

    async def _handle_batch(self, deliveries: Sequence[Delivery], now: datetime,
                            reclaimed: bool) -> list[Handled]:
        out: list[Handled | None] = [None] * len(deliveries)
        seen: set[str] = set()
        todo: list[int] = []
        for i, d in enumerate(deliveries):
            if d.intent.id in seen:
                out[i] = Handled(Result.DUPLICATE, intent=d.intent)
            else:
                seen.add(d.intent.id)
                todo.append(i)
        claimed = await self._q.claim_many([deliveries[i].intent.id for i in todo], self.name)
        taken = [i for i, ok in zip(todo, claimed, strict=True) if ok]
        busy = [i for i, ok in zip(todo, claimed, strict=True) if not ok]
        placed: list[dict[str, Any]] = []
        recovered: list[dict[str, Any]] = []
        if busy and reclaimed:
            retry, recon = await self._reconcile([deliveries[i].intent for i in busy], now, recovered)
            for i in busy:
                intent = deliveries[i].intent
                if intent.id in retry:
                    taken.append(i)
                else:
                    out[i] = Handled(recon.get(intent.id, Result.DUPLICATE), intent=intent)
        else:
            for i in busy:
                out[i] = Handled(Result.DUPLICATE, intent=deliveries[i].intent)
        taken.sort()
        intents = [deliveries[i].intent for i in taken]
        accounts = await self._accounts([x.account_id for x in intents]) if intents else {}
        live = []
        for i in taken:
            intent = deliveries[i].intent
            if intent.account_id in accounts:
                live.append(i)
            else:
                out[i] = Handled(Result.GONE, intent=intent)
        items = [(accounts[deliveries[i].intent.account_id], _request(deliveries[i].intent)) for i in live]
        decisions = await self._gates.reserve_many(items, now) if items else []
        decided = []
        later: list[Intent] = []
        unclaim: list[str] = []
        sends: list[tuple[int, Account, Decision, str]] = []
        decision_ids = sortable_ids(now, len(live))
        for i, (account, request), decision, decision_id in zip(live, items, decisions, decision_ids, strict=True):
            intent = deliveries[i].intent
            decided.append((decision_id, request, decision, now))
            rules = tuple(d.rule for d in decision.denied_by)
            if decision.allowed:
                sends.append((i, account, decision, decision_id))
            elif not decision.permanent and decision.next_allowed_at is not None:
                unclaim.append(intent.id)
                later.append(dataclasses.replace(intent, not_before=decision.next_allowed_at,
                                                 attempt_no=intent.attempt_no + 1))
                out[i] = Handled(Result.DEFERRED, rules, intent)
            else:
                out[i] = Handled(Result.DROPPED, rules, intent)
        await self._q.note_reservations(self.name, [(deliveries[i].intent.id, d.reservation_id, now)
                                                    for i, _a, d, _id in sends if d.reservation_id])
        results = await self._send_all([(deliveries[i].intent, acct) for i, acct, _d, _id in sends], now)
        outcomes: list[dict[str, Any]] = []
        for (i, account, decision, decision_id), (receipt, error) in zip(sends, results, strict=True):
            intent = deliveries[i].intent
            assert decision.reservation_id is not None
            adapter = self._adapters.get(intent.channel)
            provider = receipt.provider if receipt else (adapter.provider if adapter else "none")
            if receipt is None and (error is None or not error.accepted):
                await self._gates.release(account, decision.reservation_id)
            placed.append(_attempt_row(intent, provider, now, decision_id, decision.reservation_id))
            if receipt is None:
                outcomes.append({"attempt_id": intent.id, "at": now, "status": "failed", "outcome": "failed",
                                 "detail": {"error": str(error) if error else "no adapter"}})
                out[i] = Handled(Result.FAILED, intent=intent)
            else:
                outcomes.append({"attempt_id": intent.id, "at": now, "status": "accepted", "outcome": None,
                                 "provider_ref": receipt.provider_ref})
                out[i] = Handled(Result.SENT, intent=intent)
        handled = [h for h in out if h is not None]
        # Everything bound first: SQLite's write lock is held only while the rows go in.
        writes = self._audit.bind_batch(decided=decided, placed=placed, outcomes=outcomes, recovered=recovered)
        if self._intents is not None:
            writes.append(self._intents.bind_status_many(
                [(h.intent.id, _STATUS[h.result], h.rules[0] if h.rules else None)
                 for h in handled if h.intent is not None and h.result in _STATUS], now))
        async with self._audit.begin() as conn:
            await run_all(conn, writes)
        if later:
            await self._q.unclaim_many(unclaim)
            await self._q.schedule(later)
        return handled

    async def _send_all(self, todo: Sequence[tuple[Intent, Account]],
                        now: datetime) -> list[tuple[SendReceipt | None, ProviderError | None]]:
        """Compose each intent's contact and place them: one ``send_many`` per adapter
        (the adapters' batches run side by side). A receipt or an error for each."""
        out: list[tuple[SendReceipt | None, ProviderError | None]] = [(None, None)] * len(todo)
        batches: dict[int, tuple[ChannelAdapter, list[int], list[OutboundContact]]] = {}
        for n, (intent, account) in enumerate(todo):
            adapter = self._adapters.get(intent.channel)
            if adapter is None:
                out[n] = (None, ProviderError(f"no provider for {intent.channel}",
                                              category=ErrorCategory.PERMANENT))
                continue
            try:
                contact = self._compose(intent, account, now)
            except UserError as exc:
                out[n] = (None, ProviderError(str(exc), category=ErrorCategory.PERMANENT))
                continue
            _adapter, where, contacts = batches.setdefault(id(adapter), (adapter, [], []))
            where.append(n)
            contacts.append(contact)
        sent = await asyncio.gather(*(adapter.send_many(contacts, concurrency=self._concurrency)
                                      for adapter, _where, contacts in batches.values()))
        for (_adapter, where, _contacts), results in zip(batches.values(), sent, strict=True):
            for n, r in zip(where, results, strict=True):
                out[n] = (None, r) if isinstance(r, ProviderError) else (r, None)
        return out

    async def _reconcile(self, busy: Sequence[Intent], now: datetime,
                         recovered: list[dict[str, Any]]) -> tuple[set[str], dict[str, Result]]:
        """Intents claimed by a dead worker: which to dispatch again, which are settled."""
        # a claim of this worker's own is left from a batch of ours that failed: not busy
        claims = await self._q.claims([i.id for i in busy])
        alive = await self._q.owners_alive([i.id for i in busy], besides=self.name, held=claims)
        stored = await self._audit.attempts_by_id([i.id for i in busy])
        retry: set[str] = set()
        settled: dict[str, Result] = {}
        accounts: Mapping[str, Account] | None = None
        for intent in busy:
            if alive.get(intent.id) and intent.id not in stored:
                # a slow worker, not a dead one: it acknowledges the entry when done
                settled[intent.id] = Result.BUSY
                continue
            if intent.id in stored:
                settled[intent.id] = Result.DUPLICATE
                continue
            adapter = self._adapters.get(intent.channel)
            was_sent = getattr(adapter, "was_sent", None)
            claim = claims.get(intent.id)  # the dead worker's reservation and decision time
            if was_sent is not None and await was_sent(intent.id):
                # placed when the dead worker decided (the send followed at once), not now
                recovered.append(_attempt_row(intent, adapter.provider if adapter else "none",
                                              claim.at if claim and claim.at else now, None,
                                              claim.reservation_id if claim else None))
                settled[intent.id] = Result.RECONCILED
                continue
            if was_sent is None:
                # The provider cannot be asked: sending again could send twice. Keep it out.
                settled[intent.id] = Result.DUPLICATE
                continue
            rid = claim.reservation_id if claim else None
            if rid:
                if accounts is None:
                    accounts = await self._accounts([i.account_id for i in busy])
                if intent.account_id in accounts:
                    await self._gates.release(accounts[intent.account_id], rid)
            await self._q.take_over(intent.id, self.name)
            retry.add(intent.id)
        return retry, settled


_STATUS = {
    Result.SENT: "sent", Result.DEFERRED: "deferred", Result.DROPPED: "dropped",
    Result.FAILED: "failed", Result.GONE: "gone", Result.RECONCILED: "sent",
}
