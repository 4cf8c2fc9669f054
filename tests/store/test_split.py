"""Shard copies of a SQLite database and their rows copied back (store.split)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from contact_engine.store.db import upgrade_sync
from contact_engine.store.split import merge_back, remove, shard_path, split_off

AT = datetime(2026, 3, 2, 9, tzinfo=UTC).isoformat(" ")


def _account(db: sqlite3.Connection, account_id: str) -> None:
    db.execute("INSERT INTO accounts (id, product, principal, balance, currency, due_date, status, holds, "
               "created_at, updated_at) VALUES (?, 'credit_card', 100, 100, 'CNY', ?, 'active', '[]', ?, ?)",
               (account_id, date(2026, 2, 1).isoformat(), AT, AT))
    db.execute("INSERT INTO parties (id, account_id, role, sensitive, designated_by_debtor, represented_by_attorney, "
               "opt_outs, consents) VALUES (?, ?, 'debtor', 0, 0, 0, '[]', '[]')", (f"{account_id}/d", account_id))
    db.execute("INSERT INTO contact_points (party_id, account_id, kind, value, line_type, opt_outs, "
               "employer_provided) VALUES (?, ?, 'phone', ?, 'mobile', '[]', 0)",
               (f"{account_id}/d", account_id, f"+86138{account_id[-5:]:0>8}"))


def _event(db: sqlite3.Connection, kind: str) -> None:
    db.execute("INSERT INTO events (at, kind, actor, data) VALUES (?, ?, 'test', '{}')", (AT, kind))


@pytest.fixture
def main(tmp_path: Path) -> Path:
    path = tmp_path / "contact-engine.sqlite3"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as db:
        _account(db, "A00001")
        _event(db, "before.split")
    return path


def test_a_shard_copy_comes_back_with_its_new_rows_only(main: Path) -> None:
    copy = shard_path(main, 1)
    assert copy == main.with_name("contact-engine.shard1.sqlite3")
    base = split_off(main, copy)
    assert base["accounts"] == 1 and base["events"] == 1 and base["intents"] == 0
    with sqlite3.connect(copy) as db:  # the shard's own work
        db.execute("INSERT INTO campaign_versions (campaign_id, version, definition, source_yaml, created_at, "
                   "created_by) VALUES ('c1', 3, '{}', '', ?, 'test')", (AT,))
        _account(db, "B00002")
        _account(db, "B00003")
        _event(db, "shard.one")
        _event(db, "shard.two")
    with sqlite3.connect(main) as db:  # the first shard writes to the main file meanwhile
        _account(db, "A00004")
        _event(db, "main.after")
    assert merge_back(main, copy, base) == 1 + 2 * 3 + 2
    with sqlite3.connect(main) as db:
        assert [r[0] for r in db.execute("SELECT id FROM accounts ORDER BY id")] == [
            "A00001", "A00004", "B00002", "B00003"]
        assert db.execute("SELECT count(*), count(DISTINCT id) FROM contact_points").fetchone() == (4, 4)
        # events keep their order within each source; ids are the main database's own
        assert [r[0] for r in db.execute("SELECT kind FROM events ORDER BY id")] == [
            "before.split", "main.after", "shard.one", "shard.two"]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        # an integer in a composite key is data, not a rowid to number anew
        assert db.execute("SELECT campaign_id, version FROM campaign_versions").fetchall() == [("c1", 3)]
    remove(copy)
    assert not list(main.parent.glob("*.shard1*"))


def test_a_failed_merge_writes_nothing(main: Path) -> None:
    copy = shard_path(main, 1)
    base = split_off(main, copy)
    with sqlite3.connect(copy) as db:
        _account(db, "B00002")
        _account(db, "A00001x")
    with sqlite3.connect(main) as db:  # the same party id in both: the merge must fail whole
        _account(db, "A00001x")
    with pytest.raises(sqlite3.IntegrityError):
        merge_back(main, copy, base)
    with sqlite3.connect(main) as db:
        assert [r[0] for r in db.execute("SELECT id FROM accounts ORDER BY id")] == ["A00001", "A00001x"]
        assert db.execute("SELECT count(*) FROM contact_points").fetchone() == (2,)
