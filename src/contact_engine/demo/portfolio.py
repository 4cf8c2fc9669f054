"""A generated demo portfolio: Chinese and US accounts across every bucket, with third parties.

Seeded and deterministic. Chinese accounts (Asia/Shanghai) and US accounts spread over
Eastern, Central, Mountain, Pacific and Arizona time; due dates from 35 days ahead to 100
days past due at the start, so that every bucket of the default cadence is reached (and
the collector and legal hand-offs). About a third of the debtors named a contact person;
some accounts carry an employer or a reference; a few start disputed or represented by an
attorney; most US debtors gave consent to automated calls, some did not.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from contact_engine.domain import (
    Account,
    Address,
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

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀英", "桂英", "志强", "建华"]
_FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Susan",
          "William", "Karen", "Maria", "Carlos", "Wei", "Anh"]
_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Lopez", "Wilson",
         "Nguyen", "Chen", "Lee", "Walker"]
#: (state, area code) pairs: New York, Florida, Illinois, Texas, Colorado, Arizona, California, Washington
_US = [("NY", "212"), ("FL", "305"), ("IL", "312"), ("TX", "214"), ("CO", "303"), ("AZ", "602"),
       ("CA", "415"), ("WA", "206")]
_CN_CITIES = [("Shanghai", "200000"), ("Beijing", "100000"), ("Guangdong", "510000"), ("Sichuan", "610000"),
              ("Zhejiang", "310000")]


def _cn_mobile(rng: random.Random) -> str:
    return f"+86{rng.choice(('138', '139', '150', '186', '137'))}{rng.randrange(10**8):08d}"


def _us_phone(rng: random.Random, area: str) -> str:
    return f"+1{area}{rng.randrange(200, 999)}{rng.randrange(10**4):04d}"


def generate(n: int, start: date, seed: int = 7, *, us_share: float = 0.3,
             keep: Callable[[str], bool] | None = None) -> Iterator[Account]:
    """``n`` accounts, deterministic for ``seed``.

    ``keep(account_id)``: yield only the accounts it accepts (a shard's share); the others
    are drawn all the same, so every account is the one the whole portfolio holds, but
    never built (building is most of the cost).
    """
    rng = random.Random(seed)
    given_at = datetime(start.year - 1, 6, 1, tzinfo=UTC)
    for i in range(n):
        acct_id = f"D{i + 1:07d}"
        postal: str | None
        # Every draw first, in a fixed order: what ``keep`` drops must draw the same.
        us = rng.random() < us_share
        dpd = rng.randint(-35, 100)
        cents = rng.randrange(500_00, 60_000_00)
        share = rng.choice(("1", "1", "0.8", "0.6"))
        disputed = rng.random() < 0.02
        if us:
            state, area = rng.choice(_US)
            name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
            phone = _us_phone(rng, area)
            consented = rng.random() < 0.85
        else:
            region, postal = rng.choice(_CN_CITIES)
            name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
            phone = _cn_mobile(rng)
            area = ""
            consented = False
        with_email = rng.random() < 0.8
        attorney = us and rng.random() < 0.01
        contact: tuple[str, bool, bool] | None = None  # phone, family, spouse
        if rng.random() < 0.33:
            cphone = _us_phone(rng, area) if us else _cn_mobile(rng)
            contact = (cphone, rng.random() < 0.5, rng.random() < 0.5)
        employer: str | None = None
        if rng.random() < 0.1:
            employer = _us_phone(rng, area) if us else f"+8621{rng.randrange(10**8):08d}"
        card = rng.random() < 0.7
        risk = rng.choice(("low", "medium", "high"))
        if keep is not None and not keep(acct_id):
            continue
        principal = Decimal(cents) / 100
        balance = (principal * Decimal(share)).quantize(Decimal("0.01"))
        holds: frozenset[HoldKind] = frozenset({HoldKind.DISPUTE}) if disputed else frozenset()
        if us:
            language, currency, country, region, postal = "en-US", "USD", "US", state, None
            email = f"{name.split()[0].lower()}.{acct_id.lower()}@example.com"
        else:
            language, currency, country, state = "zh-CN", "CNY", "CN", region
            email = f"user.{acct_id.lower()}@example.cn"
        debtor_id = f"{acct_id}/debtor"
        consents: tuple[Consent, ...] = ()
        if consented:
            consents = (Consent(ConsentKind.AUTODIAL_MOBILE, given_at, "collection"),)
        points = [ContactPoint(party_id=debtor_id, kind=ContactKind.PHONE, value=phone, line_type=LineType.MOBILE,
                               provenance="debtor_provided")]
        if with_email:
            points.append(ContactPoint(party_id=debtor_id, kind=ContactKind.EMAIL, value=email,
                                       provenance="debtor_provided"))
        parties = [Party(id=debtor_id, role=Role.DEBTOR, name=name, language=language, consents=consents,
                         represented_by_attorney=attorney, contact_points=tuple(points))]
        if contact is not None:
            pid = f"{acct_id}/contact"
            cphone, family, spouse = contact
            parties.append(Party(id=pid, role=Role.FAMILY if family else Role.DESIGNATED_CONTACT,
                                 name=None, relationship="spouse" if spouse else "sibling",
                                 designated_by_debtor=True, language=language, consents=consents,
                                 contact_points=(ContactPoint(party_id=pid, kind=ContactKind.PHONE, value=cphone,
                                                              line_type=LineType.MOBILE,
                                                              provenance="debtor_designated"),)))
        if employer is not None:
            pid = f"{acct_id}/employer"
            parties.append(Party(id=pid, role=Role.EMPLOYER, language=language,
                                 contact_points=(ContactPoint(party_id=pid, kind=ContactKind.PHONE, value=employer,
                                                              line_type=LineType.LANDLINE, employer_provided=True,
                                                              provenance="creditor"),)))
        yield Account(
            id=acct_id, external_id=acct_id, due_date=start - timedelta(days=dpd),
            product=Product.CREDIT_CARD if card else Product.LOAN,
            principal=principal, balance=balance, currency=currency, holds=holds,
            address=Address(country=country, region=state if us else region, postal_code=postal),
            risk=risk, language=language, parties=tuple(parties),
        )
