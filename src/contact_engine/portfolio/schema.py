"""The portfolio file format and its validation.

A CSV file has one row per account (the debt case) with the debtor's columns and up to two
more parties in the column groups ``p2_*`` and ``p3_*``. A JSON file is an array (or JSON
Lines) of account objects with a nested ``parties`` list. Both map to the same record
shape, validated by :func:`parse_account`. See docs/portfolio.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from contact_engine.domain import (
    Account,
    AccountStatus,
    Address,
    Channel,
    Consent,
    ConsentKind,
    ContactKind,
    ContactPoint,
    HoldKind,
    LineType,
    Party,
    Product,
    Role,
)

ACCOUNT_FIELDS = (
    "account_id", "product", "principal", "balance", "currency", "due_date", "status",
    "holds", "country", "region", "postal_code", "city", "timezone", "risk", "language",
)
PARTY_FIELDS = (
    "ref", "role", "name", "relationship", "phone", "phone2", "email", "sensitive",
    "designated_by_debtor", "represented_by_attorney", "language", "opt_outs", "consents",
    "provenance",
)
REQUIRED_CSV = ("account_id", "product", "principal", "balance", "currency", "due_date",
                "debtor_name", "debtor_phone")
CSV_COLUMNS = (
    ACCOUNT_FIELDS
    + tuple(f"debtor_{f}" for f in PARTY_FIELDS if f not in ("ref", "role", "relationship"))
    + tuple(f"p{n}_{f}" for n in (2, 3) for f in PARTY_FIELDS if f != "ref")
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"", "0", "false", "no", "n", "f"}


class RowError(Exception):
    """One problem with one field of one record."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _text(raw: Mapping[str, Any], key: str, *, required: bool = False, prefix: str = "") -> str | None:
    value = raw.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(prefix + key, "is required")
        return None
    return str(value).strip()


def _choice(value: str | None, enum: Any, field: str, default: Any = None) -> Any:
    if value is None:
        return default
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise RowError(field, f"{value!r} is not one of {allowed}") from None


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowError(field, f"{value!r} is not a yes/no value")


