"""An inbound opt-out becomes one gate record per party using the number."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.api.optout import gate_opt_out_recorder
from contact_engine.domain import (
    Account,
    Channel,
    ContactKind,
    ContactPoint,
    HistoryEntry,
    Outcome,
    Party,
    Role,
)


class GateDouble:
    """Stands in for ``compliance.Gate`` (another component, built at the same time): keeps records."""

    def __init__(self) -> None:
        self.records: list[tuple[str, HistoryEntry]] = []

    async def record(self, account: Account, entry: HistoryEntry) -> None:
        self.records.append((account.id, entry))


def account(acc_id: str, phone: str) -> Account:
    debtor = Party(
        id=f"{acc_id}/debtor", role=Role.DEBTOR,
        contact_points=(ContactPoint(party_id=f"{acc_id}/debtor", kind=ContactKind.PHONE, value=phone),),
    )
    spouse = Party(
        id=f"{acc_id}/spouse", role=Role.SPOUSE,
        contact_points=(ContactPoint(party_id=f"{acc_id}/spouse", kind=ContactKind.PHONE, value="+8613900000000"),),
    )
    return Account(id=acc_id, due_date=date(2026, 1, 1), parties=(debtor, spouse))


async def test_records_opt_out_for_each_account_with_the_number() -> None:
    gate = GateDouble()
    accounts = [account("A1", "+8613800138000"), account("A2", "+8613800138000")]

    async def find(phone: str) -> Sequence[Account]:
        return [a for a in accounts if any(cp.value == phone for p in a.parties for cp in p.contact_points)]

    at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    await gate_opt_out_recorder(gate, find)("+8613800138000", "+15005550006", at)
    assert [(acc, e.party_id, e.channel, e.outcome, e.at) for acc, e in gate.records] == [
        ("A1", "A1/debtor", Channel.SMS, Outcome.OPT_OUT, at),
        ("A2", "A2/debtor", Channel.SMS, Outcome.OPT_OUT, at),
    ]
    assert all(e.contact_point == "+8613800138000" and e.account_id == acc for acc, e in gate.records)


async def test_accounts_for_phone_finds_every_account_using_the_number(db: AsyncEngine) -> None:
    from contact_engine.api.optout import accounts_for_phone
    from contact_engine.store.repositories import AccountRepository

    await AccountRepository(db).upsert_many(
        [account("A1", "+8613800138000"), account("A2", "+8613800138000"), account("A3", "+8613800138999")]
    )
    found = await accounts_for_phone(db)("+8613800138000")
    assert [a.id for a in found] == ["A1", "A2"]
    assert await accounts_for_phone(db)("+10000000000") == []
