"""Repositories over the SQL tables: accounts (with parties and contact points) and the
append-only audit trail. Rows map to the frozen dataclasses of ``contact_engine.domain``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import (
    JSON,
    Text,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contact_engine.domain import (
    Account,
    AccountStatus,
    Address,
    AttemptRequest,
    Channel,
    Consent,
    ConsentKind,
    ContactKind,
    ContactPoint,
    Decision,
    HoldKind,
    Intent,
    LineType,
    Party,
    Product,
    Role,
)
from contact_engine.domain.events import Event
from contact_engine.store.bulk import BoundStatement, BulkStatement, run_all
from contact_engine.store.ids import sortable_id
from contact_engine.store.tables import (
    accounts,
    attempt_outcomes,
    attempts,
    contact_points,
    decisions,
    events,
    intents,
    parties,
    payments,
)

_DECISION_COLUMNS = ("id", "at", "account_id", "party_id", "intent_id", "channel", "mode", "contact_point",
                     "allowed", "denied_by", "next_allowed_at", "policy_versions", "reservation_id")
_INSERT_DECISIONS = BulkStatement.insert(decisions, _DECISION_COLUMNS)
_INSERT_ATTEMPTS = BulkStatement.insert(attempts, [c.name for c in attempts.c])
_INSERT_OUTCOMES = BulkStatement.insert(attempt_outcomes, ["attempt_id", "at", "status", "outcome", "provider_ref",
                                                           "duration_s", "detail", "received_at"])
_INSERT_INTENTS = BulkStatement.insert(intents, [c.name for c in intents.c if c.name != "last_rule"])
_SET_INTENT_STATUS = BulkStatement(
    update(intents).where(intents.c.id == bindparam("k"))
    .values(status=bindparam("s"), last_rule=bindparam("r"), updated_at=bindparam("u"), tries=intents.c.tries + literal_column("1")),
    {"k": intents.c.id.type, "s": intents.c.status.type, "r": intents.c.last_rule.type,
     "u": intents.c.updated_at.type})

#: Terminal intent states (an intent in any other state still waits somewhere).
INTENT_DONE = frozenset({"sent", "dropped", "failed", "gone", "stopped"})


@asynccontextmanager
async def _within(engine: AsyncEngine, conn: AsyncConnection | None) -> AsyncIterator[AsyncConnection]:
    """The caller's transaction when given one, else a new one (committed on exit)."""
    if conn is not None:
        yield conn
        return
    async with engine.begin() as own:
        yield own


_ON_CONFLICT: dict[tuple[str, str, bool], BulkStatement] = {}


def _on_conflict(for_dialect: Dialect, table: Any, index_elements: list[str], *,
                 update: bool) -> BulkStatement:
    """``INSERT ... ON CONFLICT`` for ``for_dialect``, for rows of every column but
    an autoincrement id: ``update`` replaces the stored row (``created_at`` is kept),
    otherwise a stored row is left as it is (``DO NOTHING``)."""
    dialect = for_dialect.name
    found = _ON_CONFLICT.get((dialect, table.name, update))
    if found is None:
        mod = postgresql if dialect == "postgresql" else sqlite
        stmt = mod.insert(table)
        if update:
            cols = {c.name: stmt.excluded[c.name] for c in table.columns
                    if c.name not in index_elements and not c.primary_key and c.name != "created_at"}
            stmt = stmt.on_conflict_do_update(index_elements=index_elements, set_=cols)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=index_elements)
        written = [c for c in table.columns if not (c.primary_key and c.autoincrement is True)]
        found = BulkStatement(stmt, {c.name: c.type for c in written}, [c.name for c in written])
        _ON_CONFLICT[(dialect, table.name, update)] = found
    return found


def _consents_to_json(consents: Sequence[Consent]) -> list[dict[str, Any]]:
    return [
        {"kind": c.kind.value, "given_at": c.given_at.isoformat(), "scope": c.scope}
        for c in consents
    ]


def _consents_from_json(raw: Sequence[Mapping[str, Any]]) -> tuple[Consent, ...]:
    return tuple(
        Consent(ConsentKind(c["kind"]), datetime.fromisoformat(c["given_at"]), c.get("scope"))
        for c in raw
    )


