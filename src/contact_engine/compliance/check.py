"""``gate check``: the contract of CONTRACTS.md, evaluated exactly as the engine would.

The history is replayed into an in-memory ledger (the Redis ledger's twin), then the
attempt is decided without reserving anything.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

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
    Decision,
    HistoryEntry,
    HoldKind,
    Mode,
    Outcome,
    Party,
    Role,
)
from contact_engine.errors import PolicyError, ValidationProblem


def _obj(v: Any, field: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ValidationProblem(field, "must be an object")
    return v


def _list(v: Any, field: str) -> list[Any]:
    if v is None:
        return []
    if not isinstance(v, list):
        raise ValidationProblem(field, "must be a list")
    return v


def _str(d: dict[str, Any], key: str, field: str, required: bool = True) -> str | None:
    v = d.get(key)
    if v is None:
        if required:
            raise ValidationProblem(f"{field}.{key}" if field else key, "is required")
        return None
    if not isinstance(v, str) or not v:
        raise ValidationProblem(f"{field}.{key}" if field else key, "must be a non-empty string")
    return v


def _enum(value: Any, enum: Any, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise ValidationProblem(field, f"{value!r} is not one of {allowed}") from None


def _instant(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise ValidationProblem(field, "must be an ISO 8601 time with an offset")
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationProblem(field, f"{value!r} is not an ISO 8601 time") from None
    if t.tzinfo is None:
        raise ValidationProblem(field, "needs an offset or Z")
    return t


def _bool(d: dict[str, Any], key: str, field: str) -> bool:
    v = d.get(key, False)
    if not isinstance(v, bool):
        raise ValidationProblem(f"{field}.{key}", "must be true or false")
    return v


def parse_check(doc: Any) -> tuple[list[str], datetime, Account, AttemptRequest, list[HistoryEntry]]:
    """Validate a ``gate check`` document; ValidationProblem names the first bad field."""
    doc = _obj(doc, "input")
    policies = doc.get("policies")
    if not isinstance(policies, list) or not policies or not all(isinstance(p, str) for p in policies):
        raise ValidationProblem("policies", "must be a non-empty list of pack names")
    now = _instant(doc.get("now"), "now")
    acc = _obj(doc.get("account"), "account")
    addr = _obj(acc.get("address") or {}, "account.address")
    try:
        due = date.fromisoformat(_str(acc, "due_date", "account") or "")
    except ValueError:
        raise ValidationProblem("account.due_date", "is not a date (YYYY-MM-DD)") from None
    holds = frozenset(_enum(h, HoldKind, f"account.holds[{i}]")
                      for i, h in enumerate(_list(acc.get("holds"), "account.holds")))
    account_id = _str(acc, "id", "account") or ""
    raw_parties = _list(doc.get("parties"), "parties")
    if not raw_parties:
        raise ValidationProblem("parties", "must list at least one party")
    att = _obj(doc.get("attempt"), "attempt")
    request = AttemptRequest(
        channel=_enum(att.get("channel"), Channel, "attempt.channel"),
        mode=_enum(att.get("mode"), Mode, "attempt.mode"),
        party_id=_str(att, "party_id", "attempt") or "",
        contact_point=_str(att, "contact_point", "attempt") or "",
        account_id=account_id,
    )
    history: list[HistoryEntry] = []
    for i, h in enumerate(_list(doc.get("history"), "history")):
        f = f"history[{i}]"
        h = _obj(h, f)
        outcome = h.get("outcome")
        history.append(HistoryEntry(
            at=_instant(h.get("at"), f"{f}.at"),
            channel=_enum(h.get("channel"), Channel, f"{f}.channel"),
            mode=_enum(h.get("mode", "automated"), Mode, f"{f}.mode"),
            party_id=_str(h, "party_id", f) or "",
            contact_point=_str(h, "contact_point", f) or "",
            outcome=None if outcome is None else _enum(outcome, Outcome, f"{f}.outcome"),
            account_id=account_id,
        ))
    points: dict[str, set[str]] = {}
    for party_id, cpv in [(e.party_id, e.contact_point) for e in history] + [
            (request.party_id, request.contact_point)]:
        points.setdefault(party_id, set()).add(cpv)
    parties = []
    ids = set()
    for i, p in enumerate(raw_parties):
        f = f"parties[{i}]"
        p = _obj(p, f)
        pid = _str(p, "id", f) or ""
        ids.add(pid)
        consents = []
        for j, c in enumerate(_list(p.get("consents"), f"{f}.consents")):
            c = _obj(c, f"{f}.consents[{j}]")
            consents.append(Consent(_enum(c.get("kind"), ConsentKind, f"{f}.consents[{j}].kind"),
                                    _instant(c.get("given_at"), f"{f}.consents[{j}].given_at"),
                                    c.get("scope")))
        cps = tuple(
            ContactPoint(pid, ContactKind.PHONE if v.startswith("+") else
                         ContactKind.EMAIL if "@" in v else ContactKind.ADDRESS, v)
            for v in sorted(points.get(pid, ())))
        parties.append(Party(
            id=pid, role=_enum(p.get("role"), Role, f"{f}.role"),
            sensitive=_bool(p, "sensitive", f),
            designated_by_debtor=_bool(p, "designated_by_debtor", f),
            represented_by_attorney=_bool(p, "represented_by_attorney", f),
            opt_outs=frozenset(_enum(c, Channel, f"{f}.opt_outs[{j}]")
                               for j, c in enumerate(_list(p.get("opt_outs"), f"{f}.opt_outs"))),
            consents=tuple(consents), contact_points=cps,
        ))
    if request.party_id not in ids:
        raise ValidationProblem("attempt.party_id", f"{request.party_id!r} is not in parties")
    for i, h in enumerate(history):
        if h.party_id not in ids:
            raise ValidationProblem(f"history[{i}].party_id", f"{h.party_id!r} is not in parties")
    tz = addr.get("timezone")
    if tz is not None and not isinstance(tz, str):
        raise ValidationProblem("account.address.timezone", "must be an IANA name or null")
    account = Account(
        id=account_id, due_date=due, holds=holds,
        address=Address(country=addr.get("country"), region=addr.get("region"),
                        postal_code=addr.get("postal_code"), timezone=tz),
        parties=tuple(parties),
    )
    return list(policies), now, account, request, history


async def run_check(doc: Any, policy_dir: Any = None) -> dict[str, Any]:
    policies, now, account, request, history = parse_check(doc)
    try:
        packs = load_packs(policies, policy_dir)
    except PolicyError as exc:
        if str(exc).startswith("unknown policy pack"):
            raise ValidationProblem("policies", str(exc)) from None
        raise
    gate = Gate(packs, MemoryLedger())
    for entry in sorted(history, key=lambda e: e.at):
        await gate.record(account, entry)
    decision = await gate.decide(account, request, now)
    return decision_json(decision)


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "allowed": decision.allowed,
        "denied_by": [{"rule": d.rule, "reason": d.reason, "permanent": d.permanent,
                       "until": _iso(d.until)} for d in decision.denied_by],
        "next_allowed_at": _iso(decision.next_allowed_at),
        "policy_versions": decision.policy_versions,
    }
