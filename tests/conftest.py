"""Shared fixtures: every store and Redis test runs on each available backend.

Backends: SQLite and the embedded redis-server always; PostgreSQL and a real Redis when
``CONTACT_ENGINE_TEST_POSTGRES_URL`` / ``CONTACT_ENGINE_TEST_REDIS_URL`` are set (CI sets
both). When a variable is set, an unreachable server fails the tests: nothing is skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine

from contact_engine.config import Settings
from contact_engine.store.db import make_engine, upgrade
from contact_engine.store.redis import EmbeddedRedis, hiredis_packing

POSTGRES_URL = os.environ.get("CONTACT_ENGINE_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("CONTACT_ENGINE_TEST_REDIS_URL")

DB_BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
REDIS_BACKENDS = ["embedded"] + (["real"] if REDIS_URL else [])


async def _create_pg_database() -> tuple[str, str]:
    """Create a fresh database on the test server; return (async url, name)."""
    import asyncpg

    assert POSTGRES_URL
    name = f"ce_test_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _db = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}", name


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    assert POSTGRES_URL
    admin = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=DB_BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database on each backend; yields its SQLAlchemy async URL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'test.sqlite3'}"
        await upgrade(url)
        yield url
        return
    url, name = await _create_pg_database()
    try:
        await upgrade(url)
        yield url
    finally:
        await _drop_pg_database(name)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix unique to this test, so tests on a shared Redis never collide."""
    return f"cet:{uuid.uuid4().hex[:10]}:"


@pytest.fixture(params=REDIS_BACKENDS)
async def redis_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A Redis URL on each backend (embedded: a private server on a unix socket)."""
    if request.param == "real":
        assert REDIS_URL
        yield REDIS_URL
        return
    sock_dir = Path(f"/tmp/ce-{uuid.uuid4().hex[:8]}")
    server = EmbeddedRedis(sock_dir)
    await server.start()
    try:
        yield f"unix://{server.socket_path}"
    finally:
        await server.stop()
        shutil.rmtree(sock_dir, ignore_errors=True)


@pytest.fixture
async def redis(redis_url: str, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A client with decode_responses=True, packing commands as the engine's do (hiredis);
    keys under ``redis_prefix`` are removed after."""
    client = hiredis_packing(aioredis.Redis.from_url(redis_url, decode_responses=True))
    await client.ping()
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
def settings_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Build Settings for a test: own data folder, given database and Redis URLs."""

    def build(database_url: str | None = None, redis_url: str | None = None, **kw: object) -> Settings:
        return Settings(
            data_dir=tmp_path / "var",
            database_url=database_url,
            redis_url=redis_url,
            recordings_dir=tmp_path / "recordings",
            **kw,  # type: ignore[arg-type]
        )

    return build
