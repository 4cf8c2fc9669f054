"""Turn a campaign's due steps into intents, streaming over the portfolio.

A step's ``local_time`` is the debtor's local time: ``not_before`` is that time on that
day in the zone of the account's address when the address names one zone, else in the
campaign's zone (the gate still checks the window in every candidate zone). Memory stays
flat: accounts come from an async iterator (``AccountRepository.iter_accounts``)
and intents are yielded one by one. Ids are deterministic (``domain.intent_id``), so
planning the same day twice yields the same intents.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

from contact_engine.campaigns.model import Campaign, Step
from contact_engine.compliance.timezones import address_zone
from contact_engine.domain import (
    Account,
    AccountStatus,
    Channel,
    ContactKind,
    Intent,
    Mode,
    Party,
    Role,
    intent_id,
)

_KIND = {Channel.SMS: ContactKind.PHONE, Channel.VOICE: ContactKind.PHONE, Channel.EMAIL: ContactKind.EMAIL}


def _stopped(campaign: Campaign, account: Account) -> bool:
    if "paid" in campaign.stop_when and (account.balance <= 0 or account.status == AccountStatus.PAID):
        return True
    if "promise_pending" in campaign.stop_when and account.status == AccountStatus.PROMISE:
        return True
    if account.status in (AccountStatus.COLLECTOR_QUEUE, AccountStatus.LEGAL, AccountStatus.CLOSED):
        return True
    return "hold" in campaign.stop_when and bool(account.holds)


def _audience(step: Step, account: Account) -> Iterator[Party]:
    for party in account.parties:
        debtor = step.audience == "debtor" and party.role == Role.DEBTOR
        if debtor or (step.audience == "designated" and party.designated_by_debtor):
            yield party


def plan_account(campaign: Campaign, account: Account, day: date,
                 steps: tuple[Step, ...] | None = None) -> Iterator[Intent]:
    """The intents ``campaign`` plans for ``account`` on local ``day`` (for ``steps``, default all)."""
    if _stopped(campaign, account) or campaign.handoff_for(account, day) is not None:
        return
    zone = address_zone(account.address) or ZoneInfo(campaign.timezone)
    for step in steps if steps is not None else campaign.steps:
        if not step.due_on(account, day):
            continue
        for party in _audience(step, account):
            point = next((cp for cp in party.contact_points if cp.kind == _KIND.get(step.channel)), None)
            if point is None:
                continue
            yield Intent(
                id=intent_id(campaign.id, step.id, account.id, party.id, day),
                campaign_id=campaign.id,
                step_id=step.id,
                account_id=account.id,
                party_id=party.id,
                channel=step.channel,
                mode=Mode.AUTOMATED,
                contact_point=point.value,
                not_before=datetime.combine(day, step.local_time, zone),
                script=step.script,
                language=party.language or account.language or "zh-CN",
                local_day=day,
            )


async def plan_day(campaign: Campaign, accounts: AsyncIterator[Account], day: date) -> AsyncIterator[Intent]:
    """Stream the intents of ``day`` over ``accounts``."""
    async for account in accounts:
        for intent in plan_account(campaign, account, day):
            yield intent
