"""SQLite files of their own for shard processes, and their rows copied back at the end.

SQLite lets one writer at a time into a database file. Shard processes on one file (see
``contact_engine.shards``) wait for each other's write lock many times a simulated day,
and SQLite's busy handler sleeps in steps of up to 100 ms while it waits. With 2 shards on
40,000 accounts x 10 days, a file per shard ran the simulation 17% faster (22.3 and
21.4 s against 27.4 and 25.3 s, alternating runs).

So each shard after the first writes to a copy of the main database made when the
shards start (``split_off``: SQLite's backup API, so the copy is consistent: schema,
migrations, the campaign). When the shards are done, ``merge_back`` appends each copy's
new rows (those whose rowid is above the copy's at the split) to the main database, in
one transaction, parents before children. ``INTEGER PRIMARY KEY`` ids (outcomes, events,
payments, contact points, QA results) are numbered anew by the main database: no column
refers to them.

Only rows added after the split come back: a shard must not change rows that were in
the main database before it (the demo's shards import their own accounts, so they don't).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import Column, Table

from contact_engine.store.tables import metadata


def shard_path(main: Path, shard: int) -> Path:
    """The file of ``shard``'s copy of the database ``main`` (beside it)."""
    return main.with_name(f"{main.stem}.shard{shard}{main.suffix}")


def _renumbered(table: Table, column: Column) -> bool:
    """An ``INTEGER PRIMARY KEY`` id: the rowid itself, given anew by the main database
    (a table's autoincrement column; an integer in a composite key, such as a campaign
    version, is data and is copied)."""
    return column is table.autoincrement_column


def _tables() -> list[Table]:
    return list(metadata.sorted_tables)  # parents before children


def split_off(main: Path, copy: Path) -> dict[str, int]:
    """Copy the database ``main`` to ``copy`` (replaced if present); return each table's
    highest rowid in the copy (rows above it are the shard's own, see ``merge_back``)."""
    remove(copy)
    with closing(sqlite3.connect(main)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
        return {t.name: int(dst.execute(f'SELECT coalesce(max(rowid), 0) FROM "{t.name}"').fetchone()[0])
                for t in _tables()}


def merge_back(main: Path, copy: Path, base: dict[str, int]) -> int:
    """Append the rows ``copy`` gained since ``split_off`` (``base``) to ``main`` in one
    transaction; return how many. Nothing is written if anything fails."""
    with closing(sqlite3.connect(main, timeout=30, isolation_level=None)) as conn:
        # the rows were checked against their parents in the copy, which go in first
        conn.execute("PRAGMA foreign_keys=OFF")
        # no checkpoint in the commit: the log is copied back into the file later, off the
        # caller's path (open_database's WalCheckpointer, or the last connection to close).
        # On the 30-day benchmark's second shard (1.1 million rows): the commit took 1.1
        # and 1.5 s instead of 3.1 s.
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute("ATTACH DATABASE ? AS shard", (str(copy),))
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                total = 0
                for table in _tables():
                    cols = ", ".join(f'"{c.name}"' for c in table.columns if not _renumbered(table, c))
                    cur = conn.execute(f'INSERT INTO main."{table.name}" ({cols}) '  # noqa: S608 - names from the schema
                                       f'SELECT {cols} FROM shard."{table.name}" WHERE rowid > ? ORDER BY rowid',
                                       (base.get(table.name, 0),))
                    total += max(cur.rowcount, 0)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute("DETACH DATABASE shard")
    return total


def remove(copy: Path) -> None:
    """Delete a shard's copy with its write-ahead log and shared-memory files."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