def account_rows(accts: Sequence[Account], now: datetime) -> tuple[list[dict], list[dict], list[dict]]:
    """Row dicts for the accounts, parties and contact_points tables."""
    a_rows: list[dict] = []
    p_rows: list[dict] = []
    c_rows: list[dict] = []
    for a in accts:
        a_rows.append({
            "id": a.id, "product": a.product.value, "principal": a.principal,
            "balance": a.balance, "currency": a.currency, "due_date": a.due_date,
            "status": a.status.value, "holds": sorted(h.value for h in a.holds),
            "country": a.address.country, "region": a.address.region,
            "postal_code": a.address.postal_code, "city": a.address.city,
            "timezone": a.address.timezone, "risk": a.risk, "language": a.language,
            "created_at": now, "updated_at": now,
        })
        for p in a.parties:
            p_rows.append({
                "id": p.id, "account_id": a.id, "role": p.role.value, "name": p.name,
                "relationship": p.relationship, "sensitive": p.sensitive,
                "designated_by_debtor": p.designated_by_debtor,
                "represented_by_attorney": p.represented_by_attorney,
                "language": p.language, "opt_outs": sorted(c.value for c in p.opt_outs),
                "consents": _consents_to_json(p.consents),
            })
            for cp in p.contact_points:
                c_rows.append({
                    "party_id": p.id, "account_id": a.id, "kind": cp.kind.value,
                    "value": cp.value, "line_type": cp.line_type.value,
                    "timezone": cp.timezone, "opt_outs": sorted(c.value for c in cp.opt_outs),
                    "provenance": cp.provenance, "employer_provided": cp.employer_provided,
                })
    return a_rows, p_rows, c_rows


_EMPTY: frozenset[Any] = frozenset()
_CHANNELS = {c.value: c for c in Channel}
_KINDS = {k.value: k for k in ContactKind}
_LINES = {t.value: t for t in LineType}
_ROLES = {r.value: r for r in Role}
_PRODUCTS = {p.value: p for p in Product}
_STATUSES = {s.value: s for s in AccountStatus}
_HOLDS = {h.value: h for h in HoldKind}


def _json(raw: Any) -> Any:
    """A JSON column read as text (``_load`` selects them so): most are empty lists."""
    if raw is None or raw == "[]":
        return ()
    return orjson.loads(raw) if isinstance(raw, str) else raw


def _json_columns(table: Any) -> list[Any]:
    """The table's columns, JSON ones read as text (parsed by ``_json``, empty lists fast)."""
    return [type_coerce(c, Text).label(c.name) if isinstance(c.type, JSON) else c for c in table.c]


def _account_from_rows(a: Row, party_rows: Sequence[Row], cp_rows: Sequence[Row]) -> Account:
    by_party: dict[str, list[ContactPoint]] = defaultdict(list)
    for c in cp_rows:
        opt = _json(c.opt_outs)
        by_party[c.party_id].append(ContactPoint(
            party_id=c.party_id, kind=_KINDS[c.kind], value=c.value,
            line_type=_LINES[c.line_type], timezone=c.timezone,
            opt_outs=frozenset(_CHANNELS[x] for x in opt) if opt else _EMPTY, provenance=c.provenance,
            employer_provided=c.employer_provided,
        ))
    party_objs = []
    for p in party_rows:
        opt = _json(p.opt_outs)
        consents = _json(p.consents)
        party_objs.append(Party(
            id=p.id, role=_ROLES[p.role], name=p.name, relationship=p.relationship,
            sensitive=p.sensitive, designated_by_debtor=p.designated_by_debtor,
            represented_by_attorney=p.represented_by_attorney, language=p.language,
            opt_outs=frozenset(_CHANNELS[x] for x in opt) if opt else _EMPTY,
            consents=_consents_from_json(consents) if consents else (),
            contact_points=tuple(by_party.get(p.id, ())),
        ))
    holds = _json(a.holds)
    return Account(
        id=a.id, external_id=a.id, due_date=a.due_date, product=_PRODUCTS[a.product],
        principal=Decimal(a.principal), balance=Decimal(a.balance), currency=a.currency,
        status=_STATUSES[a.status], holds=frozenset(_HOLDS[h] for h in holds) if holds else _EMPTY,
        address=Address(country=a.country, region=a.region, postal_code=a.postal_code,
                        timezone=a.timezone, city=a.city),
        risk=a.risk, language=a.language, parties=tuple(party_objs),
    )