def _money(value: str | None, field: str) -> Decimal:
    if value is None:
        raise RowError(field, "is required")
    try:
        amount = Decimal(value.replace(",", ""))
    except InvalidOperation:
        raise RowError(field, f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise RowError(field, f"{value!r} is not a non-negative amount")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise RowError(field, f"{value!r} has more than 2 decimal places")
    return amount.quantize(Decimal("0.01"))


def _date(value: str | None, field: str) -> date:
    if value is None:
        raise RowError(field, "is required")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowError(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [v.strip() for v in str(value).replace(",", ";").split(";") if v.strip()]


_LINE_TYPES = {
    PhoneNumberType.MOBILE: LineType.MOBILE,
    PhoneNumberType.FIXED_LINE: LineType.LANDLINE,
    PhoneNumberType.VOIP: LineType.VOIP,
}


def parse_phone(value: str, region: str, field: str) -> tuple[str, LineType]:
    """E.164 form and line type of a phone number; RowError when it is not valid."""
    try:
        num = phonenumbers.parse(value, region)
    except NumberParseException as exc:
        raise RowError(field, f"{value!r} is not a phone number ({exc._msg})") from None
    if not phonenumbers.is_valid_number(num):
        raise RowError(field, f"{value!r} is not a valid phone number")
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return e164, _LINE_TYPES.get(phonenumbers.number_type(num), LineType.UNKNOWN)


def _consents(value: Any, field: str) -> tuple[Consent, ...]:
    out = []
    items = value if isinstance(value, list) else [
        {"kind": k, "given_at": t} for k, _, t in (s.partition("@") for s in _list(value))]
    for item in items:
        if not isinstance(item, Mapping):
            raise RowError(field, "each consent is an object with kind and given_at")
        kind = _choice(str(item.get("kind", "")), ConsentKind, field)
        try:
            given = datetime.fromisoformat(str(item.get("given_at")))
        except ValueError:
            raise RowError(field, f"{item.get('given_at')!r} is not a date-time") from None
        if given.tzinfo is None:
            raise RowError(field, "given_at needs a UTC offset")
        out.append(Consent(kind, given, item.get("scope")))
    return tuple(out)


def parse_party(raw: Mapping[str, Any], account_id: str, ref: str, role: Role, region: str,
                prefix: str) -> Party:
    """One party with its contact points."""
    party_id = f"{account_id}/{ref}"
    points: list[ContactPoint] = []
    provenance = _text(raw, "provenance") or (
        "debtor_provided" if role is Role.DEBTOR else "debtor_designated"
        if _bool(raw.get("designated_by_debtor"), prefix + "designated_by_debtor") else "creditor")
    for key in ("phone", "phone2"):
        value = _text(raw, key)
        if value:
            e164, line = parse_phone(value, region, prefix + key)
            if not any(p.value == e164 for p in points):
                points.append(ContactPoint(party_id, ContactKind.PHONE, e164, line,
                                           provenance=provenance))
    email = _text(raw, "email")
    if email:
        if not _EMAIL.match(email):
            raise RowError(prefix + "email", f"{email!r} is not an email address")
        points.append(ContactPoint(party_id, ContactKind.EMAIL, email.lower(),
                                   provenance=provenance))
    opt_outs = frozenset(_choice(v, Channel, prefix + "opt_outs") for v in _list(raw.get("opt_outs")))
    return Party(
        id=party_id, role=role, name=_text(raw, "name"),
        relationship=_text(raw, "relationship"),
        sensitive=_bool(raw.get("sensitive"), prefix + "sensitive"),
        designated_by_debtor=_bool(raw.get("designated_by_debtor"), prefix + "designated_by_debtor"),
        represented_by_attorney=_bool(raw.get("represented_by_attorney"),
                                      prefix + "represented_by_attorney"),
        language=_text(raw, "language"), opt_outs=opt_outs,
        consents=_consents(raw.get("consents"), prefix + "consents"),
        contact_points=tuple(points),
    )


def parse_account(raw: Mapping[str, Any], default_region: str) -> Account:
    """Validate one account record (CSV row already regrouped, or a JSON object)."""
    account_id = _text(raw, "account_id", required=True)
    assert account_id is not None
    if not _ID.match(account_id):
        raise RowError("account_id", f"{account_id!r} is not a valid id (letters, digits, ._:-)")
    country = (_text(raw, "country") or default_region).upper()
    if len(country) != 2:
        raise RowError("country", f"{country!r} is not a two-letter country code")
    tz = _text(raw, "timezone")
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise RowError("timezone", f"{tz!r} is not an IANA time zone") from None
    currency = (_text(raw, "currency", required=True) or "").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise RowError("currency", f"{currency!r} is not an ISO 4217 code")
    principal = _money(_text(raw, "principal"), "principal")
    balance = _money(_text(raw, "balance"), "balance")
    holds = frozenset(_choice(h, HoldKind, "holds") for h in _list(raw.get("holds")))
    raw_parties = raw.get("parties")
    if not isinstance(raw_parties, list) or not raw_parties:
        raise RowError("parties", "at least the debtor is required")
    parties: list[Party] = []
    seen_refs: set[str] = set()
    for i, rp in enumerate(raw_parties):
        prefix = str(rp.get("_prefix", f"parties[{i}]."))
        role = _choice(_text(rp, "role", required=True, prefix=prefix), Role, prefix + "role")
        ref = _text(rp, "ref") or ("debtor" if role is Role.DEBTOR else f"p{i + 1}")
        if ref in seen_refs:
            raise RowError(prefix + "ref", f"{ref!r} appears twice in this account")
        seen_refs.add(ref)
        parties.append(parse_party(rp, account_id, ref, role, country, prefix))
    if sum(p.role is Role.DEBTOR for p in parties) != 1:
        raise RowError("parties", "exactly one party must have the role debtor")
    return Account(
        id=account_id, external_id=account_id, due_date=_date(_text(raw, "due_date"), "due_date"),
        product=_choice(_text(raw, "product", required=True), Product, "product"),
        principal=principal, balance=balance, currency=currency,
        status=_choice(_text(raw, "status"), AccountStatus, "status", AccountStatus.ACTIVE),
        holds=holds,
        address=Address(country=country, region=_text(raw, "region"),
                        postal_code=_text(raw, "postal_code"), timezone=tz,
                        city=_text(raw, "city")),
        risk=_text(raw, "risk"), language=_text(raw, "language"), parties=tuple(parties),
    )


def regroup_csv_row(row: Mapping[str, str]) -> dict[str, Any]:
    """A flat CSV row -> the nested record shape of :func:`parse_account`."""
    record: dict[str, Any] = {k: row.get(k) for k in ACCOUNT_FIELDS}
    debtor: dict[str, Any] = {"role": "debtor", "ref": "debtor", "_prefix": "debtor_"}
    for f in PARTY_FIELDS:
        if f"debtor_{f}" in row:
            debtor[f] = row[f"debtor_{f}"]
    parties = [debtor]
    for n in (2, 3):
        group = {f: row.get(f"p{n}_{f}") for f in PARTY_FIELDS if f != "ref"}
        if any(v and str(v).strip() for v in group.values()):
            group["ref"] = f"p{n}"
            group["_prefix"] = f"p{n}_"
            parties.append(group)
    record["parties"] = parties
    return record
