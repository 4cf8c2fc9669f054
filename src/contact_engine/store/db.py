"""The SQL engine factory and migrations.

SQLite (aiosqlite) in the data folder by default; PostgreSQL (asyncpg) when
``CONTACT_ENGINE_DATABASE_URL`` is set. One code path for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
import orjson
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contact_engine.config import Settings, redact_url
from contact_engine.errors import ServiceUnavailableError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: SQLite checkpoints its write-ahead log into the database once the log holds this many
#: pages (4 KiB each: 64 MiB). SQLite's default of 1,000 pages made nearly every batch
#: commit of a campaign run a checkpoint (copying the pages again, with two fsyncs);
#: rarer checkpoints copy a page rewritten by many commits once. Measured on the campaign
#: benchmark's path: commit time halved.
SQLITE_WAL_AUTOCHECKPOINT = 16384
#: seconds between the checkpoints of ``WalCheckpointer`` (``open_database`` runs one)
SQLITE_CHECKPOINT_INTERVAL_S = 1.0


def _json_dumps(value: Any) -> str:
    """JSON columns' serializer (orjson: several times faster than the standard library)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class OnLoopConnection(aiosqlite.Connection):
    """An aiosqlite connection whose statements run on the calling thread (the event loop's).

    aiosqlite hands every call to the connection's own thread and wakes the event loop
    when it is done. A process whose event loop does nothing else while its statements
    run (a simulation shard awaits each of its batches in turn) pays for that handoff and
    gains nothing: on the campaign benchmark's shards it cost about 7% of the simulation
    time (2 shards, 40,000 accounts x 10 days, alternating runs). Connecting and closing
    still go through the thread (SQLAlchemy also uses it to set the isolation level).

    Only for processes that run one transaction at a time: a statement that waits for
    SQLite's write lock blocks the whole event loop, so a second task of the same process
    that holds the lock could not finish until the busy timeout.
    """

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _on_loop_creator(engine: AsyncEngine, connect_args: dict[str, Any]) -> Any:
    """An ``async_creator`` opening ``OnLoopConnection``s with the arguments SQLAlchemy
    derives from ``engine``'s URL, plus ``connect_args``."""
    args, kwargs = engine.sync_engine.dialect.create_connect_args(engine.sync_engine.url)
    kwargs = {**kwargs, **connect_args}

    def create() -> OnLoopConnection:
        conn = OnLoopConnection(partial(sqlite3.connect, *args, **kwargs), 64)
        conn._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
        return conn

    return create


def make_engine(url: str, *, sqlite_on_loop: bool = False) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets WAL (checkpointed every
    ``SQLITE_WAL_AUTOCHECKPOINT`` pages), foreign keys and a busy timeout.

    ``sqlite_on_loop``: SQLite statements run on the event loop's thread
    (``OnLoopConnection``; only for processes that run one transaction at a time).
    """
    json_args: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        connect_args = {"timeout": 30}
        engine = create_async_engine(url, connect_args=connect_args, **json_args)
        if sqlite_on_loop:
            engine = create_async_engine(url, async_creator=_on_loop_creator(engine, connect_args), **json_args)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}")
            cur.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, **json_args)


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None: not SQLite, or in memory)."""
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1].split("?", 1)[0]
        if path and path != ":memory:":
            return Path(path)
    return None


def _prepare_sqlite_dir(url: str) -> None:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


class WalCheckpointer:
    """Checkpoints a SQLite database's write-ahead log from a thread of its own.

    SQLite's automatic checkpoint runs inside the commit that takes the log past
    ``SQLITE_WAL_AUTOCHECKPOINT`` pages, so whoever waits on that commit (an event loop)
    also waits for the copy into the database and its fsyncs. This thread checkpoints every
    ``interval_s`` seconds instead, on its own connection and off every event loop; the
    automatic checkpoint stays as the backstop. PASSIVE: it never waits for a reader or
    a writer, and copies what no reader still needs. Measured on the campaign path: the
    engine's commits took a third of their time before.

    The database must exist (it is opened read-write, never created); errors are logged
    and the next interval tries again.
    """

    def __init__(self, path: Path, interval_s: float = SQLITE_CHECKPOINT_INTERVAL_S) -> None:
        self.path = path
        self.interval_s = interval_s
        #: the last checkpoint's (busy, frames in the log, frames checkpointed)
        self.last: tuple[int, int, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wal-checkpoint:{path.name}", daemon=True)

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (at once: it does not finish a pending interval)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    if conn is None:
                        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=rw", uri=True,
                                               isolation_level=None)
                    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    self.last = (int(row[0]), int(row[1]), int(row[2]))
                except sqlite3.Error as exc:
                    log.warning("checkpoint of %s failed (tried again in %g s): %s", self.path.name,
                                self.interval_s, exc)
        finally:
            if conn is not None:
                conn.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (runs its own event loop: call off the loop)."""
    from alembic import command

    _prepare_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations from async code (alembic runs in a worker thread)."""
    await asyncio.to_thread(upgrade_sync, url, revision)


async def check_connection(engine: AsyncEngine, url: str) -> None:
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
    except (OperationalError, DBAPIError, OSError) as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0] if str(exc) else type(exc).__name__
        raise ServiceUnavailableError(
            f"cannot reach the database at {redact_url(url)}: {reason}"
        ) from None


@contextlib.asynccontextmanager
async def open_database(settings: Settings, *, migrate: bool = True) -> AsyncIterator[AsyncEngine]:
    """Yield a checked engine; by default migrate to the newest schema first. A SQLite
    database file gets a ``WalCheckpointer`` while the engine is open."""
    url = settings.effective_database_url
    _prepare_sqlite_dir(url)
    engine = make_engine(url, sqlite_on_loop=settings.sqlite_on_loop)
    checkpointer: WalCheckpointer | None = None
    try:
        await check_connection(engine, url)
        if migrate:
            await upgrade(url)
        path = sqlite_path(url)
        if path is not None and path.exists():
            checkpointer = WalCheckpointer(path).start()
        yield engine
    finally:
        if checkpointer is not None:
            checkpointer.stop()
        await engine.dispose()
