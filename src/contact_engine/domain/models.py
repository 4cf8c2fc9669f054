"""Pure data of the domain: no I/O. Money is Decimal; instants are timezone-aware."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from contact_engine.domain.enums import (
    AccountStatus,
    Channel,
    ConsentKind,
    ContactKind,
    HoldKind,
    LineType,
    Mode,
    Outcome,
    Product,
    Role,
)


@dataclass(frozen=True, slots=True)
class Address:
    country: str | None = None  # ISO 3166-1 alpha-2
    region: str | None = None  # province / state
    postal_code: str | None = None
    timezone: str | None = None  # IANA name when known
    city: str | None = None
    line1: str | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    kind: ConsentKind
    given_at: datetime
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """A phone number (E.164), an email address, or a postal address of one party."""

    party_id: str
    kind: ContactKind
    value: str
    line_type: LineType = LineType.UNKNOWN
    timezone: str | None = None
    opt_outs: frozenset[Channel] = frozenset()
    provenance: str | None = None  # e.g. debtor_provided, debtor_designated, creditor
    employer_provided: bool = False


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    role: Role
    name: str | None = None
    relationship: str | None = None
    sensitive: bool = False
    designated_by_debtor: bool = False
    represented_by_attorney: bool = False
    language: str | None = None
    opt_outs: frozenset[Channel] = frozenset()
    consents: tuple[Consent, ...] = ()
    contact_points: tuple[ContactPoint, ...] = ()


@dataclass(frozen=True, slots=True)
class Account:
    """One debt case."""

    id: str
    due_date: date
    external_id: str | None = None
    product: Product = Product.CREDIT_CARD
    principal: Decimal = Decimal("0")
    balance: Decimal = Decimal("0")
    currency: str = "CNY"
    status: AccountStatus = AccountStatus.ACTIVE
    holds: frozenset[HoldKind] = frozenset()
    address: Address = field(default_factory=Address)
    risk: str | None = None
    language: str | None = None
    parties: tuple[Party, ...] = ()

    def days_past_due(self, on: date) -> int:
        return (on - self.due_date).days


@dataclass(frozen=True, slots=True)
class AttemptRequest:
    """A proposed contact attempt, as the gate sees it."""

    channel: Channel
    mode: Mode
    party_id: str
    contact_point: str  # E.164 phone, email address, or "address" for a visit
    account_id: str = ""
    intent_id: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """An earlier attempt and its outcome (the input of ``gate check``)."""

    at: datetime
    channel: Channel
    mode: Mode
    party_id: str
    contact_point: str
    outcome: Outcome | None
    account_id: str = ""
    #: when the outcome became known (end of the call); None: at ``at``
    outcome_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Denial:
    rule: str
    reason: str
    permanent: bool = False
    until: datetime | None = None  # when a time-bound denial lapses


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer, explainable afterwards."""

    allowed: bool
    denied_by: tuple[Denial, ...] = ()
    next_allowed_at: datetime | None = None
    policy_versions: dict[str, str] = field(default_factory=dict)
    reservation_id: str | None = None
    decided_at: datetime | None = None

    @property
    def permanent(self) -> bool:
        return any(d.permanent for d in self.denied_by)


def intent_id(campaign: str, step: str, account: str, party: str, local_day: date) -> str:
    """The deterministic id of an intent: the same step never plans the same contact twice.

    The local day leads (``20260302`` + 24 hex digits of a hash), so a day's intents, and
    the attempts and outcomes keyed by them, sit together in their indexes: a batch writes
    a few hot pages instead of a page per row all over the index.
    """
    day = local_day.isoformat()
    raw = f"{campaign}|{step}|{account}|{party}|{day}"
    # the day as YYYYMMDD from its ISO form: strftime cost more than the hash
    return f"{day.replace('-', '')}{hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()}"


@dataclass(frozen=True, slots=True)
class Intent:
    """A planned contact, waiting for its time and the gate."""

    id: str
    campaign_id: str
    step_id: str
    account_id: str
    party_id: str
    channel: Channel
    mode: Mode
    contact_point: str
    not_before: datetime
    script: str
    language: str = "zh-CN"
    local_day: date | None = None
    attempt_no: int = 0
