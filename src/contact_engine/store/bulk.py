"""Many rows in one driver-level ``executemany``: the audit trail's hot writes.

SQLAlchemy's ``conn.execute(stmt, rows)`` builds each row's parameters through the
compiled statement (``construct_params``, one dict per row, bind processors looked up per
value); for the hundreds of thousands of audit rows a campaign writes, that was a fifth of
the engine's time. Here a statement is compiled once per dialect, its bind processors
(datetimes for SQLite, JSON for both backends ...) are taken once from the column types, and
the rows go to the driver as tuples through ``exec_driver_sql``: the same SQL and the same
stored values, without the per-row machinery.

Within one ``run`` a processor's result is reused for a repeated value (a batch's rows
share their timestamp and policy versions; most decisions deny nothing): see ``_memo_key``.

Statements are SQLAlchemy Core statements whose parameters are all named binds (an
``insert(table)`` compiled for ``columns``, an ``update`` with ``bindparam``), so the one
statement serves SQLite (qmark) and PostgreSQL through asyncpg (``$n``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.expression import Executable
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any] | None

_SCALARS = frozenset({str, int, float, bool, Decimal, date, type(None)})


def _memo_key(value: Any) -> Hashable | None:
    """A key under which a processed ``value`` may be reused, or None (process it anew).

    Equal keys must process to equal results, so a key is exact about what processors see:
    the value's type (``True == 1``), a datetime's UTC offset (equal instants in two zones
    format differently), a dict's order and its values' types (only str values).
    """
    t = type(value)
    if t in _SCALARS:
        return (t, value)
    if t is datetime:
        return (t, value, value.utcoffset())
    if t is dict and all(type(v) is str for v in value.values()):
        return (t, tuple(value.items()))
    if t is list and not value:
        return (t,)
    return None


def _memoized(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``proc`` with its results reused for repeated values (one statement run).

    The very object processed last is answered first, without a key: a batch's rows
    mostly share one timestamp object (the run's rows are all built before it starts,
    so a shared object cannot change between them).
    """
    done: dict[Hashable, Any] = {}
    last: list[Any] = [_UNSET, None]  # the last value processed, its result

    def process(value: Any) -> Any:
        if value is last[0]:
            return last[1]
        key = _memo_key(value)
        if key is None:
            return proc(value)
        try:
            out = done[key]
        except KeyError:
            done[key] = out = proc(value)
        last[0], last[1] = value, out
        return out

    return process


_UNSET = object()


#: column types whose bind processors are worth memoizing (Python formatting or JSON
#: encoding of values that repeat within a batch); others are cheap or run in C
_MEMOIZED = (sqltypes.DateTime, sqltypes.Date, sqltypes.JSON)


class BulkStatement:
    """One statement, compiled per dialect, executed for many rows of named values."""

    def __init__(self, stmt: Executable, types: Mapping[str, TypeEngine[Any]],
                 column_keys: Sequence[str] | None = None) -> None:
        """``types``: the SQL type of each bind name (its bind processor is applied)."""
        self._stmt = stmt
        self._types = dict(types)
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[str, tuple[str, tuple[str, ...], tuple[tuple[Processor, bool], ...]]] = {}

    @classmethod
    def insert(cls, table: Table, columns: Sequence[str]) -> BulkStatement:
        """``INSERT INTO table (columns) VALUES (...)``, values named by column."""
        return cls(insert(table), {c: table.c[c].type for c in columns}, columns)

    def _for(self, dialect: Dialect) -> tuple[str, tuple[str, ...], tuple[tuple[Processor, bool], ...]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._stmt.compile(dialect=dialect, column_keys=self._column_keys)  # type: ignore[attr-defined]
            names = tuple(compiled.positiontup or ())
            if len(set(names)) != len(names) or set(names) != set(self._types):
                raise ValueError(f"bulk statement binds {names}, typed {sorted(self._types)}")
            procs = tuple((self._types[n].dialect_impl(dialect).bind_processor(dialect),
                           isinstance(self._types[n], _MEMOIZED)) for n in names)
            found = (compiled.string, names, procs)
            self._compiled[dialect.name] = found
        return found

    def bind(self, dialect: Dialect, rows: Sequence[Mapping[str, Any]]) -> BoundStatement | None:
        """The SQL and every row's processed parameters (a row maps bind names to values),
        ready to execute; None for no rows. Binding needs no connection: a transaction can
        bind all its statements first and then hold SQLite's write lock only while they
        execute."""
        if not rows:
            return None
        sql, names, procs = self._for(dialect)
        pairs = tuple((n, _memoized(p) if p is not None and memo else p)
                      for n, (p, memo) in zip(names, procs, strict=True))
        return BoundStatement(sql, [tuple([row[n] if p is None else p(row[n]) for n, p in pairs]) for row in rows])

    async def run(self, conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Execute for every row (a mapping from bind name to value); nothing for none."""
        bound = self.bind(conn.dialect, rows)
        if bound is not None:
            await bound.run(conn)


@dataclass(frozen=True, slots=True)
class BoundStatement:
    """A bulk statement with its rows' parameters processed: only executing is left."""

    sql: str
    params: list[tuple[Any, ...]]

    async def run(self, conn: AsyncConnection) -> None:
        await conn.exec_driver_sql(self.sql, self.params)  # type: ignore[arg-type]


async def run_all(conn: AsyncConnection, bound: Sequence[BoundStatement | None]) -> None:
    """Execute bound statements in order (None: nothing to write)."""
    for b in bound:
        if b is not None:
            await b.run(conn)