def _decision_row(decision_id: str, request: AttemptRequest, decision: Decision, at: datetime) -> dict[str, Any]:
    return {
        "id": decision_id, "at": at, "account_id": request.account_id,
        "party_id": request.party_id, "intent_id": request.intent_id,
        "channel": request.channel.value, "mode": request.mode.value,
        "contact_point": request.contact_point, "allowed": decision.allowed,
        "denied_by": [{"rule": d.rule, "reason": d.reason, "permanent": d.permanent,
                       "until": d.until.isoformat() if d.until else None} for d in decision.denied_by],
        "next_allowed_at": decision.next_allowed_at,
        "policy_versions": dict(decision.policy_versions),
        "reservation_id": decision.reservation_id,
    }


class AccountRepository:
    """Accounts with their parties and contact points."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(accounts))).scalar_one())

    async def get(self, account_id: str) -> Account | None:
        async with self._engine.connect() as conn:
            found = await self._load(conn, [account_id])
        return found[0] if found else None

    async def iter_accounts(self, batch_size: int = 1000) -> AsyncIterator[Account]:
        """Stream every account in id order with keyset pagination (bounded memory)."""
        after: str | None = None
        while True:
            async with self._engine.connect() as conn:
                q = select(accounts.c.id).order_by(accounts.c.id).limit(batch_size)
                if after is not None:
                    q = q.where(accounts.c.id > after)
                ids = [r[0] for r in await conn.execute(q)]
                if not ids:
                    return
                batch = await self._load(conn, ids)
            for acct in batch:
                yield acct
            after = ids[-1]

    async def get_many(self, ids: Sequence[str]) -> dict[str, Account]:
        """The accounts among ``ids`` that exist, by id (one round trip per 900 ids)."""
        out: dict[str, Account] = {}
        unique = list(dict.fromkeys(ids))
        async with self._engine.connect() as conn:
            for start in range(0, len(unique), 900):
                for acct in await self._load(conn, unique[start:start + 900]):
                    out[acct.id] = acct
        return out

    async def due_ids(self, due_dates: Sequence[date], *,
                      statuses: Sequence[AccountStatus] | None = None) -> list[str]:
        """Ids of the accounts whose due date is one of ``due_dates``, in id order."""
        if not due_dates:
            return []
        async with self._engine.connect() as conn:
            q = (select(accounts.c.id).where(accounts.c.due_date.in_(sorted(set(due_dates))))
                 .order_by(accounts.c.id))
            if statuses is not None:
                q = q.where(accounts.c.status.in_([s.value for s in statuses]))
            return [r[0] for r in await conn.execute(q)]

    async def apply_effects(self, *, statuses: Mapping[str, AccountStatus] | None = None,
                            holds: Mapping[str, set[HoldKind]] | None = None,
                            payments_due: Sequence[tuple[str, Decimal, datetime, str]] = (),
                            only_if_status: Mapping[str, tuple[AccountStatus, AccountStatus]] | None = None,
                            conn: AsyncConnection | None = None) -> Decimal:
        """Apply many account changes in one transaction; returns the total amount collected.

        ``statuses``: new status by account; ``only_if_status``: (from, to) changes that
        apply only while the account is still in ``from`` (a broken promise);
        ``holds``: holds to add; ``payments_due``: (account, amount, at, source), each
        lowering the balance (never below zero; at zero the account is paid, a part
        payment ends a promise). ``conn``: run inside the caller's transaction.
        """
        collected = Decimal("0")
        now = datetime.now(UTC)
        async with _within(self._engine, conn) as conn:
            if statuses:
                rows = [{"k": k, "s": v.value, "u": now} for k, v in statuses.items()]
                await conn.execute(update(accounts).where(accounts.c.id == bindparam("k"))
                                   .values(status=bindparam("s"), updated_at=bindparam("u")), rows)
            if only_if_status:
                for acct_id, (want, new) in only_if_status.items():
                    await conn.execute(update(accounts).where(accounts.c.id == acct_id,
                                                              accounts.c.status == want.value)
                                       .values(status=new.value, updated_at=now))
            if holds:
                ids = list(holds)
                current = {r.id: r.holds for r in await conn.execute(
                    select(accounts.c.id, accounts.c.holds).where(accounts.c.id.in_(ids)))}
                hold_rows: list[dict[str, Any]] = [{"k": k, "h": sorted(set(current[k]) | {h.value for h in v}), "u": now}
                        for k, v in holds.items() if k in current]
                if hold_rows:
                    await conn.execute(update(accounts).where(accounts.c.id == bindparam("k"))
                                       .values(holds=bindparam("h"), updated_at=bindparam("u")), hold_rows)
            if payments_due:
                ids = list({p[0] for p in payments_due})
                state = {r.id: [Decimal(r.balance), r.currency, r.status] for r in await conn.execute(
                    select(accounts.c.id, accounts.c.balance, accounts.c.currency, accounts.c.status)
                    .where(accounts.c.id.in_(ids)))}
                pay_rows = []
                for acct_id, amount, at, source in payments_due:
                    if acct_id not in state:
                        continue
                    balance, currency, _status = state[acct_id]
                    paid = min(Decimal(amount), balance)
                    if paid <= 0:
                        continue
                    state[acct_id][0] = balance - paid
                    collected += paid
                    pay_rows.append({"account_id": acct_id, "amount": paid, "currency": currency,
                                     "at": at, "source": source})
                if pay_rows:
                    await conn.execute(insert(payments), pay_rows)
                    bal_rows: list[dict[str, Any]] = []
                    for acct_id in {r["account_id"] for r in pay_rows}:
                        balance, _c, status = state[acct_id]
                        new_status = (AccountStatus.PAID.value if balance <= 0 else
                                      AccountStatus.ACTIVE.value if status == AccountStatus.PROMISE.value
                                      else status)
                        bal_rows.append({"k": acct_id, "b": balance, "s": new_status, "u": now})
                    await conn.execute(update(accounts).where(accounts.c.id == bindparam("k"))
                                       .values(balance=bindparam("b"), status=bindparam("s"),
                                               updated_at=bindparam("u")), bal_rows)
        return collected

    async def _load(self, conn: AsyncConnection, ids: Sequence[str]) -> list[Account]:
        a_rows = (await conn.execute(
            select(*_json_columns(accounts)).where(accounts.c.id.in_(ids)).order_by(accounts.c.id))).all()
        p_rows = (await conn.execute(
            select(*_json_columns(parties)).where(parties.c.account_id.in_(ids)).order_by(parties.c.id))).all()
        c_rows = (await conn.execute(
            select(*_json_columns(contact_points)).where(contact_points.c.account_id.in_(ids))
            .order_by(contact_points.c.id))).all()
        p_by: dict[str, list[Row]] = defaultdict(list)
        for p in p_rows:
            p_by[p.account_id].append(p)
        c_by: dict[str, list[Row]] = defaultdict(list)
        for c in c_rows:
            c_by[c.account_id].append(c)
        return [_account_from_rows(a, p_by[a.id], c_by[a.id]) for a in a_rows]

    async def upsert_many(self, accts: Sequence[Account], *, conn: AsyncConnection | None = None,
                          batch_size: int = 2000) -> None:
        """Insert or update accounts by id, with their parties and contact points."""
        if conn is None:
            async with self._engine.begin() as own:
                await self.upsert_many(accts, conn=own, batch_size=batch_size)
            return
        now = datetime.now(UTC)
        for start in range(0, len(accts), batch_size):
            a_rows, p_rows, c_rows = account_rows(accts[start:start + batch_size], now)
            await _on_conflict(conn.dialect, accounts, ["id"], update=True).run(conn, a_rows)
            await _on_conflict(conn.dialect, parties, ["id"], update=True).run(conn, p_rows)
            await _on_conflict(conn.dialect, contact_points, ["party_id", "kind", "value"],
                               update=True).run(conn, c_rows)

    async def set_status(self, account_id: str, status: AccountStatus) -> None:
        await self.apply_effects(statuses={account_id: status})

    async def add_hold(self, account_id: str, hold: HoldKind) -> None:
        await self.apply_effects(holds={account_id: {hold}})

    async def apply_payment(self, account_id: str, amount: Decimal, at: datetime,
                            source: str) -> Decimal:
        """Record a payment and lower the balance (never below zero); return the new balance."""
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(accounts.c.balance, accounts.c.currency)
                                      .where(accounts.c.id == account_id))).one()
            paid = min(Decimal(amount), Decimal(row.balance))
            new_balance = Decimal(row.balance) - paid
            await conn.execute(insert(payments).values(
                account_id=account_id, amount=paid, currency=row.currency, at=at, source=source))
            values: dict[str, Any] = {"balance": new_balance, "updated_at": at}
            if new_balance == 0:
                values["status"] = AccountStatus.PAID.value
            await conn.execute(update(accounts).where(accounts.c.id == account_id).values(**values))
            return new_balance

    async def delete_all(self) -> None:
        """Remove every account (used by demos on a fresh data folder only)."""
        async with self._engine.begin() as conn:
            for t in (contact_points, parties, accounts):
                await conn.execute(delete(t))


class IntentRepository:
    """Planned intents and where each one ended (``INTENT_DONE``) or waits."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_many(self, planned: Sequence[Intent], at: datetime) -> set[str]:
        """Store planned intents; an intent stored before is left as it is. Returns the new ids."""
        if not planned:
            return set()
        rows = [{"id": i.id, "campaign_id": i.campaign_id, "step_id": i.step_id,
                 "account_id": i.account_id, "party_id": i.party_id, "channel": i.channel.value,
                 "mode": i.mode.value, "contact_point": i.contact_point, "script": i.script,
                 "language": i.language, "local_day": i.local_day, "not_before": i.not_before,
                 "status": "planned", "tries": 0, "created_at": at, "updated_at": at} for i in planned]
        async with self._engine.begin() as conn:
            ids = [r["id"] for r in rows]
            known: set[str] = set()
            for start in range(0, len(ids), 900):
                known |= {r[0] for r in await conn.execute(
                    select(intents.c.id).where(intents.c.id.in_(ids[start:start + 900])))}
            fresh = [r for r in rows if r["id"] not in known]
            await _INSERT_INTENTS.run(conn, fresh)
        return {str(r["id"]) for r in fresh}

    def bind_status_many(self, changes: Sequence[tuple[str, str, str | None]],
                         at: datetime) -> BoundStatement | None:
        """(intent id, status, last rule) for many intents: the statement bound, to run in
        the caller's transaction (``store.bulk.run_all``); None for no changes."""
        return _SET_INTENT_STATUS.bind(self._engine.dialect,
                                       [{"k": k, "s": s, "r": r, "u": at} for k, s, r in changes])

    async def counts(self) -> dict[str, int]:
        """How many intents are in each status."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(intents.c.status, func.count()).group_by(intents.c.status))
            return {r[0]: int(r[1]) for r in rows}

    async def open_ids(self) -> list[str]:
        """Intents not in a terminal state."""
        async with self._engine.connect() as conn:
            q = select(intents.c.id).where(intents.c.status.not_in(sorted(INTENT_DONE)))
            return [r[0] for r in await conn.execute(q)]


class AuditRepository:
    """The append-only audit trail: decisions, attempts, outcomes and events."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def begin(self) -> Any:
        """A transaction on the audit's database, for writes that commit together."""
        return self._engine.begin()

    async def append_event(self, event: Event) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(events).values(
                at=event.at, kind=event.kind, actor=event.actor,
                account_id=event.account_id, data=dict(event.data)))

    async def append_decision(self, request: AttemptRequest, decision: Decision,
                              at: datetime, decision_id: str | None = None) -> str:
        decision_id = decision_id or sortable_id(at)
        async with self._engine.begin() as conn:
            await conn.execute(insert(decisions).values(**_decision_row(decision_id, request, decision, at)))
        return decision_id

    async def append_attempt(self, *, attempt_id: str, request: AttemptRequest, provider: str,
                             placed_at: datetime, decision_id: str | None = None,
                             reservation_id: str | None = None) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(attempts).values(
                id=attempt_id, intent_id=request.intent_id, decision_id=decision_id,
                reservation_id=reservation_id, account_id=request.account_id,
                party_id=request.party_id, channel=request.channel.value,
                mode=request.mode.value, contact_point=request.contact_point,
                provider=provider, placed_at=placed_at))

    async def append_outcome(self, attempt_id: str, status: str, outcome: str | None,
                             at: datetime, provider_ref: str | None = None,
                             duration_s: float | None = None,
                             detail: Mapping[str, Any] | None = None) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(insert(attempt_outcomes).values(
                attempt_id=attempt_id, at=at, status=status, outcome=outcome,
                provider_ref=provider_ref, duration_s=duration_s, detail=dict(detail or {})))

    async def append_batch(self, *, decided: Sequence[tuple[str, AttemptRequest, Decision, datetime]] = (),
                           placed: Sequence[dict[str, Any]] = (),
                           outcomes: Sequence[dict[str, Any]] = (),
                           recovered: Sequence[dict[str, Any]] = (),
                           conn: AsyncConnection | None = None) -> None:
        """Append many decisions (id, request, decision, at), attempts and outcomes in one
        transaction (the caller's when ``conn`` is given).

        ``placed`` rows carry the ``attempts`` columns; ``outcomes`` rows the
        ``attempt_outcomes`` columns. ``recovered``: attempt rows of sends found at the
        provider after a worker stopped; two workers may find the same one, so a row
        already stored is left as it is.
        """
        if not (decided or placed or outcomes or recovered):
            return
        bound = self.bind_batch(decided=decided, placed=placed, outcomes=outcomes, recovered=recovered)
        async with _within(self._engine, conn) as conn:
            await run_all(conn, bound)

    def bind_batch(self, *, decided: Sequence[tuple[str, AttemptRequest, Decision, datetime]] = (),
                   placed: Sequence[dict[str, Any]] = (), outcomes: Sequence[dict[str, Any]] = (),
                   recovered: Sequence[dict[str, Any]] = ()) -> list[BoundStatement | None]:
        """``append_batch``'s statements, bound (to run with ``run_all`` in the caller's
        transaction, after binding everything it writes)."""
        dialect = self._engine.dialect
        return [
            _on_conflict(dialect, attempts, ["id"], update=False).bind(dialect, recovered),
            _INSERT_DECISIONS.bind(dialect, [_decision_row(i, r, d, at) for i, r, d, at in decided]),
            _INSERT_ATTEMPTS.bind(dialect, placed),
            _INSERT_OUTCOMES.bind(dialect, [{"provider_ref": None, "duration_s": None, "detail": {},
                                             "received_at": o.get("at"), **o} for o in outcomes]),
        ]

    async def attempts_by_id(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored attempts among ``ids``: what a report needs of each (id, account,
        party, channel, mode, reservation)."""
        out: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        cols = [attempts.c.id, attempts.c.account_id, attempts.c.party_id, attempts.c.channel, attempts.c.mode,
                attempts.c.reservation_id]
        async with self._engine.connect() as conn:
            for start in range(0, len(unique), 900):
                q = select(*cols).where(attempts.c.id.in_(unique[start:start + 900]))
                for r in await conn.execute(q):
                    out[r[0]] = {"id": r[0], "account_id": r[1], "party_id": r[2], "channel": r[3], "mode": r[4],
                                 "reservation_id": r[5]}
        return out

    async def decisions_for(self, account_id: str, day: date,
                            tz: str = "UTC") -> list[dict[str, Any]]:
        """Every stored decision on ``account_id`` during the local calendar ``day``."""
        zone = ZoneInfo(tz)
        start = datetime.combine(day, time(0), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                select(decisions).where(decisions.c.account_id == account_id,
                                        decisions.c.at >= start, decisions.c.at < end)
                .order_by(decisions.c.at))).mappings().all()
        return [dict(r) for r in rows]

    async def attempt_log(self, account_id: str | None = None) -> list[dict[str, Any]]:
        """Attempts with their latest final outcome, oldest first."""
        async with self._engine.connect() as conn:
            q = select(attempts).order_by(attempts.c.placed_at)
            if account_id is not None:
                q = q.where(attempts.c.account_id == account_id)
            rows = [dict(r) for r in (await conn.execute(q)).mappings().all()]
            oq = select(attempt_outcomes.c.attempt_id, attempt_outcomes.c.outcome,
                        attempt_outcomes.c.at, attempt_outcomes.c.received_at).where(attempt_outcomes.c.outcome.is_not(None)
                                                     ).order_by(attempt_outcomes.c.id)
            final = {r.attempt_id: (r.outcome, max(r.at, r.received_at or r.at)) for r in await conn.execute(oq)}
        for r in rows:
            r["outcome"], r["outcome_at"] = final.get(r["id"], (None, None))
        return rows
