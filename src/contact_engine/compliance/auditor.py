"""An independent auditor: re-checks an attempt log against the packs from scratch.

It shares only the pack data model (``policy``) and the time-zone derivation with the
gate; the rule logic is written again here, plainly (quadratic scans over the log, no
ledger, no counters), so that a bug in the gate's counting is not repeated here.

Usage::

    violations = audit(log, accounts, packs)

``log`` holds the attempts that were actually placed (``HistoryEntry`` with ``account_id``),
``accounts`` maps account id to ``Account``. Each violation names the rule and the attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from contact_engine.compliance.policy import (
    WEEKDAYS,
    CapRule,
    ConsentRule,
    CooldownRule,
    HoldRule,
    OptOutRule,
    Pack,
    PartyRule,
    StopRule,
    ThirdPartyRule,
    WindowRule,
)
from contact_engine.compliance.timezones import candidate_zones
from contact_engine.domain import Account, HistoryEntry, HoldKind, Outcome, Party, Role

_NOT_ANSWERED = {Outcome.NO_ANSWER, Outcome.BUSY, Outcome.FAILED, Outcome.VOICEMAIL}


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    account_id: str
    party_id: str
    at: datetime
    detail: str


def _local(at: datetime, zone: str) -> datetime:
    return at.astimezone(ZoneInfo(zone))


def _hm(text: str) -> int:
    h, m = text.split(":")
    return int(h) * 60 + int(m)


def _in_scope(pack: Pack, rule: object, e: HistoryEntry, role: Role) -> bool:
    if e.channel not in rule.channels or e.mode not in rule.modes:  # type: ignore[attr-defined]
        return False
    roles = rule.roles  # type: ignore[attr-defined]
    consumer = role in pack.consumer_roles
    return roles == "any" or (roles == "consumer" and consumer) or (roles == "third_party" and not consumer)


def audit(log: Sequence[HistoryEntry], accounts: Mapping[str, Account],
          packs: Sequence[Pack]) -> list[Violation]:
    """Every rule broken by any attempt of ``log``."""
    out: list[Violation] = []
    entries = sorted(log, key=lambda e: e.at)
    by_account: dict[str, list[HistoryEntry]] = {}
    for e in entries:
        by_account.setdefault(e.account_id, []).append(e)
    for account_id, items in by_account.items():
        account = accounts[account_id]
        parties = {p.id: p for p in account.parties}
        for i, e in enumerate(items):
            earlier = items[:i]
            party = parties[e.party_id]
            zones, primary = candidate_zones(account.address, e.contact_point)

            def bad(rule_id: str, detail: str, e: HistoryEntry = e,
                    account_id: str = account_id) -> None:
                out.append(Violation(rule_id, account_id, e.party_id, e.at, detail))

            if not zones or primary is None:
                bad("TZ-UNKNOWN", "contact without a known time zone")
                continue
            for pack in packs:
                for rule in pack.rules:
                    if not _in_scope(pack, rule, e, party.role):
                        continue
                    _check(rule, e, earlier, account, party, zones, primary, parties, pack, bad)
    return out


def _known(x: HistoryEntry, e: HistoryEntry) -> bool:
    """Whether the outcome of ``x`` was known when ``e`` was placed (a call's outcome is
    known when it ends, not when it starts)."""
    return (x.outcome_at or x.at) <= e.at


def _check(rule: object, e: HistoryEntry, earlier: list[HistoryEntry], account: Account,
           party: Party, zones: tuple[str, ...], primary: str, parties: dict[str, Party],
           pack: Pack, report: Callable[[str, str], None]) -> None:
    p = party
    effects = [x for x in earlier if _known(x, e)]  # earlier outcomes already known
    if isinstance(rule, WindowRule):
        for z in zones:
            loc = _local(e.at, z)
            minute = loc.hour * 60 + loc.minute
            if not (_hm(rule.hours[0]) <= minute < _hm(rule.hours[1])):
                report(rule.id, f"{loc:%H:%M} in {z}")
                return
            if WEEKDAYS[loc.weekday()] not in rule.days:
                report(rule.id, f"{loc:%A} in {z}")
                return
            if rule.holidays:
                import holidays

                if loc.date() in holidays.country_holidays(rule.holidays, years=loc.year):
                    report(rule.id, f"holiday {loc.date()}")
                    return
    elif isinstance(rule, HoldRule):
        held = {h.value for h in account.holds if h in rule.holds}
        for x in effects:
            if x.outcome is Outcome.DISPUTE and HoldKind.DISPUTE in rule.holds:
                held.add("dispute")
            if x.outcome is Outcome.CEASE and HoldKind.CEASE in rule.holds:
                held.add("cease")
        if held:
            report(rule.id, f"hold {sorted(held)}")
    elif isinstance(rule, OptOutRule):
        cps = [c for c in p.contact_points if c.value == e.contact_point]
        if e.channel in p.opt_outs or any(e.channel in c.opt_outs for c in cps) or any(
                x.outcome is Outcome.OPT_OUT and x.party_id == e.party_id and x.channel == e.channel
                for x in effects):
            report(rule.id, f"opted out of {e.channel.value}")
    elif isinstance(rule, PartyRule):
        cps = [c for c in p.contact_points if c.value == e.contact_point]
        flag = {"sensitive": p.sensitive,
                "represented_by_attorney": p.represented_by_attorney,
                "employer_provided": any(c.employer_provided for c in cps)}[rule.deny_if]
        if flag:
            report(rule.id, rule.deny_if)
    elif isinstance(rule, ConsentRule):
        import phonenumbers

        if e.contact_point.startswith("+"):
            t = phonenumbers.number_type(phonenumbers.parse(e.contact_point, None))
            line = {phonenumbers.PhoneNumberType.MOBILE: "mobile",
                    phonenumbers.PhoneNumberType.FIXED_LINE: "landline",
                    phonenumbers.PhoneNumberType.VOIP: "voip"}.get(t, "unknown")
            cps = [c for c in p.contact_points if c.value == e.contact_point]
            if cps and cps[0].line_type.value != "unknown":
                line = cps[0].line_type.value
            if line in rule.line_types and not any(
                    c.kind.value == rule.requires and c.given_at <= e.at for c in p.consents):
                report(rule.id, f"no {rule.requires} consent for a {line} line")
    elif isinstance(rule, StopRule):
        for x in effects:
            same = x.party_id == e.party_id if rule.scope == "party" else x.contact_point == e.contact_point
            if same and x.outcome in rule.on and _in_scope(pack, rule, x, parties[x.party_id].role):
                report(rule.id, f"contacted after {x.outcome.value} at {x.at.isoformat()}")
                return
    elif isinstance(rule, CooldownRule):
        for x in effects:
            same = x.party_id == e.party_id if rule.key == "party" else True
            if not same or x.outcome not in rule.after or not _in_scope(
                    pack, rule, x, parties[x.party_id].role):
                continue
            xz, _ = candidate_zones(account.address, x.contact_point)
            began = x.outcome_at or x.at  # the cooldown runs from the conversation's end
            for z in set(zones) | set(xz):
                first_free = _local(began, z).date() + timedelta(days=rule.days)
                if _local(e.at, z).date() < first_free:
                    report(rule.id, f"{x.outcome.value} on {_local(began, z).date()} ({z})")
                    return
    elif isinstance(rule, CapRule):
        def key(x: HistoryEntry) -> str:
            return {"account": x.account_id, "party": x.party_id,
                    "contact_point": x.contact_point}[rule.key]

        def counted(x: HistoryEntry) -> bool:
            if rule.counts.outcomes is not None:
                return x.outcome in rule.counts.outcomes
            return not (rule.counts.all_except and x.outcome in rule.counts.all_except)

        today = _local(e.at, primary).date()
        if rule.window.type == "ever":
            first: date | None = None
        else:
            n = rule.window.days if rule.window.type == "rolling_days" else 1
            first = today - timedelta(days=n - 1)
        # a cap counting outcomes counts them once known; one counting attempts, at once
        pool = effects if rule.counts.outcomes is not None else earlier
        prior = [x for x in pool if key(x) == key(e) and counted(x)
                 and _in_scope(pack, rule, x, parties[x.party_id].role)
                 and (first is None or _local(x.at, primary).date() >= first)]
        if rule.counts.outcomes is not None:
            if len(prior) >= rule.limit:
                report(rule.id, f"{len(prior)} counted before, limit {rule.limit}")
        elif len(prior) + 1 > rule.limit:
            report(rule.id, f"{len(prior) + 1} attempts, limit {rule.limit}")
    elif isinstance(rule, ThirdPartyRule) and p.role is not Role.DEBTOR:
        if rule.designated_only and not p.designated_by_debtor:
            report(rule.id, "third party not designated by the debtor")
            return
        if rule.debtor_unreachable:
            u = rule.debtor_unreachable
            first_day = _local(e.at, primary).date() - timedelta(days=u.days - 1)
            debtor_calls = [x for x in effects if parties[x.party_id].role is Role.DEBTOR
                            and x.channel.value == "voice" and x.outcome is not None
                            and _local(x.at, primary).date() >= first_day]
            unanswered = sum(1 for x in debtor_calls if x.outcome in _NOT_ANSWERED)
            answered = [x for x in debtor_calls if x.outcome not in _NOT_ANSWERED
                        and x.outcome not in (Outcome.DELIVERED, Outcome.UNDELIVERED)]
            if unanswered < u.min_unanswered or answered:
                report(rule.id, "debtor was not unreachable")
