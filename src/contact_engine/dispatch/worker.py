"""One dispatch step: claim, ask the gate, call the provider, audit.

Order per intent: ``SET NX`` claim of the intent id (a second worker, or a redelivery after
a crash, stops here: nothing is sent twice), then the gate's ``reserve``; a time-bound
denial puts the intent back into the delayed queue at ``next_allowed_at`` (and frees the
claim), a permanent one is dropped with its rule id; an allowed intent is sent through the
channel adapter. Every decision and attempt is appended through ``AuditRepository``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from contact_engine.channels.base import ChannelAdapter, OutboundContact
from contact_engine.compliance.gate import Gate
from contact_engine.dispatch.queue import Delivery, DispatchQueue
from contact_engine.domain import Account, AttemptRequest, Channel
from contact_engine.errors import ProviderError
from contact_engine.store.repositories import AuditRepository


class Result(StrEnum):
    """What happened to one delivery."""

    SENT = "sent"
    DEFERRED = "deferred"
    DROPPED = "dropped"
    DUPLICATE = "duplicate"
    FAILED = "failed"
    GONE = "gone"  # the account no longer exists


@dataclass(frozen=True, slots=True)
class Handled:
    """The result of one delivery and, for a denial, the rule ids."""

    result: Result
    rules: tuple[str, ...] = ()


AccountLoader = Callable[[str], Awaitable[Account | None]]


class Dispatcher:
    """Handles deliveries for one worker."""

    def __init__(self, *, name: str, queue: DispatchQueue, gate: Gate, audit: AuditRepository,
                 accounts: AccountLoader, adapters: Mapping[Channel, ChannelAdapter]) -> None:
        self.name = name
        self._q = queue
        self._gate = gate
        self._audit = audit
        self._accounts = accounts
        self._adapters = adapters

    async def handle(self, delivery: Delivery, now: datetime) -> Handled:
        """Handle one delivery and acknowledge it."""
        try:
            return await self._handle(delivery, now)
        finally:
            await self._q.ack(delivery.entry_id)

    async def _handle(self, delivery: Delivery, now: datetime) -> Handled:
        intent = delivery.intent
        if not await self._q.claim(intent.id, self.name):
            return Handled(Result.DUPLICATE)
        account = await self._accounts(intent.account_id)
        if account is None:
            return Handled(Result.GONE)
        request = AttemptRequest(channel=intent.channel, mode=intent.mode, party_id=intent.party_id,
                                 contact_point=intent.contact_point, account_id=intent.account_id,
                                 intent_id=intent.id)
        decision = await self._gate.reserve(account, request, now)
        decision_id = await self._audit.append_decision(request, decision, now)
        rules = tuple(d.rule for d in decision.denied_by)
        if not decision.allowed:
            if not decision.permanent and decision.next_allowed_at is not None:
                await self._q.unclaim(intent.id)
                later = dataclasses.replace(intent, not_before=decision.next_allowed_at,
                                            attempt_no=intent.attempt_no + 1)
                await self._q.schedule([later])
                return Handled(Result.DEFERRED, rules)
            return Handled(Result.DROPPED, rules)
        assert decision.reservation_id is not None
        adapter = self._adapters[intent.channel]
        party = next((p for p in account.parties if p.id == intent.party_id), None)
        contact = OutboundContact(
            attempt_id=intent.id, account_id=intent.account_id, party_id=intent.party_id,
            channel=intent.channel, mode=intent.mode, to=intent.contact_point,
            language=intent.language, script=intent.script,
            third_party=party is not None and party.role != "debtor",
        )
        try:
            receipt = await adapter.send(contact)
        except ProviderError as exc:
            await self._gate.release(decision.reservation_id)
            await self._audit.append_attempt(attempt_id=intent.id, request=request, provider=adapter.provider,
                                             placed_at=now, decision_id=decision_id,
                                             reservation_id=decision.reservation_id)
            await self._audit.append_outcome(intent.id, "failed", None, now, detail={"error": str(exc)})
            return Handled(Result.FAILED)
        await self._audit.append_attempt(attempt_id=intent.id, request=request, provider=receipt.provider,
                                         placed_at=now, decision_id=decision_id,
                                         reservation_id=decision.reservation_id)
        return Handled(Result.SENT)
