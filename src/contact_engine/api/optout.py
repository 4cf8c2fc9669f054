"""Turn an inbound opt-out text into gate records (Reg F F19: honoured at once)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.domain import Account, Channel, ContactKind, HistoryEntry, Mode, Outcome
from contact_engine.store.repositories import AccountRepository
from contact_engine.store.tables import contact_points

#: ``(from_number, to_number, at)``: record that ``from_number`` opted out of texts.
OptOutRecorder = Callable[[str, str, datetime], Awaitable[None]]
#: ``(party_id, attempt_id, at)``: record that the party opted out of emails.
EmailOptOutRecorder = Callable[[str, str, datetime], Awaitable[None]]


class RecordsHistory(Protocol):
    """The part of the compliance gate used here (``Gate.record``)."""

    async def record(self, account: Account, entry: HistoryEntry) -> object: ...


def gate_opt_out_recorder(
    gate: RecordsHistory, accounts_for_phone: Callable[[str], Awaitable[Sequence[Account]]]
) -> OptOutRecorder:
    """An :data:`OptOutRecorder` that records an SMS opt-out for every party using the number.

    Args:
        gate: the compliance gate.
        accounts_for_phone: finds the accounts with a contact point equal to the number.
    """

    async def record(from_number: str, to_number: str, at: datetime) -> None:
        for account in await accounts_for_phone(from_number):
            for party in account.parties:
                if any(cp.value == from_number for cp in party.contact_points):
                    await gate.record(
                        account,
                        HistoryEntry(
                            at=at,
                            channel=Channel.SMS,
                            mode=Mode.AUTOMATED,
                            party_id=party.id,
                            contact_point=from_number,
                            outcome=Outcome.OPT_OUT,
                            account_id=account.id,
                        ),
                    )

    return record


def gate_email_opt_out_recorder(
    gate: RecordsHistory, get_account: Callable[[str], Awaitable[Account | None]]
) -> EmailOptOutRecorder:
    """An :data:`EmailOptOutRecorder` recording the opt-out for each email address of the party.

    Args:
        gate: the compliance gate.
        get_account: loads an account by id (party ids are ``"<account id>/<party ref>"``).
    """

    async def record(party_id: str, attempt_id: str, at: datetime) -> None:
        account_id = party_id.rpartition("/")[0]
        account = await get_account(account_id)
        if account is None:
            raise LookupError(f"no account {account_id!r} for party {party_id!r}")
        for party in account.parties:
            if party.id != party_id:
                continue
            addresses = [cp.value for cp in party.contact_points if cp.kind is ContactKind.EMAIL] or [""]
            for address in addresses:
                await gate.record(
                    account,
                    HistoryEntry(
                        at=at, channel=Channel.EMAIL, mode=Mode.AUTOMATED, party_id=party_id,
                        contact_point=address, outcome=Outcome.OPT_OUT, account_id=account.id,
                    ),
                )

    return record


def accounts_for_phone(engine: AsyncEngine) -> Callable[[str], Awaitable[Sequence[Account]]]:
    """Finds the accounts with a phone contact point equal to a number (E.164).

    For :func:`gate_opt_out_recorder`. The lookup scans ``contact_points.value``; an index
    on that column keeps it fast on large portfolios.
    """
    repo = AccountRepository(engine)

    async def find(phone: str) -> Sequence[Account]:
        query = (
            sa.select(contact_points.c.account_id)
            .where(contact_points.c.kind == ContactKind.PHONE.value, contact_points.c.value == phone)
            .distinct()
        )
        async with engine.connect() as conn:
            ids = sorted(row[0] for row in await conn.execute(query))
        found = [await repo.get(account_id) for account_id in ids]
        return [a for a in found if a is not None]

    return find
