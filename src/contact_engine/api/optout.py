"""Turn an inbound opt-out text into gate records (Reg F F19: honoured at once)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from contact_engine.domain import Account, Channel, HistoryEntry, Mode, Outcome

#: ``(from_number, to_number, at)``: record that ``from_number`` opted out of texts.
OptOutRecorder = Callable[[str, str, datetime], Awaitable[None]]


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
