"""Campaign model validation and the streaming planner."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import date, time, timedelta
from decimal import Decimal

import pytest

from contact_engine.campaigns.model import CampaignError, default_campaign, parse_campaign
from contact_engine.campaigns.planner import plan_account, plan_day
from contact_engine.domain import (
    Account,
    AccountStatus,
    Channel,
    ContactKind,
    ContactPoint,
    HoldKind,
    Party,
    Role,
    intent_id,
)

DUE = date(2026, 3, 10)


def _account(i: int = 1, **kw: object) -> Account:
    pid = f"A{i}/debtor"
    party = Party(
        id=pid,
        role=Role.DEBTOR,
        contact_points=(
            ContactPoint(party_id=pid, kind=ContactKind.PHONE, value="+8613800000000"),
            ContactPoint(party_id=pid, kind=ContactKind.EMAIL, value="a@example.com"),
        ),
    )
    base: dict[str, object] = {"id": f"A{i}", "due_date": DUE, "balance": Decimal("100"), "parties": (party,)}
    base.update(kw)
    return Account(**base)  # type: ignore[arg-type]


def test_default_campaign_follows_the_cadence() -> None:
    c = default_campaign()
    acc = _account()
    channels = {i.channel for i in plan_account(c, acc, DUE - timedelta(days=3))}
    assert channels == {Channel.SMS, Channel.EMAIL}
    assert {i.channel for i in plan_account(c, acc, DUE - timedelta(days=1))} == {Channel.SMS, Channel.VOICE}
    # every 2 days in 1-30
    call_days = [d for d in range(1, 31) if any(plan_account(c, acc, DUE + timedelta(days=d)))]
    assert call_days == list(range(1, 31, 2))
    # hand-off to collectors: automated contact stops
    assert not list(plan_account(c, acc, DUE + timedelta(days=61)))
    assert c.handoff_for(acc, DUE + timedelta(days=95)).queue == "legal"  # type: ignore[union-attr]


def test_intents_are_deterministic_and_local_time() -> None:
    c = default_campaign()
    day = DUE + timedelta(days=1)
    a = list(plan_account(c, _account(), day))
    b = list(plan_account(c, _account(), day))
    assert [i.id for i in a] == [i.id for i in b] and len(a) == 1
    assert a[0].not_before.time() == time(10, 0)
    assert a[0].not_before.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    "kw",
    [{"balance": Decimal("0")}, {"status": AccountStatus.PROMISE}, {"holds": frozenset({next(iter(HoldKind))})}],
)
def test_stop_conditions(kw: dict[str, object]) -> None:
    assert not list(plan_account(default_campaign(), _account(**kw), DUE + timedelta(days=1)))


async def test_plan_day_streams() -> None:
    async def accounts() -> AsyncIterator[Account]:
        for i in range(50):
            yield _account(i)

    ids = [i.id async for i in plan_day(default_campaign(), accounts(), DUE + timedelta(days=3))]
    assert len(ids) == 50 == len(set(ids))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("id: x\nsteps: []\n", "steps"),
        ("id: x\nsteps:\n  - {id: s, channel: fax, local_time: '10:00', script: t, offset_days: 1}\n", "channel"),
        ("id: x\nsteps:\n  - {id: s, channel: sms, local_time: '10:00', script: t}\n", "offset_days"),
        ("[1, 2", "YAML"),
    ],
)
def test_invalid_campaigns_are_refused_with_one_line(text: str, needle: str) -> None:
    with pytest.raises(CampaignError) as err:
        parse_campaign(text, "c.yaml")
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_intent_ids_keep_their_format() -> None:
    """Ids are stored: a new version must give the ids an older one gave (planning again
    after an upgrade queues nothing twice). The reference: the local day as YYYYMMDD, then
    24 hex digits of blake2b over the fields joined by "|"."""
    for d in (date(2026, 3, 2), date(2026, 12, 31), date(1999, 1, 9), date(2100, 10, 1)):
        raw = f"camp|step-1|ACC-1|ACC-1/debtor|{d.isoformat()}"
        want = d.strftime("%Y%m%d") + hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()
        assert intent_id("camp", "step-1", "ACC-1", "ACC-1/debtor", d) == want
