"""GateRouter: each account meets its own jurisdiction's packs; an unknown one is never contacted."""

from __future__ import annotations

from datetime import UTC, date, datetime

from contact_engine.compliance.router import NO_JURISDICTION, GateRouter, jurisdiction_of
from contact_engine.config import GateSettings
from contact_engine.domain import (
    Account,
    Address,
    AttemptRequest,
    Channel,
    Consent,
    ConsentKind,
    ContactKind,
    ContactPoint,
    Mode,
    Party,
    Role,
)

# 23:30 in Shanghai, 10:30 in New York: Chinese hours are closed, US hours open
NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


def account(aid: str, country: str | None, phone: str) -> Account:
    pid = f"{aid}/debtor"
    consent = (Consent(ConsentKind.AUTODIAL_MOBILE, datetime(2025, 1, 1, tzinfo=UTC)),)
    return Account(id=aid, due_date=date(2026, 3, 1),
                   address=Address(country=country, region="NY" if country == "US" else None),
                   parties=(Party(pid, Role.DEBTOR, consents=consent,
                                  contact_points=(ContactPoint(pid, ContactKind.PHONE, phone),)),))


def sms(acct: Account) -> AttemptRequest:
    return AttemptRequest(Channel.SMS, Mode.AUTOMATED, acct.parties[0].id,
                          acct.parties[0].contact_points[0].value, account_id=acct.id)


async def test_each_account_meets_its_own_packs_and_unknown_is_denied() -> None:
    router = await GateRouter.create(GateSettings())  # memory ledgers
    cn = account("C1", "CN", "+8613800138000")
    us = account("U1", "US", "+12125550123")
    fr = account("F1", "FR", "+33612345678")
    nobody = account("N1", None, "not-a-phone")
    decided = await router.reserve_many([(a, sms(a)) for a in (cn, us, fr, nobody)], NOW)
    assert [jurisdiction_of(a) for a in (cn, us, fr, nobody)] == ["CN", "US", "FR", None]
    assert not decided[0].allowed and {d.rule for d in decided[0].denied_by} & {"CN-HOURS", "CBA-HOURS"}
    assert decided[1].allowed and set(decided[1].policy_versions) == {"us-reg-f", "us-tcpa"}
    for d in decided[2:]:
        assert not d.allowed and d.permanent and [x.rule for x in d.denied_by] == [NO_JURISDICTION]
    # the phone's country stands in for a missing address country
    assert jurisdiction_of(account("C2", None, "+8613900139000")) == "CN"
