"""Contract tests of the repositories and migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.domain import (
    Account,
    AccountStatus,
    AttemptRequest,
    Channel,
    ContactKind,
    ContactPoint,
    Decision,
    Denial,
    HoldKind,
    Mode,
    Party,
    Role,
)
from contact_engine.domain.events import HoldPlaced
from contact_engine.store.db import alembic_config
from contact_engine.store.repositories import AccountRepository, AuditRepository


def make_account(n: int) -> Account:
    pid = f"A{n:04d}/debtor"
    return Account(
        id=f"A{n:04d}", due_date=date(2026, 3, 1), balance=Decimal("100.00"),
        principal=Decimal("100.00"),
        parties=(Party(id=pid, role=Role.DEBTOR, name=f"n{n}", contact_points=(
            ContactPoint(pid, ContactKind.PHONE, f"+86138{n:08d}"),)),),
    )


def test_migrations_have_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


async def test_iter_accounts_streams_in_order(db: AsyncEngine) -> None:
    repo = AccountRepository(db)
    await repo.upsert_many([make_account(n) for n in range(25)][::-1])
    seen = [a.id async for a in repo.iter_accounts(batch_size=7)]
    assert seen == [f"A{n:04d}" for n in range(25)]
    assert await repo.count() == 25


async def test_a_full_account_round_trips_and_an_upsert_replaces_it(db: AsyncEngine) -> None:
    from dataclasses import replace

    from contact_engine.domain import Address, Consent, ConsentKind, LineType, Product

    debtor, contact = "F1/debtor", "F1/contact-1"
    full = Account(
        id="F1", due_date=date(2026, 2, 1), product=Product.LOAN, principal=Decimal("8000.00"),
        balance=Decimal("1234.56"), currency="USD", status=AccountStatus.PROMISE,
        holds=frozenset({HoldKind.DISPUTE, HoldKind.CEASE}),
        address=Address(country="US", region="TX", postal_code="73301", timezone=None, city="Austin"),
        risk="high", language="en-US",
        parties=(
            Party(id=debtor, role=Role.DEBTOR, name="Pat", language="en-US", opt_outs=frozenset({Channel.SMS}),
                  consents=(Consent(ConsentKind.AUTODIAL_MOBILE, datetime(2025, 6, 1, tzinfo=UTC), "loan"),),
                  contact_points=(
                      ContactPoint(debtor, ContactKind.PHONE, "+15125550100", line_type=LineType.MOBILE,
                                   opt_outs=frozenset({Channel.VOICE, Channel.SMS}), provenance="application"),
                      ContactPoint(debtor, ContactKind.EMAIL, "pat@example.com"))),
            Party(id=contact, role=Role.FAMILY, name="Lee", relationship="sibling", sensitive=True,
                  designated_by_debtor=True, contact_points=(
                      ContactPoint(contact, ContactKind.PHONE, "+15125550101", employer_provided=True),)),
        ),
    )
    repo = AccountRepository(db)
    await repo.upsert_many([full])
    # parties come back in id order
    assert await repo.get("F1") == replace(full, external_id="F1", parties=tuple(sorted(full.parties, key=lambda p: p.id)))
    changed = replace(full, balance=Decimal("1.00"), holds=frozenset(), parties=full.parties[:1])
    await repo.upsert_many([changed])
    again = await repo.get("F1")
    assert again is not None and again.balance == Decimal("1.00") and again.holds == frozenset()
    assert {p.id: p for p in again.parties}[debtor] == full.parties[0]


async def test_payment_holds_and_status(db: AsyncEngine) -> None:
    repo = AccountRepository(db)
    await repo.upsert_many([make_account(1)])
    at = datetime(2026, 3, 5, tzinfo=UTC)
    assert await repo.apply_payment("A0001", Decimal("30.25"), at, "sim") == Decimal("69.75")
    assert await repo.apply_payment("A0001", Decimal("500"), at, "sim") == Decimal("0.00")
    await repo.add_hold("A0001", HoldKind.DISPUTE)
    await repo.add_hold("A0001", HoldKind.DISPUTE)
    acct = await repo.get("A0001")
    assert acct is not None
    assert acct.balance == Decimal("0.00")
    assert acct.status is AccountStatus.PAID
    assert acct.holds == frozenset({HoldKind.DISPUTE})


async def test_audit_trail_round_trip(db: AsyncEngine) -> None:
    audit = AuditRepository(db)
    req = AttemptRequest(Channel.VOICE, Mode.AUTOMATED, "A0001/debtor", "+8613800000001",
                         account_id="A0001", intent_id="i1")
    at = datetime(2026, 3, 9, 1, 30, tzinfo=UTC)
    denied = Decision(False, (Denial("CN-HOURS", "09:30 local is outside 08:00-21:00"),),
                      next_allowed_at=datetime(2026, 3, 10, 0, tzinfo=UTC),
                      policy_versions={"cn-agency-code": "2026.1"})
    await audit.append_decision(req, denied, at)
    await audit.append_decision(req, Decision(True, reservation_id="r1"), at.replace(hour=2))
    await audit.append_attempt(attempt_id="t1", request=req, provider="simulated",
                               placed_at=at.replace(hour=2), reservation_id="r1")
    await audit.append_outcome("t1", "ringing", None, at.replace(hour=2))
    await audit.append_outcome("t1", "completed", "no_answer", at.replace(hour=2, minute=1))
    await audit.append_event(HoldPlaced(at=at, account_id="A0001", data={"hold": "dispute"}))
    rows = await audit.decisions_for("A0001", date(2026, 3, 9), "Asia/Shanghai")
    assert [r["allowed"] for r in rows] == [False, True]
    assert rows[0]["denied_by"][0]["rule"] == "CN-HOURS"
    assert rows[0]["policy_versions"] == {"cn-agency-code": "2026.1"}
    assert await audit.decisions_for("A0001", date(2026, 3, 10), "Asia/Shanghai") == []
    log = await audit.attempt_log("A0001")
    assert [(r["id"], r["outcome"]) for r in log] == [("t1", "no_answer")]


def test_example_portfolio_exists() -> None:
    assert (Path(__file__).resolve().parents[2] / "examples" / "portfolio.csv").is_file()


async def test_sqlite_connections_get_wal_and_the_checkpoint_interval(tmp_path: Path) -> None:
    from contact_engine.store.db import SQLITE_WAL_AUTOCHECKPOINT, make_engine

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.sqlite3'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == SQLITE_WAL_AUTOCHECKPOINT
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await engine.dispose()


async def test_the_migrated_schema_has_exactly_the_indexes_of_the_tables_module(db: AsyncEngine) -> None:
    from sqlalchemy import inspect

    from contact_engine.store.tables import metadata

    def indexes(sync_conn: object) -> dict[str, set[str]]:
        insp = inspect(sync_conn)
        # (PostgreSQL also lists the index behind each unique constraint)
        return {t: {ix["name"] for ix in insp.get_indexes(t) if ix.get("name") and not ix.get("duplicates_constraint")}
                for t in metadata.tables}

    async with db.connect() as conn:
        migrated = await conn.run_sync(indexes)
    declared = {name: {ix.name for ix in table.indexes if ix.name} for name, table in metadata.tables.items()}
    assert migrated == declared
    assert "ix_intents_account_id" not in migrated["intents"]
    assert "ix_accounts_status_due_date" in migrated["accounts"] and "ix_accounts_due_date" not in migrated["accounts"]


async def test_a_checkpointer_thread_moves_the_log_into_the_database(tmp_path: Path) -> None:
    import asyncio
    import sqlite3
    import threading

    from contact_engine.store.db import WalCheckpointer, make_engine

    path = tmp_path / "c.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    checkpointer = WalCheckpointer(path, interval_s=0.05)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
            await conn.exec_driver_sql("INSERT INTO t VALUES (?)", [("x" * 200,) for _ in range(5000)])
        checkpointer.start()
        for _ in range(200):
            if checkpointer.last is not None and checkpointer.last[1] > 0:
                break
            await asyncio.sleep(0.02)
        assert checkpointer.last is not None
        busy, log_frames, done = checkpointer.last
        assert busy == 0 and log_frames > 100 and done == log_frames  # every committed page copied
    finally:
        checkpointer.stop()
        await engine.dispose()
    assert not any(t.name.startswith("wal-checkpoint") for t in threading.enumerate())
    with sqlite3.connect(path) as raw:  # the copy is complete: the database alone holds the rows
        assert raw.execute("SELECT count(*) FROM t").fetchone() == (5000,)


async def test_the_checkpointer_never_creates_a_database(tmp_path: Path) -> None:
    import asyncio

    from contact_engine.store.db import WalCheckpointer

    missing = tmp_path / "missing.sqlite3"
    checkpointer = WalCheckpointer(missing, interval_s=0.01).start()
    await asyncio.sleep(0.1)
    checkpointer.stop()
    assert not missing.exists() and checkpointer.last is None


async def test_open_database_runs_a_checkpointer_for_sqlite_only_while_open(tmp_path: Path) -> None:
    import threading

    from contact_engine.config import Settings
    from contact_engine.store.db import open_database

    def running() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("wal-checkpoint")]

    async with open_database(Settings(data_dir=tmp_path / "var")):
        assert running() == ["wal-checkpoint:contact-engine.sqlite3"]
    assert running() == []


@pytest.mark.parametrize("on_loop", [True, False])
async def test_sqlite_statements_run_on_the_loop_thread_only_when_asked(tmp_path: Path, on_loop: bool) -> None:
    import threading

    from contact_engine.store.db import make_engine

    path = tmp_path / "l.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}", sqlite_on_loop=on_loop)
    seen: list[int] = []
    try:
        async with engine.begin() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.create_function("whoami", 0, lambda: seen.append(threading.get_ident()) or 1)
            await conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            await conn.exec_driver_sql("INSERT INTO t SELECT whoami()")
        async with engine.connect() as conn:  # the URL's settings hold: the row is in the file
            assert (await conn.exec_driver_sql("SELECT count(*), sum(x) FROM t")).one() == (1, 1)
            timeout = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    finally:
        await engine.dispose()
    assert (seen == [threading.get_ident()]) is on_loop
    assert len(seen) == 1
    assert timeout == 30_000  # the 30 s busy timeout of make_engine, both ways


async def test_the_demo_runs_sqlite_on_the_loop_and_the_engine_does_not_by_default(tmp_path: Path) -> None:
    from contact_engine.config import Settings
    from contact_engine.demo.run import demo_settings
    from contact_engine.store.db import OnLoopConnection, open_database

    for settings, expected in ((demo_settings(tmp_path / "demo"), True), (Settings(data_dir=tmp_path / "var"), False)):
        async with open_database(settings) as engine, engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            assert isinstance(raw, OnLoopConnection) is expected


async def test_due_accounts_are_found_in_the_covering_index_alone(tmp_path: Path) -> None:
    from sqlalchemy import event

    from contact_engine.config import Settings
    from contact_engine.store.db import open_database
    from contact_engine.store.repositories import AccountRepository

    async with open_database(Settings(data_dir=tmp_path / "var")) as engine:
        seen: list[tuple[str, object]] = []
        event.listen(engine.sync_engine, "before_cursor_execute",
                     lambda _c, _cur, sql, params, _ctx, _many: seen.append((sql, params)))
        ids = await AccountRepository(engine).due_ids([date(2026, 3, 1), date(2026, 2, 1)],
                                                      statuses=[AccountStatus.ACTIVE, AccountStatus.PROMISE])
        assert ids == []
        (sql, params), = seen
        async with engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "COVERING INDEX ix_accounts_status_due_date" in plan
