"""Property: whatever the history, time and zone, the attempts the gate allows never
break a pack rule, as checked by the independent auditor."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contact_engine.compliance.auditor import audit
from contact_engine.compliance.gate import Gate
from contact_engine.compliance.ledger import MemoryLedger
from contact_engine.compliance.policy import load_packs
from contact_engine.domain import (
    Account,
    Address,
    AttemptRequest,
    Channel,
    Consent,
    ConsentKind,
    ContactKind,
    ContactPoint,
    HistoryEntry,
    HoldKind,
    Mode,
    Outcome,
    Party,
    Role,
)

START = datetime(2026, 3, 1, tzinfo=UTC)  # spans the US spring-forward on 2026-03-08
CN_PACKS = ["cn-agency-code", "cn-cba-2026", "cn-nifa-2024"]
US_PACKS = ["us-reg-f", "us-tcpa", "us-ma"]
US_PHONES = ["+12125550147", "+14155550199", "+13035550166", "+13055550123"]
CN_PHONES = ["+8613800138000", "+8613900139000"]
OUTCOMES = [o for o in Outcome if o not in (Outcome.DELIVERED, Outcome.UNDELIVERED)]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[str], Account, list[tuple[int, int, int, int, Outcome]]]:
    us = draw(st.booleans())
    packs = draw(st.lists(st.sampled_from(US_PACKS if us else CN_PACKS), min_size=1,
                          max_size=3, unique=True))
    if us:
        address = Address(country="US", region=draw(st.sampled_from(["NY", "CA", "FL", "TX", "IN"])),
                          timezone=draw(st.sampled_from([None, None, "America/Denver"])))
        phones = US_PHONES
    else:
        address = Address(country="CN", region="Shanghai")
        phones = CN_PHONES
    consent = draw(st.booleans())
    parties = []
    for i, role in enumerate([Role.DEBTOR, draw(st.sampled_from([Role.SPOUSE, Role.FAMILY,
                                                                 Role.DESIGNATED_CONTACT]))]):
        pid = f"A/{i}"
        parties.append(Party(
            pid, role, sensitive=draw(st.booleans()) and i == 1,
            designated_by_debtor=draw(st.booleans()),
            represented_by_attorney=draw(st.integers(0, 9)) == 0,
            opt_outs=frozenset(draw(st.sets(st.sampled_from([Channel.SMS, Channel.EMAIL]), max_size=1))),
            consents=(Consent(ConsentKind.AUTODIAL_MOBILE, START - timedelta(days=9)),) if consent else (),
            contact_points=(ContactPoint(pid, ContactKind.PHONE, phones[i]),
                            ContactPoint(pid, ContactKind.PHONE, phones[i + 2 if us else i]),
                            ContactPoint(pid, ContactKind.EMAIL, f"p{i}@example.com")),
        ))
    holds = frozenset(draw(st.sets(st.sampled_from([HoldKind.DISPUTE]), max_size=1))) \
        if draw(st.integers(0, 9)) == 0 else frozenset()
    account = Account(id="A", due_date=date(2026, 2, 1), address=address, holds=holds,
                      parties=tuple(parties))
    attempts = draw(st.lists(st.tuples(
        st.integers(0, 12 * 24 * 60),  # minute since START
        st.integers(0, 1),  # party
        st.integers(0, 2),  # contact point
        st.integers(0, 2),  # channel: voice, sms, email
        st.sampled_from(OUTCOMES),
    ), min_size=1, max_size=60))
    return packs, account, [(m, p, c, ch, o) for m, p, c, ch, o in attempts]


async def run(packs: list[str], account: Account,
              attempts: list[tuple[int, int, int, int, Outcome]]) -> tuple[int, list[str]]:
    loaded = load_packs(packs)
    gate = Gate(loaded, MemoryLedger())
    log: list[HistoryEntry] = []
    for minute, pi, ci, chi, outcome in sorted(attempts, key=lambda a: a[0]):
        party = account.parties[pi]
        channel = [Channel.VOICE, Channel.SMS, Channel.EMAIL][chi]
        cp = party.contact_points[2].value if channel is Channel.EMAIL else party.contact_points[min(ci, 1)].value
        mode = Mode.AUTOMATED if minute % 3 else Mode.AGENT
        at = START + timedelta(minutes=minute)
        d = await gate.reserve(account, AttemptRequest(channel, mode, party.id, cp, account_id="A"), at)
        if d.allowed:
            assert d.reservation_id
            final = outcome if channel is Channel.VOICE else (
                outcome if outcome in (Outcome.OPT_OUT, Outcome.DISPUTE, Outcome.CEASE) else Outcome.DELIVERED)
            await gate.commit(d.reservation_id, final, at)
            log.append(HistoryEntry(at, channel, mode, party.id, cp, final, account_id="A"))
        else:
            assert d.denied_by
            if d.next_allowed_at is not None:
                assert d.next_allowed_at > at
    violations = audit(log, {"A": account}, loaded)
    return len(log), [f"{v.rule} {v.at} {v.detail}" for v in violations]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_allowed_attempts_never_break_a_rule(case: tuple[list[str], Account, list]) -> None:
    packs, account, attempts = case
    _, violations = asyncio.run(run(packs, account, attempts))
    assert violations == []


def test_auditor_catches_what_the_gate_would_deny() -> None:
    """The auditor is not vacuous: a log that ignores the gate is caught."""
    account = Account(id="A", due_date=date(2026, 2, 1), address=Address(country="CN"),
                      parties=(Party("A/0", Role.DEBTOR),))
    night = datetime(2026, 3, 9, 15, tzinfo=UTC)  # 23:00 in Shanghai
    log = [HistoryEntry(night + timedelta(minutes=i), Channel.VOICE, Mode.AUTOMATED, "A/0",
                        "+8613800138000", Outcome.NO_ANSWER, account_id="A") for i in range(11)]
    rules = {v.rule for v in audit(log, {"A": account}, load_packs(["cn-agency-code", "cn-cba-2026"]))}
    assert rules == {"CN-HOURS", "CBA-HOURS", "CN-CALLS-TOTAL", "CBA-UNANSWERED"}
