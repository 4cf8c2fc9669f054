"""Driver-level bulk statements store exactly what SQLAlchemy's own executemany stores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.store.bulk import BulkStatement
from contact_engine.store.tables import attempt_outcomes, decisions, intents

AT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def _decision(i: int) -> dict:
    return {"id": f"d{i}", "at": AT, "account_id": "A1", "party_id": "A1/debtor", "intent_id": None if i % 2 else f"i{i}",
            "channel": "voice", "mode": "automated", "contact_point": "+8613800000000", "allowed": bool(i % 2),
            "denied_by": [] if i % 2 else [{"rule": "CBA-HOURS", "reason": "夜间 22:00-08:00", "permanent": False,
                                             "until": AT.isoformat()}],
            "next_allowed_at": None if i % 2 else AT, "policy_versions": {"cn-cba": 3}, "reservation_id": None}


async def test_bulk_insert_stores_what_core_insert_stores(db: AsyncEngine) -> None:
    columns = list(_decision(0))
    bulk = BulkStatement.insert(decisions, columns)
    async with db.begin() as conn:
        await conn.execute(insert(decisions), [_decision(i) for i in range(4)])
        await bulk.run(conn, [{**_decision(i), "id": f"b{i}"} for i in range(4)])
        await bulk.run(conn, [])  # nothing, no error
    async with db.connect() as conn:
        rows = {r["id"]: dict(r) for r in (await conn.execute(select(decisions))).mappings()}
    assert len(rows) == 8
    for i in range(4):
        core, ours = rows[f"d{i}"], rows[f"b{i}"]
        assert {k: v for k, v in ours.items() if k != "id"} == {k: v for k, v in core.items() if k != "id"}
    assert rows["b0"]["denied_by"][0]["reason"] == "夜间 22:00-08:00"
    assert rows["b1"]["allowed"] is True and rows["b0"]["allowed"] is False
    assert rows["b0"]["next_allowed_at"].replace(tzinfo=UTC) == AT


async def test_bulk_insert_leaves_autoincrement_ids_to_the_database(db: AsyncEngine) -> None:
    bulk = BulkStatement.insert(attempt_outcomes, ["attempt_id", "at", "status", "outcome", "detail"])
    async with db.begin() as conn:
        await bulk.run(conn, [{"attempt_id": f"a{i}", "at": AT, "status": "completed", "outcome": "no_answer",
                               "detail": {"n": i}} for i in range(3)])
    async with db.connect() as conn:
        rows = (await conn.execute(select(attempt_outcomes).order_by(attempt_outcomes.c.id))).mappings().all()
    assert [r["attempt_id"] for r in rows] == ["a0", "a1", "a2"]
    assert len({r["id"] for r in rows}) == 3
    assert [r["detail"] for r in rows] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert rows[0]["duration_s"] is None


async def test_bulk_update_with_an_expression(db: AsyncEngine) -> None:
    row = {"id": "i1", "campaign_id": "c", "step_id": "s", "account_id": "A1", "party_id": "A1/debtor",
           "channel": "sms", "mode": "automated", "contact_point": "+8613800000000", "script": "x",
           "language": "zh-CN", "local_day": None, "not_before": AT, "status": "planned", "tries": 0,
           "created_at": AT, "updated_at": AT}
    bump = BulkStatement(
        update(intents).where(intents.c.id == bindparam("k"))
        .values(status=bindparam("s"), tries=intents.c.tries + literal_column("1")),
        {"k": intents.c.id.type, "s": intents.c.status.type})
    async with db.begin() as conn:
        await conn.execute(insert(intents), [row, {**row, "id": "i2"}])
        await bump.run(conn, [{"k": "i1", "s": "sent"}, {"k": "i2", "s": "deferred"}])
        await bump.run(conn, [{"k": "i2", "s": "sent"}])
    async with db.connect() as conn:
        got = {r.id: (r.status, r.tries) for r in await conn.execute(select(intents.c.id, intents.c.status, intents.c.tries))}
    assert got == {"i1": ("sent", 1), "i2": ("sent", 2)}


async def test_a_bind_without_a_type_is_refused(db: AsyncEngine) -> None:
    # ``tries + 1`` compiles the 1 as a bind of its own: the statement names it, the types do not
    bad = BulkStatement(update(intents).where(intents.c.id == bindparam("k")).values(tries=intents.c.tries + 1),
                        {"k": intents.c.id.type})
    async with db.begin() as conn:
        with pytest.raises(ValueError, match="tries_1"):
            await bad.run(conn, [{"k": "i1"}])


async def test_repeated_values_reuse_their_processing_only_when_it_is_exact(db: AsyncEngine) -> None:
    """Within one run processed values are reused (bulk._memo_key): equal instants in two
    zones, dicts in another order and True beside 1 must still store what Core stores."""
    from datetime import timedelta, timezone

    from contact_engine.store.bulk import _memo_key

    beijing = AT.astimezone(timezone(timedelta(hours=8)))
    assert beijing == AT and _memo_key(beijing) != _memo_key(AT)
    assert _memo_key(True) != _memo_key(1)
    assert _memo_key({"a": "1", "b": "2"}) != _memo_key({"b": "2", "a": "1"})
    assert _memo_key({"a": 1}) is None and _memo_key([{"rule": "x"}]) is None
    variants = [(AT, {"cn-cba": "3", "us-regf": "2"}), (beijing, {"us-regf": "2", "cn-cba": "3"}),
                (AT, {"cn-cba": "3", "us-regf": "2"}), (beijing, {"cn-cba": "3", "us-regf": "2"})]
    rows = [{**_decision(i), "at": at, "next_allowed_at": at, "policy_versions": pv}
            for i, (at, pv) in enumerate(variants)]
    bulk = BulkStatement.insert(decisions, list(rows[0]))
    async with db.begin() as conn:
        await conn.execute(insert(decisions), rows)
        await bulk.run(conn, [{**r, "id": f"b{r['id']}"} for r in rows])
    async with db.connect() as conn:
        raw = {r[0]: tuple(r[1:]) for r in await conn.exec_driver_sql(
            "SELECT id, at, next_allowed_at, policy_versions, allowed FROM decisions")}
    assert len(raw) == 8
    for r in rows:
        assert raw[f"b{r['id']}"] == raw[r["id"]]


def test_the_memo_processes_each_distinct_value_once_and_follows_identity_exactly() -> None:
    from datetime import timedelta, timezone

    from contact_engine.store.bulk import _memoized

    calls: list[object] = []

    def proc(v: object) -> str:
        calls.append(v)
        return repr(v)

    memo = _memoized(proc)
    beijing = AT.astimezone(timezone(timedelta(hours=8)))
    same = [AT, AT, AT, beijing, beijing, AT]
    assert [memo(v) for v in same] == [repr(v) for v in same]
    assert calls == [AT, beijing]  # the same object again: no call; equal instant, other zone: its own
    shared = {"cn-cba": "3"}
    assert memo(shared) == memo(shared) == repr(shared) and calls[-1] is shared and len(calls) == 3
    nested = [{"rule": "x"}]  # no exact key: processed every time, even the same object
    memo(nested)
    memo(nested)
    assert calls[-2:] == [nested, nested]


async def test_statements_bound_before_the_transaction_store_what_run_stores(db: AsyncEngine) -> None:
    from contact_engine.store.bulk import run_all

    bulk = BulkStatement.insert(decisions, list(_decision(0)))
    assert bulk.bind(db.dialect, []) is None
    bound = [bulk.bind(db.dialect, [{**_decision(i), "id": f"b{i}"} for i in range(3)]), None,
             bulk.bind(db.dialect, [{**_decision(3), "id": "b3"}])]
    async with db.connect() as conn:  # binding wrote nothing
        assert (await conn.execute(select(decisions.c.id))).all() == []
    async with db.begin() as conn:
        await bulk.run(conn, [_decision(i) for i in range(4)])
        await run_all(conn, bound)
    async with db.connect() as conn:
        rows = {r["id"]: dict(r) for r in (await conn.execute(select(decisions))).mappings()}
    assert sorted(rows) == ["b0", "b1", "b2", "b3", "d0", "d1", "d2", "d3"]
    for i in range(4):
        assert {k: v for k, v in rows[f"b{i}"].items() if k != "id"} == {k: v for k, v in rows[f"d{i}"].items() if k != "id"}
