"""Route each account to the gate of its jurisdiction.

A portfolio may hold Chinese and US accounts; each jurisdiction has its own packs
(``GateSettings.jurisdictions``). The jurisdiction is the account's address country, else
the country of the debtor's first phone number. An account whose jurisdiction has no packs
is denied with ``NO-JURISDICTION`` (permanent): no gate, no contact. Every gate shares the
same Redis ledger; rule ids keep their counters apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

import phonenumbers
import redis.asyncio as aioredis

from contact_engine.compliance.gate import Gate
from contact_engine.config import GateSettings
from contact_engine.domain import (
    Account,
    AttemptRequest,
    ContactKind,
    Decision,
    Denial,
    Outcome,
)

NO_JURISDICTION = "NO-JURISDICTION"


def jurisdiction_of(account: Account) -> str | None:
    """The ISO country whose rules govern ``account``, when it can be told."""
    if account.address.country:
        return account.address.country.upper()
    for party in account.parties:
        for cp in party.contact_points:
            if cp.kind is ContactKind.PHONE:
                try:
                    region = phonenumbers.region_code_for_number(phonenumbers.parse(cp.value, None))
                except phonenumbers.NumberParseException:
                    continue
                if region and region != "ZZ":
                    return region
    return None


class GateRouter:
    """One gate per jurisdiction, behind the gate's own batch API."""

    def __init__(self, gates: Mapping[str, Gate]) -> None:
        self.gates = dict(gates)

    @classmethod
    async def create(cls, settings: GateSettings, *, redis: aioredis.Redis | None = None,
                     key_prefix: str = "ce:") -> GateRouter:
        gates = {}
        for country, packs in settings.jurisdictions.items():
            gates[country.upper()] = await Gate.create(settings, redis=redis, key_prefix=key_prefix, packs=packs)
        return cls(gates)

    def gate_for(self, account: Account) -> Gate | None:
        country = jurisdiction_of(account)
        return self.gates.get(country) if country else None

    async def reserve_many(self, items: Sequence[tuple[Account, AttemptRequest]], now: datetime) -> list[Decision]:
        """Reserve each item at its jurisdiction's gate (one ledger round trip per gate)."""
        out: list[Decision | None] = [None] * len(items)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, (account, _req) in enumerate(items):
            country = jurisdiction_of(account)
            if country in self.gates:
                groups[country].append(i)  # type: ignore[index]
            else:
                out[i] = Decision(False, (Denial(NO_JURISDICTION, f"no policy packs for jurisdiction {country or 'unknown'}",
                                                 permanent=True),), decided_at=now)
        for country, idx in groups.items():
            decided = await self.gates[country].reserve_many([items[i] for i in idx], now)
            for i, d in zip(idx, decided, strict=True):
                out[i] = d
        return [d for d in out if d is not None]

    async def commit_many(self, items: Sequence[tuple[str | None, str, Outcome | None, datetime]]) -> None:
        """Commit (jurisdiction, reservation id, outcome, at) items, one batch per gate."""
        groups: dict[str, list[tuple[str, Outcome | None, datetime]]] = defaultdict(list)
        for country, rid, outcome, at in items:
            if country in self.gates:
                groups[country].append((rid, outcome, at))  # type: ignore[index]
        for country, batch in groups.items():
            await self.gates[country].commit_many(batch)

    async def release(self, account: Account, reservation_id: str) -> bool:
        gate = self.gate_for(account)
        return False if gate is None else await gate.release(reservation_id)

    async def aclose(self) -> None:
        for gate in self.gates.values():
            await gate.aclose()
