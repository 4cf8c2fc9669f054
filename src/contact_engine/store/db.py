"""The SQL engine factory and migrations.

SQLite (aiosqlite) in the data folder by default; PostgreSQL (asyncpg) when
``CONTACT_ENGINE_DATABASE_URL`` is set. One code path for both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from contact_engine.config import Settings, redact_url
from contact_engine.errors import ServiceUnavailableError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

#: SQLite checkpoints its write-ahead log into the database once the log holds this many
#: pages (4 KiB each: 64 MiB). SQLite's default of 1,000 pages made nearly every batch
#: commit of a campaign run a checkpoint (copying the pages again, with two fsyncs);
#: rarer checkpoints copy a page rewritten by many commits once. Measured on the campaign
#: benchmark's path: commit time halved.
SQLITE_WAL_AUTOCHECKPOINT = 16384


def _json_dumps(value: Any) -> str:
    """JSON columns' serializer (orjson: several times faster than the standard library)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def make_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``; SQLite gets WAL (checkpointed every
    ``SQLITE_WAL_AUTOCHECKPOINT`` pages), foreign keys and a busy timeout."""
    json_args: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **json_args)

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


def _prepare_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


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
    """Yield a checked engine; by default migrate to the newest schema first."""
    url = settings.effective_database_url
    _prepare_sqlite_dir(url)
    engine = make_engine(url)
    try:
        await check_connection(engine, url)
        if migrate:
            await upgrade(url)
        yield engine
    finally:
        await engine.dispose()
