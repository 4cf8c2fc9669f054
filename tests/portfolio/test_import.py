"""Portfolio import: validation, all-or-nothing writes, idempotent re-import (every backend)."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.domain import ContactKind, LineType, Role
from contact_engine.errors import ImportRejected, UserError
from contact_engine.portfolio.importer import import_accounts, read_portfolio
from contact_engine.store.repositories import AccountRepository
from contact_engine.store.tables import accounts, contact_points, parties

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HEADER = ("account_id,product,principal,balance,currency,due_date,country,"
          "debtor_name,debtor_phone,debtor_email,p2_role,p2_name,p2_phone\n")
GOOD_ROW = "A{n},loan,1000.00,900.50,CNY,2026-03-01,CN,张三,1380013800{n},z{n}@example.cn,spouse,李四,1390013900{n}\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


async def snapshot(db: AsyncEngine) -> tuple[int, int, int, list[tuple[str, Decimal]]]:
    async with db.connect() as conn:
        counts = [
            (await conn.execute(select(func.count()).select_from(t))).scalar_one()
            for t in (accounts, parties, contact_points)
        ]
        balances = [(r.id, r.balance) for r in await conn.execute(
            select(accounts.c.id, accounts.c.balance).order_by(accounts.c.id))]
    return counts[0], counts[1], counts[2], balances


async def load(db: AsyncEngine, path: Path, region: str = "CN") -> None:
    await import_accounts(db, read_portfolio(path, region))


async def test_example_files_import_and_round_trip(db: AsyncEngine) -> None:
    await load(db, EXAMPLES / "portfolio.csv")
    await load(db, EXAMPLES / "portfolio.json")
    repo = AccountRepository(db)
    assert await repo.count() == 14
    acct = await repo.get("CC-1002")
    assert acct is not None
    assert acct.balance == Decimal("30000.00")
    debtor = next(p for p in acct.parties if p.role is Role.DEBTOR)
    phones = [c for c in debtor.contact_points if c.kind is ContactKind.PHONE]
    assert [c.value for c in phones] == ["+8613500135000", "+862088886666"]
    assert phones[0].line_type is LineType.MOBILE
    assert phones[1].line_type is LineType.LANDLINE
    designated = next(p for p in acct.parties if p.role is Role.DESIGNATED_CONTACT)
    assert designated.designated_by_debtor
    us = await repo.get("J-US-1")
    assert us is not None and us.address.timezone == "America/New_York"
    assert us.parties[0].consents[0].kind.value == "autodial_mobile"


async def test_reimport_is_idempotent_and_updates(db: AsyncEngine, tmp_path: Path) -> None:
    text = HEADER + "".join(GOOD_ROW.format(n=n) for n in range(3))
    path = write(tmp_path, "p.csv", text)
    await load(db, path)
    first = await snapshot(db)
    await load(db, path)
    assert await snapshot(db) == first
    assert first[:3] == (3, 6, 9)
    await load(db, write(tmp_path, "p2.csv", text.replace("900.50", "800.00", 1)))
    acct = await AccountRepository(db).get("A0")
    assert acct is not None and acct.balance == Decimal("800.00")
    assert (await snapshot(db))[:3] == (3, 6, 9)


BAD_CASES = {
    "wrong_header": (HEADER.replace("debtor_phone", "debtor_fone") + GOOD_ROW.format(n=1),
                     "line 1: header: missing column(s) debtor_phone; unknown column(s) debtor_fone"),
    "bad_phone": (HEADER + GOOD_ROW.format(n=1) + GOOD_ROW.format(n=2).replace("13800138002", "12345"),
                  "line 3: debtor_phone: '12345' is not a valid phone number"),
    "bad_amount": (HEADER + GOOD_ROW.format(n=1).replace("900.50", "9OO.50"),
                   "line 2: balance: '9OO.50' is not an amount"),
    "bad_date": (HEADER + GOOD_ROW.format(n=1).replace("2026-03-01", "2026-02-30"),
                 "line 2: due_date: '2026-02-30' is not a date (YYYY-MM-DD)"),
    "duplicate_id": (HEADER + GOOD_ROW.format(n=1) + GOOD_ROW.format(n=2) + GOOD_ROW.format(n=1),
                     "line 4: account_id: 'A1' duplicates the account on line 2"),
    "empty_file": ("", "line 1: file: the file is empty"),
    "header_only": (HEADER, "line 2: file: no records after the header"),
    "non_utf8": ((HEADER + GOOD_ROW.format(n=1)).encode("utf-8")
                 + "A9,loan,1,1,CNY,2026-03-01,CN,张\n".encode("gb18030"),
                 "line 3: file: not UTF-8 text"),
    "bad_role": (HEADER + GOOD_ROW.format(n=1).replace("spouse", "cousin"),
                 "line 2: p2_role: 'cousin' is not one of debtor"),
    "bad_email": (HEADER + GOOD_ROW.format(n=1).replace("z1@example.cn", "not-an-email"),
                  "line 2: debtor_email: 'not-an-email' is not an email address"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
async def test_bad_input_is_rejected_and_changes_nothing(
    db: AsyncEngine, tmp_path: Path, case: str
) -> None:
    await load(db, write(tmp_path, "good.csv", HEADER + GOOD_ROW.format(n=7)))
    before = await snapshot(db)
    text, expected = BAD_CASES[case]
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(ImportRejected) as info:
        await load(db, path)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems
    assert await snapshot(db) == before


async def test_every_problem_is_listed(tmp_path: Path) -> None:
    rows = (GOOD_ROW.format(n=1).replace("900.50", "x")
            + GOOD_ROW.format(n=2).replace("2026-03-01", "yesterday")
            + GOOD_ROW.format(n=3))
    with pytest.raises(ImportRejected) as info:
        read_portfolio(write(tmp_path, "b.csv", HEADER + rows), "CN")
    assert [p.split(":")[0] for p in info.value.problems] == ["line 2", "line 3"]


async def test_json_problems_name_the_line(tmp_path: Path) -> None:
    text = (EXAMPLES / "portfolio.json").read_text(encoding="utf-8").replace(
        '"due_date": "2026-10-01"', '"due_date": "2026-13-01"')
    with pytest.raises(ImportRejected) as info:
        read_portfolio(write(tmp_path, "b.json", text), "CN")
    start = next(i for i, line in enumerate(text.splitlines(), 1) if '"J-US-1"' in line)
    assert info.value.problems == [
        f"line {start}: due_date: '2026-13-01' is not a date (YYYY-MM-DD)"]


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        read_portfolio(tmp_path / "absent.csv", "CN")


def test_us_numbers_parse_with_us_region(tmp_path: Path) -> None:
    src = EXAMPLES / "portfolio.csv"
    shutil.copy(src, tmp_path / "p.csv")
    accts = read_portfolio(tmp_path / "p.csv", "US")
    # Chinese rows carry country CN, so their national numbers still parse in CN.
    cn = next(a for a in accts if a.id == "CC-1001")
    assert cn.parties[0].contact_points[0].value == "+8613800138000"
    us = next(a for a in accts if a.id == "US-4001")
    assert us.parties[0].contact_points[0].value == "+12125550147"
